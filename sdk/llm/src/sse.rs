//! A Server-Sent Events reader (the WHATWG `text/event-stream` format) fed
//! bytes in whatever chunks the network delivers; it yields whole events.

/// One event: its `event:` name (None when absent) and its data lines joined with '\n'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Reads an event stream incrementally. Bytes are buffered until a line is
/// complete and only then decoded, so a UTF-8 character split across two
/// chunks is read whole (a line ending byte never occurs inside one).
pub struct SseReader {
    max_event_bytes: usize,
    /// The bytes of the line not yet ended.
    line: Vec<u8>,
    /// The last byte seen was a '\r': a '\n' right after it (even in the
    /// next chunk) ends no second line.
    after_cr: bool,
    /// No line has been read yet: the stream may start with a BOM.
    at_start: bool,
    /// The event being built: its data lines, each followed by '\n'.
    data: String,
    /// The event being built: its name, as the last `event:` line set it.
    event: Option<String>,
    /// Once an error is returned, every later call returns it again: the
    /// stream has no point to resume from.
    failed: Option<String>,
}

impl SseReader {
    /// A reader that refuses any one event larger than `max_event_bytes`
    /// (its data, its name and the line being read), which keeps a
    /// misbehaving server from filling the guest's memory.
    pub fn new(max_event_bytes: usize) -> SseReader {
        SseReader {
            max_event_bytes,
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            data: String::new(),
            event: None,
            failed: None,
        }
    }

    /// Feed bytes; the events completed by them, in order.
    ///
    /// # Errors
    ///
    /// When one event's buffered size passes `max_event_bytes`, or a
    /// complete line is not UTF-8. The reader is then spent: later calls
    /// return the same error.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, String> {
        if let Some(why) = &self.failed {
            return Err(why.clone());
        }
        let result = self.read(bytes);
        if let Err(why) = &result {
            self.failed = Some(why.clone());
            // Nothing buffered is of use any more.
            self.line = Vec::new();
            self.data = String::new();
            self.event = None;
        }
        result
    }

    fn read(&mut self, mut bytes: &[u8]) -> Result<Vec<SseEvent>, String> {
        let mut events = Vec::new();
        if bytes.is_empty() {
            // Not even the LF of a CRLF: keep waiting for the next byte.
            return Ok(events);
        }
        if self.after_cr && bytes.first() == Some(&b'\n') {
            bytes = &bytes[1..];
        }
        self.after_cr = false;
        while let Some(end) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&bytes[..end]);
            self.check_size()?;
            let line = std::mem::take(&mut self.line);
            let line = String::from_utf8(line).map_err(|_| "a server-sent event line is not UTF-8".to_string())?;
            if let Some(event) = self.line_done(&line) {
                events.push(event);
            }
            self.check_size()?;
            let crlf = bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n');
            if bytes[end] == b'\r' && end + 1 == bytes.len() {
                // The '\n' of a CRLF may be the next chunk's first byte.
                self.after_cr = true;
            }
            bytes = &bytes[end + if crlf { 2 } else { 1 }..];
        }
        self.line.extend_from_slice(bytes);
        self.check_size()?;
        Ok(events)
    }

    /// The end of the stream. The spec discards an event whose blank line
    /// never came; we return it (`Some`, when it has data) so a caller may
    /// still use a last event a server forgot to end, e.g. `data: [DONE]`
    /// with no newline after it. A last line cut inside a UTF-8 character
    /// is decoded lossily, as the stream has ended mid-character anyway.
    /// `None` as well after [`SseReader::push`] returned an error.
    pub fn finish(mut self) -> Option<SseEvent> {
        if self.failed.is_some() {
            return None;
        }
        if !self.line.is_empty() {
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
            // A line is never an event by itself: only a blank line
            // dispatches, and an unended line is never blank.
            let _ = self.line_done(&line);
        }
        // A blank line dispatches what was gathered, if anything.
        self.line_done("")
    }

    fn check_size(&self) -> Result<(), String> {
        let size = self.line.len() + self.data.len() + self.event.as_ref().map_or(0, String::len);
        if size > self.max_event_bytes {
            return Err(format!("a server-sent event is over {} bytes", self.max_event_bytes));
        }
        Ok(())
    }

    /// Interpret one complete line; a blank one may complete an event.
    fn line_done(&mut self, mut line: &str) -> Option<SseEvent> {
        if std::mem::take(&mut self.at_start) {
            line = line.strip_prefix('\u{FEFF}').unwrap_or(line);
        }
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            // The spec treats an empty name as no name ("message").
            "event" => self.event = Some(value.to_string()).filter(|name| !name.is_empty()),
            // `id` and `retry` serve reconnection, which we never do;
            // unknown fields are ignored by the spec.
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if self.data.is_empty() {
            return None;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the '\n' after the last data line
        Some(SseEvent { event, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: Option<&str>, data: &str) -> SseEvent {
        SseEvent { event: name.map(str::to_string), data: data.to_string() }
    }

    /// Every event of `chunks`, fed in order, then the end of the stream.
    fn read_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut reader = SseReader::new(1 << 10);
        let mut events = Vec::new();
        for chunk in chunks {
            events.extend(reader.push(chunk).unwrap());
        }
        events.extend(reader.finish());
        events
    }

    const STREAM: &str = "event: message_start\r\ndata: {\"a\":1}\r\n\r\n\
        : keep-alive\n\
        data: first\rdata: second\r\r\
        id: 7\nretry: 100\nevent: named\ndata:no-space\ndata:  two spaces\n\n\
        data: h\u{e9}llo \u{1F600}\n\n\
        data\n\n\
        data: [DONE]\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            event(Some("message_start"), "{\"a\":1}"),
            event(None, "first\nsecond"),
            event(Some("named"), "no-space\n two spaces"),
            event(None, "h\u{e9}llo \u{1F600}"),
            event(None, ""),
            event(None, "[DONE]"),
        ]
    }

    #[test]
    fn a_stream_reads_the_same_at_every_split_point() {
        let bytes = STREAM.as_bytes();
        assert_eq!(read_all(&[bytes]), expected());
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(read_all(&[a, b]), expected(), "cut at {cut}");
        }
        for cut in 0..bytes.len() {
            for cut2 in cut..=bytes.len() {
                let (a, b, c) = (&bytes[..cut], &bytes[cut..cut2], &bytes[cut2..]);
                assert_eq!(read_all(&[a, b, c]), expected(), "cut at {cut} and {cut2}");
            }
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(read_all(&bytewise), expected());
    }

    #[test]
    fn every_line_ending_ends_a_line() {
        for end in ["\n", "\r\n", "\r"] {
            let stream = format!("event: e{end}data: a{end}data: b{end}{end}data: c{end}{end}");
            assert_eq!(read_all(&[stream.as_bytes()]), [event(Some("e"), "a\nb"), event(None, "c")], "{end:?}");
        }
        // A CR ending one chunk and an LF starting the next are one ending;
        // a CR then a CR are two, the second a blank line.
        assert_eq!(read_all(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]), [event(None, "a\nb")]);
        assert_eq!(read_all(&[b"data: a\r", b"\r"]), [event(None, "a")]);
        assert_eq!(read_all(&[b"data: a\r", b"", b"\n", b"\n"]), [event(None, "a")]);
        // The LF of a CRLF split after a blank line is skipped; the next LF
        // is another blank line, which dispatches nothing.
        assert_eq!(read_all(&[b"data: a\r\r", b"\n\ndata: b\n\n"]), [event(None, "a"), event(None, "b")]);
    }

    #[test]
    fn comments_and_other_fields_are_skipped() {
        let stream = b": hello\n:\nid: 1\nretry: 5\nfoo: bar\ndata: x\n: between\ndata: y\n\n";
        assert_eq!(read_all(&[stream]), [event(None, "x\ny")]);
        // A field name is exact: "data " is not data.
        assert!(read_all(&[b"data : x\n\n"]).is_empty());
    }

    #[test]
    fn a_blank_line_without_data_resets_the_event_name() {
        assert_eq!(read_all(&[b"event: lost\n\ndata: x\n\n"]), [event(None, "x")]);
        assert_eq!(read_all(&[b"event:\ndata: x\n\n"]), [event(None, "x")]);
        assert_eq!(read_all(&[b"event: a\nevent: b\ndata: x\n\n"]), [event(Some("b"), "x")]);
        assert!(read_all(&[b"\n\n\n"]).is_empty());
    }

    #[test]
    fn an_empty_data_line_still_makes_an_event() {
        assert_eq!(read_all(&[b"data:\n\n"]), [event(None, "")]);
        assert_eq!(read_all(&[b"data\ndata\n\n"]), [event(None, "\n")]);
        assert_eq!(read_all(&[b"data: a\ndata:\n\n"]), [event(None, "a\n")]);
    }

    #[test]
    fn a_leading_bom_is_skipped_once() {
        assert_eq!(read_all(&[&b"\xEF\xBB"[..], b"\xBFdata: x\n\n"]), [event(None, "x")]);
        // Later, it is part of a field name, which is then unknown.
        assert!(read_all(&[b"\n\xEF\xBB\xBFdata: x\n\n"]).is_empty());
    }

    #[test]
    fn the_end_of_the_stream_returns_an_unended_event() {
        assert_eq!(read_all(&[b"data: [DONE]"]), [event(None, "[DONE]")]);
        assert_eq!(read_all(&[b"event: e\ndata: a\n"]), [event(Some("e"), "a")]);
        assert_eq!(read_all(&[b"data: a\n\nevent: e"]), [event(None, "a")]);
        assert!(read_all(&[b": only a comment"]).is_empty());
        assert!(read_all(&[b""]).is_empty());
        // Cut inside a character: what is there, lossily.
        assert_eq!(read_all(&[b"data: caf\xC3"]), [event(None, "caf\u{FFFD}")]);
    }

    #[test]
    fn a_line_that_is_not_utf8_is_an_error() {
        let mut reader = SseReader::new(100);
        // Not yet: the line is not complete.
        assert_eq!(reader.push(b"data: \xFF"), Ok(vec![]));
        let e = reader.push(b"\n\n").unwrap_err();
        assert!(e.contains("UTF-8"), "{e}");
        // The reader is spent.
        assert_eq!(reader.push(b"data: fine\n\n").unwrap_err(), e);
        assert_eq!(reader.finish(), None);
    }

    #[test]
    fn an_event_over_the_cap_is_an_error() {
        // Exactly at the cap is fine: the 10 bytes of "data: abcd", then
        // the 5 of "abcd\n".
        let mut reader = SseReader::new(10);
        assert_eq!(reader.push(b"data: abcd\n\n"), Ok(vec![event(None, "abcd")]));
        // Events are capped one at a time, not the stream.
        for _ in 0..10 {
            assert_eq!(reader.push(b"data: abcd\n\n"), Ok(vec![event(None, "abcd")]));
        }
        // Many lines add up.
        let mut reader = SseReader::new(10);
        let e = reader.push(b"data: abc\ndata: def\n").unwrap_err();
        assert!(e.contains("over 10 bytes"), "{e}");
        // One long line, even before it ends, and even a comment.
        let mut reader = SseReader::new(10);
        assert!(reader.push(b"data: 0123").is_ok());
        assert!(reader.push(b"45").is_err());
        let mut reader = SseReader::new(10);
        assert!(reader.push(b": a very long comment").is_err());
        // The name counts too: 8 bytes of name, 8 of line, 2 of data.
        let mut reader = SseReader::new(14);
        assert!(reader.push(b"event:abcdefgh\ndata:x\ndata:yyy\n").is_err());
        let mut reader = SseReader::new(14);
        assert!(reader.push(b"data:x\ndata:yyy\n").is_ok());
    }
}

//! Redaction of a response body as it arrives, so a streamed reply (an
//! LLM's tokens) reaches the component chunk by chunk and still never
//! carries an injected secret. A window of the stream is held back — as
//! long as the longest form of a value, and the longest escaped spelling
//! a residue check must see whole — and only what precedes it is passed
//! on, redacted: the output, however the body was cut into chunks, is
//! exactly what redacting the whole body at once gives.

use super::leak::Redactor;

/// A value spelled in escapes that cannot be redacted in place arrived:
/// the stream must be cut off here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Residue(pub String);

/// One body's redaction in progress.
#[derive(Debug)]
pub struct StreamRedactor<'r> {
    redactor: &'r Redactor,
    held: Vec<u8>,
    hold: usize,
    names: Vec<String>,
}

impl<'r> StreamRedactor<'r> {
    /// A stream redacted by `redactor`.
    pub fn new(redactor: &'r Redactor) -> StreamRedactor<'r> {
        StreamRedactor { redactor, held: Vec::new(), hold: redactor.hold_back(), names: Vec::new() }
    }

    /// Take `chunk`; the redacted bytes that may be passed on now.
    ///
    /// # Errors
    ///
    /// [`Residue`] when the window spells a secret in escapes.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<u8>, Residue> {
        self.held.extend_from_slice(chunk);
        // As for a whole body: escapes are looked for once the plain
        // forms are replaced (a `%` elsewhere must not expose those).
        let (clean, _) = self.redactor.redact(&self.held);
        if let Some(name) = self.redactor.residue(&clean) {
            return Err(Residue(name.to_string()));
        }
        if self.held.len() <= self.hold {
            return Ok(Vec::new());
        }
        let safe = self.held.len() - self.hold;
        let (out, used) = self.redactor.redact_prefix(&self.held, safe, &mut self.names);
        self.held.drain(..used);
        Ok(out)
    }

    /// The end of the body: the rest, redacted, and the names of the
    /// secrets replaced anywhere in it.
    pub fn finish(mut self) -> (Vec<u8>, Vec<String>) {
        let all = self.held.len();
        let (out, _) = self.redactor.redact_prefix(&self.held, all, &mut self.names);
        (out, self.names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-live-9f8e7d6c5b4a3210";
    const TOKEN: &str = "xoxb-123-456-abcdef";

    fn redactor() -> Redactor {
        Redactor::new([("api_key", KEY.as_bytes()), ("slack", TOKEN.as_bytes())])
    }

    /// A body with the values plain, hex (both cases), base64 and
    /// percent-encoded, next to each other and at both ends.
    fn body() -> Vec<u8> {
        let hex_upper = hex::encode_upper(TOKEN);
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, KEY);
        format!(
            "{KEY} data: {{\"delta\":\"tok {TOKEN}\"}}\n\n{}|{hex_upper}|{b64}|{KEY}{KEY} tail {TOKEN}",
            hex::encode(KEY)
        )
        .into_bytes()
    }

    fn streamed(chunks: &[&[u8]]) -> (Vec<u8>, Vec<String>) {
        let r = redactor();
        let mut s = StreamRedactor::new(&r);
        let mut out = Vec::new();
        for c in chunks {
            out.extend(s.push(c).unwrap());
        }
        let (rest, mut names) = s.finish();
        out.extend(rest);
        names.sort();
        (out, names)
    }

    #[test]
    fn any_cut_into_chunks_gives_what_redacting_the_whole_body_gives() {
        let body = body();
        let (whole, mut names) = redactor().redact(&body);
        names.sort();
        assert!(!String::from_utf8_lossy(&whole).contains(KEY) && !String::from_utf8_lossy(&whole).contains(TOKEN));
        // Every single cut point, then chunks of every size up to 40.
        for at in 0..=body.len() {
            assert_eq!(streamed(&[&body[..at], &body[at..]]), (whole.clone(), names.clone()), "cut at {at}");
        }
        for size in 1..40 {
            let chunks: Vec<&[u8]> = body.chunks(size).collect();
            assert_eq!(streamed(&chunks), (whole.clone(), names.clone()), "chunks of {size}");
        }
    }

    #[test]
    fn a_plain_value_beside_an_unrelated_escape_is_redacted_not_refused() {
        let body = format!("100% sure: {KEY}\\n").into_bytes();
        let (out, names) = streamed(&body.chunks(5).collect::<Vec<_>>());
        assert_eq!(String::from_utf8(out).unwrap(), "100% sure: [REDACTED:api_key]\\n");
        assert_eq!(names, vec!["api_key".to_string()]);
    }

    #[test]
    fn text_passes_on_as_it_arrives_once_past_the_held_window() {
        let r = redactor();
        let mut s = StreamRedactor::new(&r);
        let hold = r.hold_back();
        assert!(s.push(&vec![b'a'; hold]).unwrap().is_empty(), "all of it is within the window");
        assert_eq!(s.push(b"bcd").unwrap(), b"aaa", "three more in, three out");
        let (rest, names) = s.finish();
        assert_eq!(rest.len(), hold);
        assert!(names.is_empty());
    }

    #[test]
    fn a_value_spelled_in_escapes_cuts_the_stream_off_wherever_the_chunks_fall() {
        let escaped: String = KEY.bytes().map(|b| format!("\\u{b:04x}")).collect();
        let body = format!("data: {{\"t\":\"{escaped}\"}}\n\n").into_bytes();
        for size in [1, 7, 64, body.len()] {
            let r = redactor();
            let mut s = StreamRedactor::new(&r);
            let mut passed = Vec::new();
            let mut cut = None;
            for c in body.chunks(size) {
                match s.push(c) {
                    Ok(out) => passed.extend(out),
                    Err(e) => {
                        cut = Some(e);
                        break;
                    }
                }
            }
            assert_eq!(cut, Some(Residue("api_key".into())), "chunks of {size}");
            // Nothing of the escaped value went out before the cut.
            assert!(!String::from_utf8_lossy(&passed).contains("\\u0073\\u006b"), "chunks of {size}");
        }
    }
}

//! Redaction of a response body as it arrives, so a streamed reply (an
//! LLM's tokens) reaches the component chunk by chunk and still never
//! carries an injected secret. Only the tail that could still begin a
//! secret (`hold.rs`) waits for the next chunk; what precedes it is passed
//! on, redacted: the output, however the body was cut into chunks, is
//! exactly what redacting the whole body at once gives.

use super::hold::Starts;
use super::leak::Redactor;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::OwnedSemaphorePermit;
use wasmtime_wasi_http::Error;

/// A value spelled in escapes that cannot be redacted in place arrived:
/// the stream must be cut off here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Residue(pub String);

/// One body's redaction in progress.
#[derive(Debug)]
pub struct StreamRedactor {
    redactor: Redactor,
    held: Vec<u8>,
    starts: Starts,
    names: Vec<String>,
}

impl StreamRedactor {
    /// A stream redacted by `redactor`.
    pub fn new(redactor: Redactor) -> StreamRedactor {
        let starts = Starts::new(&redactor);
        StreamRedactor { redactor, held: Vec::new(), starts, names: Vec::new() }
    }

    /// The names of the secrets replaced so far.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Redact a header value (a trailer's) whole.
    fn redact_value(&mut self, value: &[u8]) -> Vec<u8> {
        let (clean, names) = self.redactor.redact(value);
        self.names.extend(names);
        clean
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
        let safe = self.starts.safe_len(&self.held);
        if safe == 0 {
            return Ok(Vec::new());
        }
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

/// How a redacted body ended, for the audit record of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    /// Bytes read from the server.
    pub bytes: u64,
    /// Secrets replaced, sorted, once each.
    pub redacted: Vec<String>,
    /// Why it was cut off (none: read to its end).
    pub cut: Option<String>,
}

/// Called once, when the body ends, however it ends.
pub type OnEnd = Box<dyn FnOnce(End) + Send>;

/// A response body redacted as it arrives, capped at `limit` bytes,
/// holding the component's concurrency permit until it ends.
pub struct Redacting<B> {
    inner: B,
    redactor: Option<StreamRedactor>,
    read: u64,
    limit: u64,
    on_end: Option<OnEnd>,
    permit: Option<OwnedSemaphorePermit>,
}

impl<B> Redacting<B> {
    /// `inner` redacted by `redactor`; `on_end` hears how it ended.
    pub fn new(inner: B, redactor: Redactor, limit: usize, permit: OwnedSemaphorePermit, on_end: OnEnd) -> Self {
        Redacting {
            inner,
            redactor: Some(StreamRedactor::new(redactor)),
            read: 0,
            limit: limit as u64,
            on_end: Some(on_end),
            permit: Some(permit),
        }
    }

    fn end(&mut self, names: Vec<String>, cut: Option<String>) {
        self.permit = None;
        let mut redacted = names;
        redacted.sort();
        redacted.dedup();
        if let Some(f) = self.on_end.take() {
            f(End { bytes: self.read, redacted, cut });
        }
    }

    /// Stop here: the component gets `error` instead of the rest.
    fn cut(&mut self, why: String, error: Error) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let names = self.redactor.take().map(|r| r.names).unwrap_or_default();
        self.end(names, Some(why));
        Poll::Ready(Some(Err(error)))
    }
}

impl<B> Drop for Redacting<B> {
    fn drop(&mut self) {
        if self.on_end.is_some() {
            let names = self.redactor.take().map(|r| r.names).unwrap_or_default();
            self.end(names, Some("the component stopped reading the reply".into()));
        }
    }
}

impl<B> Body for Redacting<B>
where
    B: Body<Data = Bytes, Error = Error> + Unpin,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let me = self.get_mut();
        loop {
            if me.redactor.is_none() {
                return Poll::Ready(None);
            }
            let frame = match Pin::new(&mut me.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => frame,
                Poll::Ready(Some(Err(e))) => return me.cut(format!("the reply broke off: {e}"), e),
                Poll::Ready(None) => {
                    let Some(r) = me.redactor.take() else { return Poll::Ready(None) };
                    let (rest, names) = r.finish();
                    me.end(names, None);
                    return Poll::Ready((!rest.is_empty()).then(|| Ok(Frame::data(Bytes::from(rest)))));
                }
            };
            let Some(r) = me.redactor.as_mut() else { return Poll::Ready(None) };
            let frame = match frame.into_data() {
                Ok(data) => {
                    me.read += data.len() as u64;
                    if me.read > me.limit {
                        let why = format!("the reply is over {} bytes", me.limit);
                        return me.cut(why, Error::HttpResponseBodySize(None));
                    }
                    match r.push(&data) {
                        Ok(out) if out.is_empty() => continue,
                        Ok(out) => Frame::data(Bytes::from(out)),
                        Err(Residue(name)) => {
                            let why = format!(
                                "the reply spells secret `{name}` in escapes that cannot be redacted in place: cut off there"
                            );
                            return me.cut(why, Error::HttpResponseContentCoding(None));
                        }
                    }
                }
                Err(frame) => match frame.into_trailers() {
                    Ok(mut trailers) => {
                        for value in trailers.values_mut() {
                            let clean = r.redact_value(value.as_bytes());
                            if clean != value.as_bytes() {
                                *value = http::HeaderValue::from_bytes(&clean)
                                    .unwrap_or_else(|_| http::HeaderValue::from_static("[REDACTED]"));
                            }
                        }
                        Frame::trailers(trailers)
                    }
                    Err(_) => continue,
                },
            };
            return Poll::Ready(Some(Ok(frame)));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.redactor.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        // Redaction changes the length.
        SizeHint::default()
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
        let mut s = StreamRedactor::new(redactor());
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
    fn text_passes_on_as_it_arrives_and_only_a_possible_beginning_waits() {
        let mut s = StreamRedactor::new(redactor());
        let token = b"data: {\"delta\":\"Hello\"}\n\n";
        assert_eq!(s.push(token).unwrap(), token, "a token that cannot begin a secret goes out at once");
        assert_eq!(s.push(b"data: tok sk-li").unwrap(), b"data: tok ", "the beginning of the key waits");
        assert_eq!(s.push(b"ve-9f8e7d6c5b4a3210 ok").unwrap(), b"[REDACTED:api_key] ok");
        let (rest, names) = s.finish();
        assert!(rest.is_empty());
        assert_eq!(names, vec!["api_key".to_string()]);
    }

    #[test]
    fn a_value_spelled_in_escapes_cuts_the_stream_off_wherever_the_chunks_fall() {
        let escaped: String = KEY.bytes().map(|b| format!("\\u{b:04x}")).collect();
        // And mixed: plain bytes, then percent escapes, then plain again.
        let mixed = format!("sk%2Dlive%2D{}", &KEY[8..]);
        for (body, spelled) in [
            (format!("data: {{\"t\":\"{escaped}\"}}\n\n").into_bytes(), "\\u0073\\u006b"),
            (format!("q={mixed}&x=1").into_bytes(), "sk%2Dlive"),
        ] {
            for size in 1..=body.len() {
                let mut s = StreamRedactor::new(redactor());
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
                assert!(!String::from_utf8_lossy(&passed).contains(spelled), "chunks of {size}");
            }
        }
    }
}

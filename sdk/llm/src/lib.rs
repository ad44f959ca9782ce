//! What the provider adapters do the same way, whatever the wire format:
//! the `llm-adapter` world's bindings (an adapter implements
//! [`bindings::exports::claw::runtime::adapter::Guest`] and exports it with
//! `llm_common::bindings::export!`), sending one attempt, saying what its
//! failure means to the router, reading a tool's schema.

#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    // log and wasi:http are claw-client's: one copy of each in the component.
    wit_bindgen::generate!({
        path: "../../wit",
        world: "claw:runtime/llm-adapter",
        pub_export_macro: true,
        default_bindings_module: "llm_common::bindings",
        with: {
            "claw:runtime/log@0.1.0": claw_client::bindings::claw::runtime::log,
            "wasi:http/types@0.2.12": claw_client::bindings::wasi::http::types,
            "wasi:http/outgoing-handler@0.2.12": claw_client::bindings::wasi::http::outgoing_handler,
            "wasi:io/error@0.2.12": claw_client::bindings::wasi::io::error,
            "wasi:io/poll@0.2.12": claw_client::bindings::wasi::io::poll,
            "wasi:io/streams@0.2.12": claw_client::bindings::wasi::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": claw_client::bindings::wasi::clocks::monotonic_clock,
        },
        generate_all,
    });
}

pub mod sse;

use crate::bindings::claw::runtime::llm_types::{ChatRequest, Failure, Provider, ProviderError};
use crate::sse::{SseEvent, SseReader};
use claw_client::http::{self, FailureKind, Request, Response};
use serde_json::Value;
use std::fmt::Display;

/// The largest reply read: no chat reply is near it, and a guest's memory
/// is small.
pub const MAX_REPLY_BYTES: usize = 8 << 20;

/// How much of the provider's own error message goes into ours.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// The model to ask for: the request's override, else the provider's.
pub fn model<'a>(provider: &'a Provider, request: &'a ChatRequest) -> &'a str {
    request.model.as_deref().unwrap_or(&provider.model)
}

/// POST a JSON `body` to `url` with extra `headers`, and return the body of
/// a 2xx reply. Never an auth header: the host's boundary injects the
/// provider's key, which the adapter never sees.
pub fn post(provider: &Provider, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Result<Vec<u8>, ProviderError> {
    let mut req = Request::post_json(url, body).with_max_response_bytes(MAX_REPLY_BYTES);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    // 0 means "not set": the host's own limit applies.
    if provider.timeout_ms > 0 {
        req.timeout_ms = Some(u64::from(provider.timeout_ms));
    }
    let resp = http::send(&req).map_err(|f| from_transport(&provider.name, &f))?;
    if !(200..300).contains(&resp.status) {
        return Err(from_status(&provider.name, &resp));
    }
    if resp.truncated {
        return Err(invalid_reply(&provider.name, format_args!("the reply is over {} MiB", MAX_REPLY_BYTES >> 20)));
    }
    Ok(resp.body)
}

/// POST a JSON `body` that asks for a streamed reply. Each server-sent
/// event goes to `on_event`, whose text is passed on to the host's reply
/// stream at once. `Ok(None)` when the reply came as a stream (the caller's
/// parser has it all), `Ok(Some(body))` when the provider answered whole
/// anyway. An error after text was passed on says so (`streamed`), and the
/// router then makes no other attempt.
///
/// # Errors
///
/// As [`post`], and whatever `on_event` returns.
pub fn post_stream(
    provider: &Provider,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    shown: &mut Shown,
    mut on_event: impl FnMut(&SseEvent) -> Result<String, ProviderError>,
) -> Result<Option<Vec<u8>>, ProviderError> {
    let mut req = Request::post_json(url, body).header("accept", "text/event-stream");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if provider.timeout_ms > 0 {
        req.timeout_ms = Some(u64::from(provider.timeout_ms));
    }
    let name = provider.name.as_str();
    let mut resp = http::open(&req).map_err(|f| from_transport(name, &f))?;
    let is_stream = resp.header("content-type").is_some_and(|t| t.trim_start().starts_with("text/event-stream"));
    if !(200..300).contains(&resp.status) || !is_stream {
        let (status, headers) = (resp.status, resp.headers.clone());
        let (body, truncated) = resp.read_to_end(MAX_REPLY_BYTES).map_err(|f| from_transport(name, &f))?;
        let whole = Response { status, headers, body, truncated };
        if !(200..300).contains(&status) {
            return Err(from_status(name, &whole));
        }
        if truncated {
            return Err(invalid_reply(name, format_args!("the reply is over {} MiB", MAX_REPLY_BYTES >> 20)));
        }
        return Ok(Some(whole.body));
    }
    let mut reader = SseReader::new(MAX_EVENT_BYTES);
    let mut read = 0usize;
    let mut handle = |event: &SseEvent, shown: &mut Shown| -> Result<(), ProviderError> {
        let text = on_event(event).map_err(|e| shown.mark(e))?;
        shown.text(&text);
        Ok(())
    };
    loop {
        let chunk = match resp.next_chunk() {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(f) => return Err(shown.mark(from_transport(name, &f))),
        };
        read += chunk.len();
        if read > MAX_REPLY_BYTES {
            let why = format_args!("the reply stream is over {} MiB", MAX_REPLY_BYTES >> 20);
            return Err(shown.mark(invalid_reply(name, why)));
        }
        let events = reader.push(&chunk).map_err(|why| shown.mark(invalid_reply(name, why)))?;
        for event in &events {
            handle(event, shown)?;
        }
    }
    if let Some(event) = reader.finish() {
        handle(&event, shown)?;
    }
    Ok(None)
}

/// The largest single server-sent event read.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// What of the reply already went to the person through the host's reply
/// stream: once anything has, a failure must say so.
#[derive(Debug, Default)]
pub struct Shown {
    any: bool,
}

impl Shown {
    /// Pass `delta` on (nothing for an empty one).
    pub fn text(&mut self, delta: &str) {
        if !delta.is_empty() {
            crate::bindings::claw::runtime::reply_stream::text(delta);
            self.any = true;
        }
    }

    /// `error`, marked `streamed` when text already went out.
    pub fn mark(&self, mut error: ProviderError) -> ProviderError {
        error.streamed |= self.any;
        error
    }
}

/// A request that got no response.
pub fn from_transport(provider: &str, f: &http::Failure) -> ProviderError {
    let failure = match f.kind {
        FailureKind::Timeout => Failure::Timeout,
        FailureKind::Denied => Failure::Denied,
        FailureKind::Network => Failure::Network,
        // A malformed base URL, or a request over the grant's size limit:
        // retrying will not help.
        FailureKind::Invalid | FailureKind::TooLarge => Failure::Rejected,
    };
    ProviderError { failure, message: format!("{provider}: {}", f.message), retry_after_ms: None, streamed: false }
}

/// A response whose status is not 2xx. The message quotes the provider's
/// own error message (clipped), never the request.
pub fn from_status(provider: &str, resp: &Response) -> ProviderError {
    let status = resp.status;
    let failure = match status {
        429 => Failure::RateLimited,
        408 => Failure::Timeout,
        // Anthropic's 529 (overloaded) included.
        500..=599 => Failure::Server,
        // Other 4xx, and anything else: the host follows no redirect, so a
        // 3xx is a wrong base URL, which retrying will not fix.
        _ => Failure::Rejected,
    };
    let mut message = format!("{provider}: HTTP {status}");
    if (300..400).contains(&status) {
        message.push_str(" (redirects are not followed: check the base URL)");
    }
    if let Some(said) = provider_message(&resp.body) {
        message.push_str(": ");
        message.push_str(&said);
    }
    ProviderError { failure, message, retry_after_ms: retry_after_ms(resp), streamed: false }
}

/// A 2xx reply that is not what the wire format promises.
pub fn invalid_reply(provider: &str, why: impl Display) -> ProviderError {
    ProviderError {
        failure: Failure::InvalidReply,
        message: format!("{provider}: invalid reply: {why}"),
        retry_after_ms: None,
        streamed: false,
    }
}

/// How long the provider asked us to wait: `retry-after-ms` (OpenAI's,
/// more precise) or `retry-after` in seconds. The HTTP-date form of
/// Retry-After is not read; the router then backs off on its own.
pub fn retry_after_ms(resp: &Response) -> Option<u32> {
    let number = |v: &str| v.trim().parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0);
    // `as` saturates: a huge value becomes u32::MAX, which the router
    // treats as "too long to wait".
    if let Some(ms) = resp.header("retry-after-ms").and_then(number) {
        return Some(ms.ceil() as u32);
    }
    resp.header("retry-after").and_then(number).map(|s| (s * 1000.0).ceil() as u32)
}

/// The provider's own explanation in an error body: `error.message`
/// (OpenAI, Anthropic), or `error` or `message` as a string (Ollama, vLLM).
fn provider_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let text = v
        .pointer("/error/message")
        .and_then(Value::as_str)
        .or_else(|| v.get("error").and_then(Value::as_str))
        .or_else(|| v.get("message").and_then(Value::as_str))?;
    Some(clip(text))
}

/// `text` on one line, at most [`MAX_MESSAGE_CHARS`] characters.
pub fn clip(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX_MESSAGE_CHARS {
        return flat;
    }
    let mut cut: String = flat.chars().take(MAX_MESSAGE_CHARS).collect();
    cut.push('…');
    cut
}

/// A tool's JSON Schema as a JSON value. A schema that does not parse (a
/// bug in the tool) becomes "any object", so the tool stays callable and
/// the request is not refused as a whole.
pub fn schema(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::json!({"type": "object"}))
}

/// A token count as the WIT wants it.
pub fn tokens(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn a_429_is_rate_limited_with_its_retry_after() {
        let e = from_status("p", &response(429, &[("Retry-After", "2")], r#"{"error":{"message":"slow down"}}"#));
        assert_eq!(e.failure, Failure::RateLimited);
        assert_eq!(e.retry_after_ms, Some(2000));
        assert_eq!(e.message, "p: HTTP 429: slow down");
        let e = from_status("p", &response(429, &[("retry-after-ms", "1500.2"), ("retry-after", "9")], "{}"));
        assert_eq!(e.retry_after_ms, Some(1501));
        let e = from_status("p", &response(429, &[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")], ""));
        assert_eq!(e.retry_after_ms, None);
    }

    #[test]
    fn statuses_map_to_failures() {
        let kind = |status| from_status("p", &response(status, &[], "")).failure;
        assert_eq!(kind(500), Failure::Server);
        assert_eq!(kind(503), Failure::Server);
        assert_eq!(kind(529), Failure::Server);
        assert_eq!(kind(408), Failure::Timeout);
        assert_eq!(kind(401), Failure::Rejected);
        assert_eq!(kind(404), Failure::Rejected);
        assert_eq!(kind(301), Failure::Rejected);
    }

    #[test]
    fn a_500_quotes_the_providers_message_clipped() {
        let long = "x".repeat(1000);
        let e = from_status("p", &response(500, &[], &format!(r#"{{"error":{{"message":"{long}"}}}}"#)));
        assert_eq!(e.failure, Failure::Server);
        assert!(e.message.starts_with("p: HTTP 500: xxx"));
        assert_eq!(e.message.chars().count(), "p: HTTP 500: ".len() + MAX_MESSAGE_CHARS + 1);
        // Not JSON: the status alone, nothing of the body.
        let e = from_status("p", &response(502, &[], "<html>bad gateway</html>"));
        assert_eq!(e.message, "p: HTTP 502");
        let e = from_status("p", &response(404, &[], r#"{"error":"model 'x' not found"}"#));
        assert_eq!(e.message, "p: HTTP 404: model 'x' not found");
    }

    #[test]
    fn transport_failures_map_to_failures() {
        let f = |kind| from_transport("p", &http::Failure::new(kind, "m")).failure;
        assert_eq!(f(FailureKind::Timeout), Failure::Timeout);
        assert_eq!(f(FailureKind::Denied), Failure::Denied);
        assert_eq!(f(FailureKind::Network), Failure::Network);
        assert_eq!(f(FailureKind::Invalid), Failure::Rejected);
    }
}

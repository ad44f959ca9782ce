//! Streamable HTTP to an MCP server, through the boundary: rmcp speaks the
//! protocol and this client carries each of its requests out the one door,
//! under the server's grant (allowlist, credentials injected from the
//! vault, the leak scan, the audit log). It never adds a credential of
//! its own: rmcp's `auth_header` is ignored, the grant's secret is what
//! the server receives.

use crate::boundary::{Boundary, Denials, Policy};
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt as _};
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt as _, Full};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::common::http_header::{EVENT_STREAM_MIME_TYPE, HEADER_SESSION_ID, JSON_MIME_TYPE};
use rmcp::transport::streamable_http_client::{
    AuthRequiredError, InsufficientScopeError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::{Sse, SseStream};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// Why a request did not reach the server, or its answer could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct EgressError(pub String);

/// How a refusal by the boundary begins.
pub const REFUSED: &str = "the boundary refused: ";

type Error = StreamableHttpError<EgressError>;
type Body = BoxStream<'static, Result<Bytes, EgressError>>;

/// Headers rmcp may not set: the boundary owns credentials, and the
/// framing headers are this client's.
const RESERVED: [&str; 6] = ["authorization", "accept", "content-type", "content-length", "host", "mcp-session-id"];

/// The way out to one MCP server.
#[derive(Clone)]
pub struct Egress {
    boundary: Arc<Boundary>,
    policy: Arc<Policy>,
    /// The last `WWW-Authenticate` challenge the server answered with.
    challenged: Arc<std::sync::Mutex<Option<String>>>,
}

impl Egress {
    /// Requests under `policy`, through `boundary`.
    pub fn new(boundary: Arc<Boundary>, policy: Arc<Policy>) -> Egress {
        Egress { boundary, policy, challenged: Arc::default() }
    }

    /// The last authorization challenge the server answered with, if any.
    pub fn challenge(&self) -> Option<String> {
        self.challenged.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// A 401 or 403 with a challenge, kept for the error claw shows.
    fn challenged(&self, status: StatusCode, headers: &HeaderMap) -> Option<Error> {
        let e = challenge(status, headers)?;
        let header = headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        *self.challenged.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(format!("{status}: {header}"));
        Some(e)
    }

    /// Send one request; a denial names the boundary's reasons.
    async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        custom: HashMap<HeaderName, HeaderValue>,
        body: Bytes,
    ) -> Result<(StatusCode, HeaderMap, Body), Error> {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        for (name, value) in custom {
            if RESERVED.contains(&name.as_str()) {
                return Err(StreamableHttpError::ReservedHeaderConflict(name.to_string()));
            }
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(body).map_err(|never| match never {}).boxed_unsync())
            .map_err(|e| StreamableHttpError::Client(EgressError(format!("the request cannot be built: {e}"))))?;
        let denials = Arc::new(Denials::default());
        let sent = Box::into_pin(self.boundary.send(&self.policy, request, None, &denials)).await;
        match sent {
            Ok((response, _io)) => {
                let (parts, body) = response.into_parts();
                let body: Body = body.into_data_stream().map(|r| r.map_err(|e| EgressError(e.to_string()))).boxed();
                Ok((parts.status, parts.headers, body))
            }
            Err(e) => {
                let reasons = denials.reasons();
                Err(StreamableHttpError::Client(EgressError(if reasons.is_empty() {
                    e.to_string()
                } else {
                    format!("{REFUSED}{}", reasons.join("; "))
                })))
            }
        }
    }
}

fn accept_both() -> (HeaderName, HeaderValue) {
    (ACCEPT, HeaderValue::from_static("text/event-stream, application/json"))
}

fn session_header(id: &str) -> Result<(HeaderName, HeaderValue), Error> {
    let value = HeaderValue::from_str(id).map_err(|_| {
        StreamableHttpError::UnexpectedServerResponse(Cow::from("the server's session id is not a header value"))
    })?;
    Ok((HeaderName::from_static("mcp-session-id"), value))
}

/// Whether the media type of `headers` is `expected` (parameters ignored).
fn media_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(expected))
}

/// A 401 or 403 with a challenge, as rmcp's auth handling expects it.
fn challenge(status: StatusCode, headers: &HeaderMap) -> Option<Error> {
    let header = headers.get(WWW_AUTHENTICATE)?.to_str().ok()?.to_string();
    match status {
        StatusCode::UNAUTHORIZED => Some(StreamableHttpError::AuthRequired(AuthRequiredError::new(header))),
        StatusCode::FORBIDDEN => {
            let scope = scope_of(&header);
            Some(StreamableHttpError::InsufficientScope(InsufficientScopeError::new(header, scope)))
        }
        _ => None,
    }
}

/// The `scope="..."` parameter of a `WWW-Authenticate` challenge.
fn scope_of(header: &str) -> Option<String> {
    let at = header.find("scope=")?;
    let rest = &header[at + "scope=".len()..];
    let value = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?,
        None => rest.split([',', ' ']).next()?,
    };
    (!value.is_empty()).then(|| value.to_string())
}

/// Read at most `max` bytes of `body`; more is an error when `strict`,
/// cut off otherwise (a diagnostic body).
async fn read(mut body: Body, max: usize, strict: bool) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(StreamableHttpError::Client)?;
        if out.len() + chunk.len() > max {
            if strict {
                return Err(StreamableHttpError::ResponseBodyTooLarge { max_size: max });
            }
            out.extend_from_slice(&chunk[..max - out.len()]);
            break;
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// `body` as server-sent events, no event larger than `max` bytes: the
/// bound is kept on the raw bytes, so an event that never ends cannot
/// fill memory before the parser sees it.
fn events(body: Body, max: usize) -> BoxStream<'static, Result<Sse, sse_stream::Error>> {
    let mut size = EventSize::default();
    let bounded = body.map(move |chunk| {
        let chunk = chunk?;
        if size.feed(&chunk) > max {
            return Err(EgressError(format!("the server sent an event over {max} bytes")));
        }
        Ok(chunk)
    });
    SseStream::from_bytes_stream(bounded).boxed()
}

/// The size of the event being received: bytes since the last blank line.
#[derive(Debug, Default)]
struct EventSize {
    since_event: usize,
    line_has_text: bool,
    after_cr: bool,
}

impl EventSize {
    /// Count `bytes`; the largest size the event reached while they came.
    fn feed(&mut self, bytes: &[u8]) -> usize {
        let mut largest = self.since_event;
        for &b in bytes {
            // The `\n` of a `\r\n` ends no second line.
            if b == b'\n' && self.after_cr {
                self.after_cr = false;
                continue;
            }
            self.since_event += 1;
            largest = largest.max(self.since_event);
            match b {
                b'\r' | b'\n' => {
                    if !self.line_has_text {
                        self.since_event = 0;
                    }
                    self.line_has_text = false;
                    self.after_cr = b == b'\r';
                }
                _ => {
                    self.line_has_text = true;
                    self.after_cr = false;
                }
            }
        }
        largest
    }
}

impl StreamableHttpClient for Egress {
    type Error = EgressError;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, Error> {
        let limits = StreamableHttpResponseLimits::default();
        self.post_message_with_response_limits(uri, message, session_id, auth_header, custom_headers, limits).await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, Error> {
        let mut limits = StreamableHttpResponseLimits::default();
        limits.max_sse_event_size = max_sse_event_size;
        self.post_message_with_response_limits(uri, message, session_id, auth_header, custom_headers, limits).await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, Error> {
        let body = serde_json::to_vec(&message).map_err(StreamableHttpError::Deserialize)?;
        let mut headers = vec![accept_both(), (CONTENT_TYPE, HeaderValue::from_static(JSON_MIME_TYPE))];
        if let Some(id) = &session_id {
            headers.push(session_header(id)?);
        }
        let (status, head, body) = self.send(Method::POST, &uri, headers, custom_headers, body.into()).await?;
        if let Some(e) = self.challenged(status, &head) {
            return Err(e);
        }
        if matches!(status, StatusCode::ACCEPTED | StatusCode::NO_CONTENT) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == StatusCode::NOT_FOUND && session_id.is_some() {
            return Err(StreamableHttpError::SessionExpired);
        }
        let new_session = head.get(HEADER_SESSION_ID).and_then(|v| v.to_str().ok()).map(str::to_string);
        let is_json = media_type_is(&head, JSON_MIME_TYPE);
        if !status.is_success() {
            // A JSON-RPC error in the body is the answer; anything else is reported, cut short.
            if is_json && !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                let text = read(body, limits.max_json_response_size, true).await?;
                if let Ok(e @ ServerJsonRpcMessage::Error(_)) = serde_json::from_slice::<ServerJsonRpcMessage>(&text) {
                    return Ok(StreamableHttpPostResponse::Json(e, new_session));
                }
                let cut = &text[..text.len().min(limits.max_error_response_size)];
                return Err(unexpected(status, cut));
            }
            let text = read(body, limits.max_error_response_size, false).await.unwrap_or_default();
            return Err(unexpected(status, &text));
        }
        let answers_nothing = !matches!(message, ClientJsonRpcMessage::Request(_));
        let empty = head.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()) == Some("0");
        if answers_nothing && empty {
            // Some servers answer a notification with an empty 200 instead of 202.
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if media_type_is(&head, EVENT_STREAM_MIME_TYPE) {
            return Ok(StreamableHttpPostResponse::Sse(events(body, limits.max_sse_event_size), new_session));
        }
        if is_json {
            let text = read(body, limits.max_json_response_size, true).await?;
            return match serde_json::from_slice::<ServerJsonRpcMessage>(&text) {
                Ok(answer) => Ok(StreamableHttpPostResponse::Json(answer, new_session)),
                Err(_) if answers_nothing => Ok(StreamableHttpPostResponse::Accepted),
                Err(e) => Err(StreamableHttpError::UnexpectedServerResponse(Cow::Owned(format!(
                    "the answer is not JSON-RPC ({e}): {}",
                    preview(&text)
                )))),
            };
        }
        if answers_nothing {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        Err(StreamableHttpError::UnexpectedContentType(
            head.get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        ))
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), Error> {
        let headers = vec![session_header(&session_id)?];
        let (status, _, _) = self.send(Method::DELETE, &uri, headers, custom_headers, Bytes::new()).await?;
        // A server that keeps no sessions to end says 405: nothing to do.
        if status.is_success() || status == StatusCode::METHOD_NOT_ALLOWED {
            Ok(())
        } else {
            Err(StreamableHttpError::UnexpectedServerResponse(Cow::Owned(format!("ending the session: HTTP {status}"))))
        }
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, sse_stream::Error>>, Error> {
        let max = StreamableHttpResponseLimits::default().max_sse_event_size;
        self.get_stream_with_max_sse_event_size(uri, session_id, last_event_id, auth_header, custom_headers, max).await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, sse_stream::Error>>, Error> {
        let mut headers = vec![accept_both()];
        if let Some(id) = &session_id {
            headers.push(session_header(id)?);
        }
        if let Some(last) = last_event_id {
            let value = HeaderValue::from_str(&last).map_err(|_| {
                StreamableHttpError::UnexpectedServerResponse(Cow::from("an event id is not a header value"))
            })?;
            headers.push((HeaderName::from_static("last-event-id"), value));
        }
        let (status, head, body) = self.send(Method::GET, &uri, headers, custom_headers, Bytes::new()).await?;
        if status == StatusCode::METHOD_NOT_ALLOWED {
            return Err(StreamableHttpError::ServerDoesNotSupportSse);
        }
        if let Some(e) = self.challenged(status, &head) {
            return Err(e);
        }
        if !status.is_success() {
            let text = read(body, 4096, false).await.unwrap_or_default();
            return Err(unexpected(status, &text));
        }
        if !media_type_is(&head, EVENT_STREAM_MIME_TYPE) && !media_type_is(&head, JSON_MIME_TYPE) {
            return Err(StreamableHttpError::UnexpectedContentType(
                head.get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            ));
        }
        Ok(events(body, max_sse_event_size))
    }
}

fn unexpected(status: StatusCode, body: &[u8]) -> Error {
    StreamableHttpError::UnexpectedServerResponse(Cow::Owned(format!("HTTP {status}: {}", preview(body))))
}

/// The start of a body, for an error message.
fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(256)]);
    if text.trim().is_empty() { "(empty body)".into() } else { text.trim().to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_ends_at_a_blank_line_in_any_line_ending() {
        for (stream, sizes) in [
            ("data: a\n\ndata: b\n\n", [9, 9]),
            ("data: a\r\n\r\ndata: b\r\n\r\n", [9, 9]),
            ("data: a\r\rdata: b\r\r", [9, 9]),
        ] {
            let mut size = EventSize::default();
            let half = stream.len() / 2;
            assert_eq!(size.feed(&stream.as_bytes()[..half]), sizes[0], "{stream:?}");
            assert_eq!(size.feed(&stream.as_bytes()[half..]), sizes[1], "{stream:?}");
        }
        // Without a blank line the event only grows, however it is cut.
        let mut size = EventSize::default();
        for _ in 0..100 {
            size.feed(b"data: x\n");
        }
        assert_eq!(size.feed(b""), 800);
    }

    #[test]
    fn a_challenges_scope_is_read_quoted_or_bare() {
        assert_eq!(
            scope_of(r#"Bearer error="insufficient_scope", scope="files:read files:write""#).as_deref(),
            Some("files:read files:write")
        );
        assert_eq!(scope_of("Bearer scope=admin, realm=x").as_deref(), Some("admin"));
        assert_eq!(scope_of("Bearer realm=x"), None);
    }
}

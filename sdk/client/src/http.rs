//! A small HTTP client over `wasi:http`.
//!
//! Every request leaves through the host's egress boundary, which checks
//! it against the component's grant (and, for granted hosts, injects the
//! credentials the component never sees).
//!
//! [`send`] answers `Ok` for any response the server sent, whatever its
//! status: the status is the caller's to judge. When no response came, it
//! says why with a [`Failure`], whose [`FailureKind`] tells a refusal of the
//! boundary ([`FailureKind::Denied`]) from a timeout
//! ([`FailureKind::Timeout`], also [`Failure::is_timeout`]) from a broken
//! connection ([`FailureKind::Network`]), for callers that react to each
//! differently (an LLM adapter retries a timeout, never a denial). In a tool,
//! `?` turns a [`Failure`] into an [`Error`]: a request outside the grant
//! becomes [`ErrorKind::Denied`].

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme, http_error_code,
};
use crate::bindings::wasi::io::streams::{InputStream, StreamError};
use crate::{Error, ErrorKind};
use std::fmt;

/// How much of a response body a request reads unless told otherwise.
const DEFAULT_MAX_RESPONSE_BYTES: usize = 1 << 20;

/// An HTTP request to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// An absolute `http://` or `https://` URL.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body (empty for none).
    pub body: Vec<u8>,
    /// Stop reading the response body after this many bytes.
    pub max_response_bytes: usize,
    /// Give up when connecting, or waiting for the response's status and
    /// headers, takes longer than this many milliseconds: sets both the
    /// `connect-timeout` and the `first-byte-timeout` of the `wasi:http`
    /// request options. Reading the body is not limited by it. `None` leaves
    /// both to the host (whose limit is the grant's time limit). A request
    /// that runs out of time fails with [`FailureKind::Timeout`].
    pub timeout_ms: Option<u64>,
}

impl Request {
    /// A request with `method` to `url`: no headers, no body, no timeout
    /// of its own, and at most 1 MiB of the response body read.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            timeout_ms: None,
        }
    }

    /// A `GET` of `url` that reads at most 1 MiB of the response body.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` of a JSON `body` to `url`, with `content-type` and `accept`
    /// set to `application/json`; reads at most 1 MiB of the response body.
    pub fn post_json(url: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        let mut req =
            Self::new("POST", url).header("content-type", "application/json").header("accept", "application/json");
        req.body = body.into();
        req
    }

    /// Add a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Set [`Request::timeout_ms`].
    pub fn with_timeout_ms(mut self, timeout_ms: u64) -> Self {
        self.timeout_ms = Some(timeout_ms);
        self
    }

    /// Set [`Request::max_response_bytes`].
    pub fn with_max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }
}

/// A response, its body read up to the request's cap.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names and values (values lossily decoded as UTF-8).
    pub headers: Vec<(String, String)>,
    /// The body, at most `max_response_bytes` long.
    pub body: Vec<u8>,
    /// True when the body was longer than the cap and was cut.
    pub truncated: bool,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The URL, the method or a header is malformed; nothing was sent.
    Invalid,
    /// The host's boundary refused the request (`HttpRequestDenied`): it is
    /// outside the component's grant, or the vault is locked.
    Denied,
    /// No connection, or no response status and headers, in time
    /// (`ConnectionTimeout`, `ConnectionReadTimeout`, `HttpResponseTimeout`).
    Timeout,
    /// The request or the response body is over a limit of the host
    /// (`HttpRequestBodySize`, `HttpResponseBodySize`).
    TooLarge,
    /// Anything else on the way: DNS, TLS, a refused, reset or broken
    /// connection, or a malformed response.
    Network,
}

/// A request that got no response: the kind, and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong.
    pub kind: FailureKind,
    /// What went wrong, in words (names the URL, never a header).
    pub message: String,
}

impl Failure {
    /// A failure of the given kind.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure { kind, message: message.into() }
    }

    /// True when the request ran out of time: connecting, or waiting for
    /// the response (see [`Request::timeout_ms`]).
    pub fn is_timeout(&self) -> bool {
        self.kind == FailureKind::Timeout
    }

    /// True when the host's boundary refused the request.
    pub fn is_denied(&self) -> bool {
        self.kind == FailureKind::Denied
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl From<Failure> for Error {
    /// A timeout or a network failure is the outside service's
    /// (`Unavailable`); a refusal is `Denied`; a malformed request is the
    /// caller's (`InvalidParams`); a body too large hit a `Limit`.
    fn from(f: Failure) -> Self {
        let kind = match f.kind {
            FailureKind::Invalid => ErrorKind::InvalidParams,
            FailureKind::Denied => ErrorKind::Denied,
            FailureKind::Timeout | FailureKind::Network => ErrorKind::Unavailable,
            FailureKind::TooLarge => ErrorKind::Limit,
        };
        Error::new(kind, f.message)
    }
}

/// `GET` a URL.
///
/// # Errors
///
/// As [`send`].
pub fn get(url: &str) -> Result<Response, Failure> {
    send(&Request::get(url))
}

/// Send a request and read the response, up to `max_response_bytes` of
/// its body.
///
/// # Errors
///
/// A [`Failure`] when no response came: `Denied` when the grant does not
/// allow the request; `Timeout` when connecting or waiting for the response
/// took longer than the request's timeout (or the host's); `Invalid` for a
/// malformed URL, method or header; `TooLarge` for a body over a limit of
/// the host; `Network` for anything else.
pub fn send(req: &Request) -> Result<Response, Failure> {
    let opened = open(req)?;
    let (status, headers) = (opened.status, opened.headers.clone());
    let (body, truncated) = opened.read_to_end(req.max_response_bytes)?;
    Ok(Response { status, headers, body, truncated })
}

/// A response whose body is read as it arrives (a streamed LLM reply, a
/// long download): the status and headers now, the body piece by piece.
pub struct Streaming {
    /// The status code.
    pub status: u16,
    /// Header names and values (values lossily decoded as UTF-8).
    pub headers: Vec<(String, String)>,
    url: String,
    // Declared in drop order: the stream is a child of the body, the body
    // of the response.
    stream: InputStream,
    _body: IncomingBody,
    _response: IncomingResponse,
}

impl fmt::Debug for Streaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streaming").field("status", &self.status).field("url", &self.url).finish_non_exhaustive()
    }
}

impl Streaming {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The next piece of the body as the host passes it on (at most 64
    /// KiB); `None` at the end.
    ///
    /// # Errors
    ///
    /// A [`Failure`] when the connection broke or the host cut the body
    /// off (over a limit, or the boundary refused what it carried).
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Failure> {
        match self.stream.blocking_read(64 * 1024) {
            Ok(chunk) => Ok(Some(chunk)),
            Err(StreamError::Closed) => Ok(None),
            Err(StreamError::LastOperationFailed(e)) => Err(match http_error_code(&e) {
                Some(code) => from_code(&self.url, code),
                None => Failure::new(
                    FailureKind::Network,
                    format!("reading the response from {} failed: {}", self.url, e.to_debug_string()),
                ),
            }),
        }
    }

    /// The rest of the body, at most `cap` bytes; true when it was cut.
    ///
    /// # Errors
    ///
    /// As [`Streaming::next_chunk`].
    pub fn read_to_end(mut self, cap: usize) -> Result<(Vec<u8>, bool), Failure> {
        let mut body = Vec::new();
        while let Some(chunk) = self.next_chunk()? {
            if body.len() + chunk.len() > cap {
                let room = cap - body.len();
                body.extend_from_slice(&chunk[..room]);
                return Ok((body, true));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, false))
    }
}

/// Send a request and return as soon as the response's status and headers
/// arrive; the body is read with [`Streaming::next_chunk`].
/// `max_response_bytes` is the caller's to enforce.
///
/// # Errors
///
/// As [`send`].
pub fn open(req: &Request) -> Result<Streaming, Failure> {
    let url = req.url.as_str();
    let target = split_url(url)?;
    let entries: Vec<(String, Vec<u8>)> =
        req.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone().into_bytes())).collect();
    let headers = Fields::from_list(&entries)
        .map_err(|e| Failure::new(FailureKind::Invalid, format!("invalid header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let bad = |what: &str| Failure::new(FailureKind::Invalid, format!("invalid {what} in `{url}`"));
    outgoing.set_method(&method(&req.method)).map_err(|()| bad("method"))?;
    let scheme = if target.https { Scheme::Https } else { Scheme::Http };
    outgoing.set_scheme(Some(&scheme)).map_err(|()| bad("scheme"))?;
    outgoing.set_authority(Some(target.authority)).map_err(|()| bad("host"))?;
    outgoing.set_path_with_query(Some(target.path_and_query)).map_err(|()| bad("path"))?;
    let body = outgoing.body().map_err(|()| Failure::new(FailureKind::Network, "request body taken twice"))?;

    // Hand the request over first: the host reads the body while we write it.
    let options = req.timeout_ms.map(request_options);
    let future = outgoing_handler::handle(outgoing, options).map_err(|c| from_code(url, c))?;
    let written = write_body(body, &req.body);
    // When the host refused the request, writing its body fails too; the
    // host's reason (denied, too large) is the one worth reporting.
    let response = match (wait(&future, url)?, written) {
        (Err(code), _) | (Ok(_), Err(code)) => return Err(from_code(url, code)),
        (Ok(response), Ok(())) => response,
    };
    let status = response.status();
    let headers =
        response.headers().entries().into_iter().map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned())).collect();
    let incoming = response.consume().map_err(|()| Failure::new(FailureKind::Network, "response body taken twice"))?;
    let stream =
        incoming.stream().map_err(|()| Failure::new(FailureKind::Network, "response body stream taken twice"))?;
    Ok(Streaming { status, headers, url: url.to_string(), stream, _body: incoming, _response: response })
}

/// The `wasi:http` options for a timeout in milliseconds.
fn request_options(timeout_ms: u64) -> RequestOptions {
    let options = RequestOptions::new();
    let nanos = timeout_ms.saturating_mul(1_000_000);
    // A host that cannot honour a timeout refuses it here and applies its
    // own limits instead, which is the best that can be done then.
    options.set_connect_timeout(Some(nanos)).ok();
    options.set_first_byte_timeout(Some(nanos)).ok();
    options
}

/// Block until the response head (or the host's error) arrives.
fn wait(future: &FutureIncomingResponse, url: &str) -> Result<Result<IncomingResponse, ErrorCode>, Failure> {
    loop {
        if let Some(done) = future.get() {
            return done.map_err(|()| Failure::new(FailureKind::Network, format!("response from {url} taken twice")));
        }
        future.subscribe().block();
    }
}

/// The parts of an absolute URL that `wasi:http` wants separately.
struct Target<'a> {
    https: bool,
    authority: &'a str,
    path_and_query: &'a str,
}

fn split_url(url: &str) -> Result<Target<'_>, Failure> {
    let invalid = |why: &str| Failure::new(FailureKind::Invalid, format!("`{url}` {why}"));
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(invalid("is not an http:// or https:// URL"));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() {
        return Err(invalid("has no host"));
    }
    let mut path_and_query = &rest[end..];
    if let Some(hash) = path_and_query.find('#') {
        path_and_query = &path_and_query[..hash];
    }
    let path_and_query = if path_and_query.is_empty() { "/" } else { path_and_query };
    Ok(Target { https, authority, path_and_query })
}

fn method(name: &str) -> Method {
    match name.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    }
}

/// Which kind of failure a `wasi:http` error code is.
fn kind_of(code: &ErrorCode) -> FailureKind {
    match code {
        ErrorCode::HttpRequestDenied => FailureKind::Denied,
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            FailureKind::Timeout
        }
        ErrorCode::HttpRequestBodySize(_) | ErrorCode::HttpResponseBodySize(_) => FailureKind::TooLarge,
        ErrorCode::HttpRequestMethodInvalid | ErrorCode::HttpRequestUriInvalid | ErrorCode::HttpRequestUriTooLong => {
            FailureKind::Invalid
        }
        _ => FailureKind::Network,
    }
}

fn from_code(url: &str, code: ErrorCode) -> Failure {
    let kind = kind_of(&code);
    let message = match kind {
        FailureKind::Denied => {
            format!("the host denied the request to {url}: it is outside this component's grant")
        }
        FailureKind::Timeout => format!("request to {url} timed out ({code:?})"),
        FailureKind::TooLarge => format!("request to {url}: body over the limit ({code:?})"),
        FailureKind::Invalid => format!("request to {url} is invalid ({code:?})"),
        FailureKind::Network => format!("request to {url} failed: {code:?}"),
    };
    Failure::new(kind, message)
}

fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), ErrorCode> {
    {
        let stream = body.write().map_err(|()| ErrorCode::InternalError(None))?;
        for chunk in bytes.chunks(4096) {
            stream.blocking_write_and_flush(chunk).map_err(|_| ErrorCode::HttpRequestBodySize(None))?;
        }
    }
    OutgoingBody::finish(body, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_url_separates_authority_and_path() {
        let t = split_url("https://example.com:8443/a/b?x=1#frag").unwrap();
        assert!(t.https);
        assert_eq!(t.authority, "example.com:8443");
        assert_eq!(t.path_and_query, "/a/b?x=1");
        let t = split_url("http://h").unwrap();
        assert_eq!(t.path_and_query, "/");
        assert_eq!(split_url("ftp://h/").err().unwrap().kind, FailureKind::Invalid);
        assert!(split_url("https:///x").is_err());
    }

    #[test]
    fn timeouts_and_denials_are_told_apart() {
        for code in [ErrorCode::ConnectionTimeout, ErrorCode::ConnectionReadTimeout, ErrorCode::HttpResponseTimeout] {
            let f = from_code("https://h/", code);
            assert!(f.is_timeout() && !f.is_denied(), "{f}");
        }
        let f = from_code("https://h/", ErrorCode::HttpRequestDenied);
        assert!(f.is_denied() && f.message.contains("denied"), "{f}");
        assert_eq!(kind_of(&ErrorCode::ConnectionRefused), FailureKind::Network);
        assert_eq!(kind_of(&ErrorCode::HttpRequestBodySize(None)), FailureKind::TooLarge);
    }

    #[test]
    fn failures_become_tool_errors_of_the_matching_kind() {
        let e = Error::from(from_code("https://h/", ErrorCode::HttpRequestDenied));
        assert_eq!(e.kind, ErrorKind::Denied);
        let e = Error::from(from_code("https://h/", ErrorCode::ConnectionReadTimeout));
        assert_eq!(e.kind, ErrorKind::Unavailable);
        let e = Error::from(from_code("https://h/", ErrorCode::HttpResponseBodySize(None)));
        assert_eq!(e.kind, ErrorKind::Limit);
    }

    #[test]
    fn builders_fill_the_request() {
        let r = Request::post_json("https://h/v1", "{}").with_timeout_ms(1500).with_max_response_bytes(10);
        assert_eq!(r.method, "POST");
        assert_eq!(r.body, b"{}");
        assert_eq!(r.timeout_ms, Some(1500));
        assert_eq!(r.max_response_bytes, 10);
        assert!(r.headers.iter().any(|(k, v)| k == "content-type" && v == "application/json"));
        let r = Request::get("https://h/");
        assert_eq!((r.method.as_str(), r.timeout_ms, r.max_response_bytes), ("GET", None, 1 << 20));
    }
}

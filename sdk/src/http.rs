//! A small HTTP client over `wasi:http`.
//!
//! Every request leaves through the host's egress boundary, which checks
//! it against the tool's grant (and, for granted hosts, injects the
//! credentials the tool never sees). A request outside the grant fails with
//! [`ErrorKind::Denied`](crate::ErrorKind::Denied).

use crate::Error;
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;

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
}

impl Request {
    /// A `GET` of `url` that reads at most 1 MiB of the response body.
    pub fn get(url: impl Into<String>) -> Self {
        Request {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            max_response_bytes: 1 << 20,
        }
    }

    /// Add a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
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

/// `GET` a URL.
///
/// # Errors
///
/// `Denied` when the grant does not allow the URL; `Unavailable` when the
/// server cannot be reached; `InvalidParams` for a malformed URL.
pub fn get(url: &str) -> Result<Response, Error> {
    send(&Request::get(url))
}

/// The parts of an absolute URL that `wasi:http` wants separately.
struct Target<'a> {
    https: bool,
    authority: &'a str,
    path_and_query: &'a str,
}

fn split_url(url: &str) -> Result<Target<'_>, Error> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(Error::invalid_params(format!("`{url}` is not an http:// or https:// URL")));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() {
        return Err(Error::invalid_params(format!("`{url}` has no host")));
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

fn from_code(url: &str, code: ErrorCode) -> Error {
    match code {
        ErrorCode::HttpRequestDenied => Error::new(
            crate::ErrorKind::Denied,
            format!("the host denied the request to {url}: it is outside this tool's grant"),
        ),
        ErrorCode::HttpRequestBodySize(_) | ErrorCode::HttpResponseBodySize(_) => {
            Error::new(crate::ErrorKind::Limit, format!("request to {url}: body over the limit"))
        }
        other => Error::unavailable(format!("request to {url} failed: {other:?}")),
    }
}

/// Send a request and read the response.
///
/// # Errors
///
/// As [`get`].
pub fn send(req: &Request) -> Result<Response, Error> {
    let target = split_url(&req.url)?;
    let entries: Vec<(String, Vec<u8>)> =
        req.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone().into_bytes())).collect();
    let headers = Fields::from_list(&entries).map_err(|e| Error::invalid_params(format!("invalid header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let bad = |what: &str| Error::invalid_params(format!("invalid {what} in `{}`", req.url));
    outgoing.set_method(&method(&req.method)).map_err(|()| bad("method"))?;
    let scheme = if target.https { Scheme::Https } else { Scheme::Http };
    outgoing.set_scheme(Some(&scheme)).map_err(|()| bad("scheme"))?;
    outgoing.set_authority(Some(target.authority)).map_err(|()| bad("host"))?;
    outgoing.set_path_with_query(Some(target.path_and_query)).map_err(|()| bad("path"))?;
    let body = outgoing.body().map_err(|()| Error::failed("request body taken twice"))?;

    // Hand the request over first: the host reads the body while we write it.
    let future = outgoing_handler::handle(outgoing, None).map_err(|c| from_code(&req.url, c))?;
    write_body(body, &req.body).map_err(|c| from_code(&req.url, c))?;

    let response = loop {
        if let Some(done) = future.get() {
            break done.map_err(|()| Error::failed("response taken twice"))?.map_err(|c| from_code(&req.url, c))?;
        }
        future.subscribe().block();
    };
    let status = response.status();
    let headers =
        response.headers().entries().into_iter().map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned())).collect();
    let incoming = response.consume().map_err(|()| Error::failed("body taken twice"))?;
    let (body, truncated) = read_body(incoming, req.max_response_bytes)?;
    Ok(Response { status, headers, body, truncated })
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

fn read_body(incoming: IncomingBody, cap: usize) -> Result<(Vec<u8>, bool), Error> {
    let stream = incoming.stream().map_err(|()| Error::failed("body stream taken twice"))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                if body.len() + chunk.len() > cap {
                    let room = cap - body.len();
                    body.extend_from_slice(&chunk[..room]);
                    return Ok((body, true));
                }
                body.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return Ok((body, false)),
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(Error::unavailable(format!("reading the response failed: {}", e.to_debug_string())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn split_url_separates_authority_and_path() {
        let t = split_url("https://example.com:8443/a/b?x=1#frag").unwrap();
        assert!(t.https);
        assert_eq!(t.authority, "example.com:8443");
        assert_eq!(t.path_and_query, "/a/b?x=1");
        let t = split_url("http://h").unwrap();
        assert_eq!(t.path_and_query, "/");
        assert!(split_url("ftp://h/").is_err());
        assert!(split_url("https:///x").is_err());
    }
}

//! Serving a request the host routed to a channel
//! (`wasi:http/incoming-handler`): read its body under a cap, answer it.
//! Channels share these so each handles its provider's protocol only.

use crate::bindings::wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};
use crate::bindings::wasi::io::streams::StreamError;

/// The request's body, refused when over `max` bytes.
///
/// # Errors
///
/// The body was taken already, is over `max`, or could not be read.
pub fn read_body(request: &IncomingRequest, max: usize) -> Result<Vec<u8>, String> {
    let body = request.consume().map_err(|()| "the request body was already taken".to_string())?;
    let mut bytes = Vec::new();
    // The stream is a child of the body: it must be dropped first.
    {
        let stream = body.stream().map_err(|()| "the request body stream was already taken".to_string())?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) if bytes.len() + chunk.len() > max => {
                    return Err(format!("the body is over {max} bytes"));
                }
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(format!("reading the body failed: {}", e.to_debug_string()));
                }
            }
        }
    }
    Ok(bytes)
}

/// The request's path and query, as sent (`/channels/NAME/…`).
pub fn path(request: &IncomingRequest) -> String {
    request.path_with_query().unwrap_or_default()
}

/// Answer with `status`, a content type and `body`.
pub fn respond(out: ResponseOutparam, status: u16, content_type: &str, body: &[u8]) {
    let headers = Fields::from_list(&[("content-type".to_string(), content_type.as_bytes().to_vec())])
        .unwrap_or_else(|_| Fields::new());
    let response = OutgoingResponse::new(headers);
    if response.set_status_code(status).is_err() {
        let _ = response.set_status_code(500);
    }
    let Ok(outgoing) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        // One blocking write takes at most 4096 bytes.
        for chunk in body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

/// Answer with a JSON text.
pub fn respond_json(out: ResponseOutparam, status: u16, json: &str) {
    respond(out, status, "application/json", json.as_bytes());
}

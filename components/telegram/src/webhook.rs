//! The webhook: Telegram POSTs one Update per request. The host checked
//! its `X-Telegram-Bot-Api-Secret-Token` before the request got here.
//! Anything but a 2xx makes Telegram send the update again, so only a
//! failure worth retrying (the store is down) answers 500.

use crate::api::Bot;
use crate::config::Config;
use crate::handle::handle as handle_update;
use crate::update;
use claw_client::bindings::wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use claw_client::bindings::wasi::io::streams::StreamError;
use serde_json::{Value, json};

/// Telegram's updates are small; this is far above any of them.
const MAX_BODY: usize = 1 << 20;

pub fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let (status, body) = match answer(&request) {
        Ok(()) => (200, json!({"ok": true})),
        Err((status, why)) => (status, json!({"ok": false, "error": why})),
    };
    respond(out, status, &body.to_string());
}

fn answer(request: &IncomingRequest) -> Result<(), (u16, String)> {
    let body = read(request).map_err(|why| (400, why))?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| (400, format!("the body is not a JSON update: {e}")))?;
    let update = update::parse(&v).map_err(|why| (400, why))?;
    let config = Config::from_env().map_err(|why| (500, why))?;
    handle_update(&Bot::new(&config.api), &update).map_err(|why| (500, why))
}

fn read(request: &IncomingRequest) -> Result<Vec<u8>, String> {
    let body = request.consume().map_err(|()| "the request body was already taken".to_string())?;
    let mut bytes = Vec::new();
    // The stream is a child of the body: it must go first.
    {
        let stream = body.stream().map_err(|()| "the request body stream was already taken".to_string())?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) if bytes.len() + chunk.len() > MAX_BODY => {
                    return Err(format!("the body is over {MAX_BODY} bytes, larger than any update"));
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

fn respond(out: ResponseOutparam, status: u16, body: &str) {
    let headers = Fields::from_list(&[("content-type".to_string(), b"application/json".to_vec())])
        .unwrap_or_else(|_| Fields::new());
    let response = OutgoingResponse::new(headers);
    // Every status used here is valid.
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        // A stream takes at most 4096 bytes per blocking write.
        for chunk in body.as_bytes().chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

//! Conformance: a third-party webhook channel, written as any wasi-http
//! server is. A POST of `{"chat", "from", "text", "id", "reply_to"}` hands
//! the message to the agent (inbox) and remembers where the chat's replies
//! go (kv); `deliver` POSTs the reply there (through the boundary). The
//! host verified the request before it arrived here.

#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "claw:runtime/channel",
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

use bindings::claw::runtime::channel_types::{Event, Outbound};
use bindings::claw::runtime::{inbox, kv};
use claw_client::bindings::wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use claw_client::bindings::wasi::io::streams::StreamError;
use claw_client::http::Request;
use serde_json::{Value, json};

struct Hook;

impl bindings::Guest for Hook {
    fn receive(_input: Vec<u8>) -> Result<Vec<Event>, String> {
        Err("this channel takes HTTP, not terminal input".into())
    }

    fn deliver(message: Outbound) -> Result<(), String> {
        let key = format!("reply_to/{}", message.conversation);
        let url = kv::get(&key).map_err(|e| e.message)?.ok_or_else(|| format!("no reply address for {key}"))?;
        let body = json!({"chat": message.conversation, "text": message.text, "notice": message.notice}).to_string();
        let sent = claw_client::http::send(&Request::post_json(url, body)).map_err(|f| f.message)?;
        if !(200..300).contains(&sent.status) {
            return Err(format!("the reply was refused: HTTP {}", sent.status));
        }
        Ok(())
    }

    fn poll() -> Result<(), String> {
        Ok(())
    }
}

impl bindings::exports::wasi::http::incoming_handler::Guest for Hook {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let (status, body) = match read(&request).and_then(|b| take(&b)) {
            Ok(new) => (200, json!({"ok": true, "new": new})),
            Err(why) => (400, json!({"ok": false, "error": why})),
        };
        respond(out, status, &body.to_string());
    }
}

/// Queue the message in `body`; whether it was new.
fn take(body: &[u8]) -> Result<bool, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let field = |k: &str| v[k].as_str().map(str::to_string).ok_or_else(|| format!("`{k}` is missing"));
    let chat = field("chat")?;
    kv::set(&format!("reply_to/{chat}"), &field("reply_to")?).map_err(|e| e.message)?;
    let message =
        inbox::Message { conversation: chat, sender: field("from")?, text: field("text")?, id: field("id").ok() };
    inbox::send(&message)
}

fn read(request: &IncomingRequest) -> Result<Vec<u8>, String> {
    let body = request.consume().map_err(|()| "the body was taken".to_string())?;
    let mut bytes = Vec::new();
    {
        let stream = body.stream().map_err(|()| "the body stream was taken".to_string())?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => return Err(e.to_debug_string()),
            }
        }
    }
    Ok(bytes)
}

fn respond(out: ResponseOutparam, status: u16, body: &str) {
    let headers = Fields::from_list(&[("content-type".to_string(), b"application/json".to_vec())])
        .unwrap_or_else(|_| Fields::new());
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        let _ = stream.blocking_write_and_flush(body.as_bytes());
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

bindings::export!(Hook with_types_in bindings);

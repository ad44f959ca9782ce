//! The HTTP webhook channel: another system POSTs JSON (`conversation`,
//! `text`, an `id` that makes a retry the same message) and gets the
//! agent's answer in the response when it comes within `wait_s`, else a
//! 202 with where to ask later (`GET …/replies/ID`) — and, when it gave
//! a `callback_url`, the answer POSTed there through the boundary, to the
//! URLs the grant allows. The host verified the request before it came
//! here (bearer or HMAC, `[inbound]`).

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code, unused_imports))]

#[allow(clippy::too_many_arguments)]
mod bindings {
    claw_client::generate_with_client!("../../wit", "claw:runtime/channel");
}

mod wire;

use bindings::claw::runtime::channel_types::{Event, Outbound};
use bindings::claw::runtime::{inbox, kv};
use claw_client::bindings::wasi::http::types::{IncomingRequest, Method, ResponseOutparam};
use claw_client::http::Request;
use claw_client::serve;
use serde_json::json;
use wire::Route;

/// The largest message body taken.
const MAX_BODY: usize = 256 << 10;

struct Webhook;

impl bindings::Guest for Webhook {
    fn receive(_input: Vec<u8>) -> Result<Vec<Event>, String> {
        Err("the webhook channel takes HTTP requests, not terminal input".into())
    }

    /// The answer also goes to the conversation's callback, when it has one;
    /// without one the caller has it already or asks for it.
    fn deliver(message: Outbound) -> Result<(), String> {
        if message.reply.as_ref().is_some_and(|r| r.draft) {
            return Ok(());
        }
        let key = format!("callback/{}", message.conversation);
        let Some(url) = kv::get(&key).map_err(|e| e.message)? else { return Ok(()) };
        let reply_id = message.reply.as_ref().map(|r| r.id.as_str());
        let body = wire::callback(&message.conversation, reply_id, &message.text, message.notice);
        let sent = claw_client::http::send(&Request::post_json(url, body)).map_err(|f| f.message)?;
        if !(200..300).contains(&sent.status) {
            return Err(format!("the callback answered HTTP {}: the answer will be sent again", sent.status));
        }
        Ok(())
    }

    fn poll() -> Result<(), String> {
        Ok(())
    }
}

impl bindings::exports::wasi::http::incoming_handler::Guest for Webhook {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let method = match request.method() {
            Method::Get => "GET",
            Method::Post => "POST",
            _ => "OTHER",
        };
        let path = serve::path(&request);
        let (status, body) = match wire::route(method, &path) {
            Route::Send => send(&request, &path),
            Route::Reply(id) => reply(&id, &path),
            Route::Unknown => Err((405, "POST a message here, or GET …/replies/ID for an answer".into())),
        }
        .unwrap_or_else(|(status, why)| (status, json!({"error": why}).to_string()));
        serve::respond_json(out, status, &body);
    }
}

type Answered = Result<(u16, String), (u16, String)>;

fn send(request: &IncomingRequest, path: &str) -> Answered {
    let body = serve::read_body(request, MAX_BODY).map_err(|why| (413, why))?;
    let m = wire::parse(&body).map_err(|why| (400, why))?;
    if let Some(url) = &m.callback_url {
        kv::set(&format!("callback/{}", m.conversation), url).map_err(|e| (507, e.message))?;
    }
    let id = m.id.clone().unwrap_or_else(fresh_id);
    let message = inbox::Message {
        conversation: m.conversation.clone(),
        sender: m.from.clone(),
        text: m.text.clone(),
        id: Some(id.clone()),
    };
    // A refusal (too long, bad ids) is the caller's; the store down is not.
    inbox::send(&message).map_err(|why| (if why.contains("store") { 503 } else { 400 }, why))?;
    let answer = match m.wait_s {
        0 => None,
        s => inbox::wait(&id, (s * 1000) as u32).map_err(|why| (503, why))?,
    };
    Ok(wire::answered(
        &id,
        Some(&m.conversation),
        answer.as_ref().map(|a| (a.text.as_str(), a.notice)),
        &wire::poll_path(path, &id),
    ))
}

fn reply(id: &str, path: &str) -> Answered {
    let answer = inbox::wait(id, 0).map_err(|why| (404, why))?;
    let base = path.rsplit_once("/replies/").map_or(path, |(b, _)| b);
    Ok(wire::answered(id, None, answer.as_ref().map(|a| (a.text.as_str(), a.notice)), &wire::poll_path(base, id)))
}

/// An id for a message that came without one: random, so two such
/// messages are never taken for a retry of one another.
fn fresh_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let a = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let b = std::collections::hash_map::RandomState::new().build_hasher().finish();
    format!("m-{a:016x}{b:016x}")
}

// Off wasm32 the export named `poll` would stand in for libc's poll(2),
// which the native test harness calls: export only in the component (and
// natively, the code only the exports reach is unused).
#[cfg(target_arch = "wasm32")]
bindings::export!(Webhook with_types_in bindings);

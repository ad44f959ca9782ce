//! `slack`: a claw channel for a Slack app. Events arrive on the
//! gateway's `/channels/slack` (the host checks Slack's v0 signature
//! first); a mention in a channel is answered in its thread, a direct
//! message in place, `pair` in a direct message asks for a pairing code.
//! Replies go out through the Web API — drafts posted once and updated —
//! with the bot token added by the host's boundary, never seen here.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code, unused_imports))]

#[allow(clippy::too_many_arguments)]
mod bindings {
    claw_client::generate_with_client!("../../wit", "claw:runtime/channel");
}

mod api;
mod deliver;
mod event;
mod format;

use bindings::claw::runtime::channel_types::{Event, Outbound};
use bindings::claw::runtime::inbox;
use claw_client::bindings::wasi::http::types::{IncomingRequest, ResponseOutparam};
use claw_client::serve;
use event::Action;
use serde_json::json;

/// Slack's events are small; this is far above any of them.
const MAX_BODY: usize = 1 << 20;

struct Slack;

impl bindings::Guest for Slack {
    fn receive(_input: Vec<u8>) -> Result<Vec<Event>, String> {
        Err("the slack channel takes Events API webhooks, not terminal input".into())
    }

    fn deliver(message: Outbound) -> Result<(), String> {
        deliver::deliver(&message)
    }

    fn poll() -> Result<(), String> {
        Ok(())
    }
}

impl bindings::exports::wasi::http::incoming_handler::Guest for Slack {
    /// Slack retries anything but a 2xx: only a failure worth retrying
    /// (the store is down) answers 500.
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let action = serve::read_body(&request, MAX_BODY)
            .map_err(|why| (413, why))
            .and_then(|b| event::parse(&b).map_err(|why| (400, why)));
        let answered = action.and_then(|a| act(a).map_err(|why| (500, why)));
        match answered {
            Ok(Some(challenge)) => serve::respond(out, 200, "text/plain", challenge.as_bytes()),
            Ok(None) => serve::respond_json(out, 200, r#"{"ok":true}"#),
            Err((status, why)) => serve::respond_json(out, status, &json!({"ok": false, "error": why}).to_string()),
        }
    }
}

/// Do what the request asked; Slack's challenge, when it asked for one.
fn act(action: Action) -> Result<Option<String>, String> {
    match action {
        Action::Challenge(c) => return Ok(Some(c)),
        Action::Ignore(why) => claw_client::log::info(&format!("ignored: {why}")),
        Action::Pair { conversation, sender } => {
            let text = match inbox::pair(&sender) {
                Ok(code) => {
                    format!("To pair this chat with claw, the operator runs:\nclaw pairing approve slack {code}")
                }
                Err(e) => e,
            };
            let out = Outbound { conversation, text, notice: false, reply: None };
            deliver::deliver(&out)?;
        }
        Action::Send { conversation, sender, text, id } => {
            inbox::send(&inbox::Message { conversation, sender, text, id: Some(id) })?;
        }
    }
    Ok(None)
}

// Off wasm32 the export named `poll` would stand in for libc's poll(2),
// which the native test harness calls: export only in the component.
#[cfg(target_arch = "wasm32")]
bindings::export!(Slack with_types_in bindings);

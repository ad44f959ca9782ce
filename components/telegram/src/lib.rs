//! `telegram`: a claw channel for a Telegram bot. Updates arrive by long
//! polling (`poll` calls `getUpdates`) or, with `TELEGRAM_WEBHOOK_URL` set,
//! by webhook (the host has verified Telegram's secret header before the
//! request reaches `handle`). Direct messages and group messages that
//! address the bot go to the inbox; `/start` in a direct chat asks for a
//! pairing code. Replies come back through `deliver`, drafts included: the
//! draft's message is edited as the reply grows.
//!
//! The bot token is never known here: every URL says
//! `{secret:telegram_token}` and the host's boundary fills it in.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code, unused_imports))]

#[allow(clippy::too_many_arguments)]
mod bindings {
    claw_client::generate_with_client!("../../wit", "claw:runtime/channel");
}

mod api;
mod config;
mod deliver;
mod format;
mod handle;
mod poll;
mod state;
mod update;
mod webhook;

use bindings::claw::runtime::channel_types::{Event, Outbound};
use claw_client::bindings::wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Telegram;

impl bindings::Guest for Telegram {
    fn receive(_input: Vec<u8>) -> Result<Vec<Event>, String> {
        Err("the telegram channel takes webhooks and polling, not terminal input".into())
    }

    fn deliver(message: Outbound) -> Result<(), String> {
        let config = config::Config::from_env()?;
        deliver::deliver(&api::Bot::new(&config.api), message)
    }

    fn poll() -> Result<(), String> {
        poll::poll(&config::Config::from_env()?)
    }
}

impl bindings::exports::wasi::http::incoming_handler::Guest for Telegram {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        webhook::handle(request, out);
    }
}

// Off wasm32 the export named `poll` would stand in for libc's poll(2),
// which the native test harness calls: export only in the component (and
// natively, the code only the exports reach is unused).
#[cfg(target_arch = "wasm32")]
bindings::export!(Telegram with_types_in bindings);

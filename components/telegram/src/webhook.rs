//! The webhook: Telegram POSTs one Update per request. The host checked
//! its `X-Telegram-Bot-Api-Secret-Token` before the request got here.
//! Anything but a 2xx makes Telegram send the update again, so only a
//! failure worth retrying (the store is down) answers 500.

use crate::api::Bot;
use crate::config::Config;
use crate::handle::handle as handle_update;
use crate::update;
use claw_client::bindings::wasi::http::types::{IncomingRequest, ResponseOutparam};
use claw_client::serve;
use serde_json::{Value, json};

/// Telegram's updates are small; this is far above any of them.
const MAX_BODY: usize = 1 << 20;

pub fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let (status, body) = match answer(&request) {
        Ok(()) => (200, json!({"ok": true})),
        Err((status, why)) => (status, json!({"ok": false, "error": why})),
    };
    serve::respond_json(out, status, &body.to_string());
}

fn answer(request: &IncomingRequest) -> Result<(), (u16, String)> {
    let body = serve::read_body(request, MAX_BODY).map_err(|why| (400, why))?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| (400, format!("the body is not a JSON update: {e}")))?;
    let update = update::parse(&v).map_err(|why| (400, why))?;
    let config = Config::from_env().map_err(|why| (500, why))?;
    handle_update(&Bot::new(&config.api), &update).map_err(|why| (500, why))
}

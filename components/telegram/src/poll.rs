//! `poll`: keep Telegram's webhook as configured, and without one, fetch
//! updates by long polling and handle them in order.

use crate::api::Bot;
use crate::config::Config;
use crate::handle::handle;
use crate::{state, update};
use claw_client::log;
use serde_json::json;

/// Telegram's placeholder for the webhook's secret, filled in by the
/// host's boundary on its way out: the component never holds it.
const WEBHOOK_SECRET: &str = "{secret:telegram_webhook_secret}";
/// Telegram's own allowance on top of the long poll's wait.
const SLACK_MS: u64 = 10_000;

pub fn poll(config: &Config) -> Result<(), String> {
    let bot = Bot::new(&config.api);
    let registered = state::get("webhook")?;
    if let Some(url) = &config.webhook_url {
        if registered.as_deref() != Some(url.as_str()) {
            register(&bot, url)?;
        }
        // Updates come to the webhook.
        return Ok(());
    }
    if registered.is_some() {
        // Back to polling: Telegram refuses getUpdates while a webhook is set.
        bot.call("deleteWebhook", &json!({}))?;
        state::delete("webhook")?;
    }
    fetch(&bot, config.poll_timeout)
}

fn register(bot: &Bot, url: &str) -> Result<(), String> {
    let at = format!("{}?secret_token={WEBHOOK_SECRET}", bot.url("setWebhook"));
    let params = json!({"url": url, "allowed_updates": ["message"], "drop_pending_updates": false});
    bot.call_at("setWebhook", at, &params, 15_000)?;
    log::info(&format!("Telegram sends this bot's updates to {url}"));
    state::set("webhook", url)
}

/// One long poll: handle what arrived, then move the offset past it.
fn fetch(bot: &Bot, timeout: u64) -> Result<(), String> {
    let offset = state::get("offset")?.and_then(|s| s.parse::<i64>().ok());
    let mut params = json!({"timeout": timeout, "allowed_updates": ["message"]});
    if let Some(offset) = offset {
        params["offset"] = json!(offset);
    }
    let result = bot.call_at("getUpdates", bot.url("getUpdates"), &params, timeout * 1000 + SLACK_MS)?;
    let updates = result.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut next = offset;
    let mut failed = None;
    for raw in updates {
        let update = match update::parse(raw) {
            Ok(u) => u,
            // Without an id it cannot be confirmed; the next good one's
            // offset drops it.
            Err(why) => {
                log::warn(&format!("getUpdates: {why}"));
                continue;
            }
        };
        if let Err(e) = handle(bot, &update) {
            failed = Some(e);
            break;
        }
        next = next.max(Some(update.id + 1));
    }
    // Confirm what was handled, even when a later update failed: only the
    // failed one comes again.
    if let Some(n) = next
        && next != offset
    {
        state::set("offset", &n.to_string())?;
    }
    failed.map_or(Ok(()), Err)
}

//! Carrying out what one update asks (`update` decides): the same for a
//! polled update and a webhook's.

use crate::api::{Bot, Error};
use crate::bindings::claw::runtime::inbox;
use crate::state;
use crate::update::{Action, Body, Me, Update};
use claw_client::log;
use serde_json::{Value, json};

/// Handle `update`: queue its message, answer a pairing request, or let it
/// be. Queuing an update twice is harmless (the inbox knows its id).
///
/// # Errors
///
/// When the inbox (the store) or Telegram failed: the update should come
/// again.
pub fn handle(bot: &Bot, update: &Update) -> Result<(), String> {
    let message = match &update.body {
        Body::Message(m) => m,
        Body::Ignored(why) => {
            log::info(&format!("update {}: {why}", update.id));
            return Ok(());
        }
    };
    let me = if message.needs_me() { Some(me(bot)?) } else { None };
    match message.action(me.as_ref()) {
        Action::Skip => Ok(()),
        Action::Pair { chat, sender } => pair(bot, chat, &sender),
        Action::Send { conversation, sender, text } => {
            let queued = inbox::Message { conversation, sender, text, id: Some(update.id.to_string()) };
            let new = inbox::send(&queued).map_err(|e| format!("update {}: the inbox refused it: {e}", update.id))?;
            if !new {
                log::debug(&format!("update {}: already queued", update.id));
            }
            Ok(())
        }
    }
}

/// Show `sender` a pairing code, or why there is none.
fn pair(bot: &Bot, chat: i64, sender: &str) -> Result<(), String> {
    let text = match inbox::pair(sender) {
        Ok(code) => format!("To pair this chat with claw, the operator runs:\nclaw pairing approve telegram {code}"),
        Err(why) => why,
    };
    match bot.call("sendMessage", &json!({"chat_id": chat, "text": text})) {
        Ok(_) => Ok(()),
        // The chat will not take it (the person blocked the bot): asking
        // again would hold up every update behind this one.
        Err(e @ Error::Refused { .. }) => {
            log::warn(&format!("the pairing reply to chat {chat} was refused: {e}"));
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The bot's id and username: kept in kv, asked of `getMe` the first time.
fn me(bot: &Bot) -> Result<Me, String> {
    let kept = state::get("me")?.and_then(|s| serde_json::from_str::<Value>(&s).ok());
    if let Some(me) = kept.as_ref().and_then(Me::parse) {
        return Ok(me);
    }
    let result = bot.call("getMe", &json!({}))?;
    let me = Me::parse(&result).ok_or("Telegram getMe: the reply names no bot id and username")?;
    state::set("me", &me.to_json())?;
    Ok(me)
}

//! `deliver`: what the agent (or the host) says, into the chat. A reply's
//! drafts are shown in one message, edited as the reply grows; the final
//! text replaces the draft, in as many messages as it takes. The message a
//! reply is written into is kept in kv under `draft/{reply id}`, so that a
//! retried delivery edits it instead of sending another.

use crate::api::{Bot, Error};
use crate::bindings::claw::runtime::channel_types::Outbound;
use crate::{format, state};
use claw_client::log;
use serde_json::{Value, json};

pub fn deliver(bot: &Bot, message: Outbound) -> Result<(), String> {
    let chat = chat_id(&message.conversation);
    let blank = message.text.trim().is_empty();
    let text = if message.notice { format!("⚠ {}", message.text) } else { message.text };
    match &message.reply {
        // An empty draft: the reply is on its way.
        Some(part) if part.draft && blank => {
            bot.call("sendChatAction", &json!({"chat_id": chat, "action": "typing"}))?;
            Ok(())
        }
        Some(part) if part.draft => draft(bot, &chat, &part.id, &text),
        Some(part) => whole(bot, &chat, Some(&part.id), &text),
        None => whole(bot, &chat, None, &text),
    }
}

/// Telegram's chat ids are numbers; a conversation that is not one (a
/// `@channelname`) goes as it is.
fn chat_id(conversation: &str) -> Value {
    conversation.parse::<i64>().map_or_else(|_| json!(conversation), |id| json!(id))
}

fn draft_key(reply: &str) -> String {
    format!("draft/{reply}")
}

/// The message kept under `key`, if any.
fn kept(key: &str) -> Result<Option<i64>, String> {
    Ok(state::get(key)?.and_then(|id| id.parse().ok()))
}

/// Show the reply so far. A draft longer than one message shows its
/// beginning until the final text comes.
fn draft(bot: &Bot, chat: &Value, reply: &str, text: &str) -> Result<(), String> {
    let Some(first) = format::chunks(text).into_iter().next() else { return Ok(()) };
    let key = draft_key(reply);
    let was = kept(&key)?;
    let id = write(bot, chat, was, &first)?;
    if was != Some(id) {
        state::set(&key, &id.to_string())?;
    }
    Ok(())
}

/// Show the whole text: into the draft's message when there is one.
fn whole(bot: &Bot, chat: &Value, reply: Option<&str>, text: &str) -> Result<(), String> {
    let key = reply.map(draft_key);
    let was = match &key {
        Some(key) => kept(key)?,
        None => None,
    };
    let chunks = format::chunks(text);
    if chunks.is_empty() {
        log::warn("a blank reply was not sent: Telegram refuses empty messages");
    }
    for (n, chunk) in chunks.iter().enumerate() {
        let id = write(bot, chat, if n == 0 { was } else { None }, chunk)?;
        // Should a later chunk fail, the retry edits this one, not repeats it.
        if let Some(key) = &key
            && n == 0
            && chunks.len() > 1
            && was != Some(id)
        {
            state::set(key, &id.to_string())?;
        }
    }
    if let Some(key) = &key {
        state::delete(key)?;
    }
    Ok(())
}

/// Put `raw` into message `into` (edited), or a new message; its id.
fn write(bot: &Bot, chat: &Value, into: Option<i64>, raw: &str) -> Result<i64, String> {
    if let Some(id) = into {
        let params = json!({"chat_id": chat, "message_id": id});
        match with_text(bot, "editMessageText", params, raw) {
            Ok(_) => return Ok(id),
            // Telegram compares the text: the retry of an edit, or a draft
            // that did not grow.
            Err(e) if e.says("message is not modified") => return Ok(id),
            // The person deleted it: the text goes into a new message.
            Err(e) if e.says("message to edit not found") => {}
            Err(e) => return Err(e.into()),
        }
    }
    let sent = with_text(bot, "sendMessage", json!({"chat_id": chat}), raw)?;
    sent["message_id"].as_i64().ok_or_else(|| "Telegram sendMessage: the reply has no message_id".to_string())
}

/// Call `method` with `raw` as HTML, or as plain text when Telegram cannot
/// parse the HTML (the agent's Markdown went somewhere the conversion did
/// not foresee): the words matter more than their formatting.
fn with_text(bot: &Bot, method: &str, params: Value, raw: &str) -> Result<Value, Error> {
    let mut html = params.clone();
    html["text"] = json!(format::to_html(raw));
    html["parse_mode"] = json!("HTML");
    match bot.call(method, &html) {
        Err(e) if e.says("can't parse entities") => {
            log::warn(&format!("{e}; sending the text without formatting"));
            let mut plain = params;
            plain["text"] = json!(raw);
            bot.call(method, &plain)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_are_numbers_when_they_can_be() {
        assert_eq!(chat_id("-1001234"), json!(-1001234));
        assert_eq!(chat_id("@news"), json!("@news"));
    }
}

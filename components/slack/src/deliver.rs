//! A reply going out: drafts posted once and then updated in place, the
//! whole reply cut into messages that fit, in the thread it belongs to.

use crate::api::call;
use crate::bindings::claw::runtime::channel_types::Outbound;
use crate::bindings::claw::runtime::kv;
use crate::event::split_conversation;
use crate::format::{LIMIT, split, to_mrkdwn};
use serde_json::{Value, json};

pub fn deliver(message: &Outbound) -> Result<(), String> {
    let (channel, thread) = split_conversation(&message.conversation);
    let text = if message.notice { format!(":warning: {}", message.text) } else { message.text.clone() };
    let key = message.reply.as_ref().map(|r| format!("draft/{}", r.id));
    let kept = match &key {
        Some(k) => kv::get(k).map_err(|e| e.message)?,
        None => None,
    };
    let pieces = split(&text, LIMIT);
    if let Some(r) = message.reply.as_ref().filter(|r| r.draft) {
        // Slack shows bots no typing indicator: an empty draft is nothing.
        if text.trim().is_empty() {
            return Ok(());
        }
        let ts = write(channel, thread, kept.as_deref(), &pieces[0])?;
        return kv::set(&format!("draft/{}", r.id), &ts).map_err(|e| e.message);
    }
    let mut into = kept;
    for piece in &pieces {
        write(channel, thread, into.take().as_deref(), piece)?;
    }
    if let Some(k) = key {
        kv::delete(&k).map_err(|e| e.message)?;
    }
    Ok(())
}

/// Update message `ts` to `text`, or post it; the message's ts.
fn write(channel: &str, thread: Option<&str>, ts: Option<&str>, text: &str) -> Result<String, String> {
    let text = to_mrkdwn(text);
    let reply = match ts {
        Some(ts) => call("chat.update", &json!({"channel": channel, "ts": ts, "text": text}))?,
        None => {
            let mut body = json!({"channel": channel, "text": text});
            if let Some(t) = thread {
                body["thread_ts"] = Value::String(t.to_string());
            }
            call("chat.postMessage", &body)?
        }
    };
    reply["ts"].as_str().map(str::to_string).ok_or_else(|| "Slack answered without the message's ts".into())
}

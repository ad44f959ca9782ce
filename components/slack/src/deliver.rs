//! A reply going out: drafts posted once and then updated in place, the
//! whole reply cut into messages that fit, in the thread it belongs to.

use crate::api::call;
use crate::bindings::claw::runtime::channel_types::Outbound;
use crate::bindings::claw::runtime::kv;
use crate::event::split_conversation;
use crate::format::chunks;
use serde_json::{Value, json};

pub fn deliver(message: &Outbound) -> Result<(), String> {
    let reply = message.reply.as_ref();
    // Slack shows bots no typing indicator: an empty draft is nothing.
    if reply.is_some_and(|r| r.draft) && message.text.trim().is_empty() {
        return Ok(());
    }
    let (channel, thread) = split_conversation(&message.conversation);
    let text = if message.notice { format!(":warning: {}", message.text) } else { message.text.clone() };
    let key = reply.map(|r| format!("draft/{}", r.id));
    let kept = match &key {
        Some(k) => kv::get(k).map_err(|e| e.message)?,
        None => None,
    };
    let messages = chunks(&text);
    if let Some(k) = key.as_ref().filter(|_| reply.is_some_and(|r| r.draft)) {
        // A draft is one message: what is past it shows once it is whole.
        let Some(first) = messages.first() else { return Ok(()) };
        let ts = write(channel, thread, kept.as_deref(), first)?;
        if kept.as_deref() != Some(ts.as_str()) {
            kv::set(k, &ts).map_err(|e| e.message)?;
        }
        return Ok(());
    }
    let mut into = kept;
    for text in &messages {
        write(channel, thread, into.take().as_deref(), text)?;
    }
    if let Some(k) = key {
        kv::delete(&k).map_err(|e| e.message)?;
    }
    Ok(())
}

/// Update message `ts` to `text` (mrkdwn), or post it; the message's ts.
fn write(channel: &str, thread: Option<&str>, ts: Option<&str>, text: &str) -> Result<String, String> {
    if let Some(ts) = ts {
        match call("chat.update", &json!({"channel": channel, "ts": ts, "text": text})) {
            Ok(reply) => return ts_of(&reply),
            // Someone deleted the draft: the reply goes out as a new
            // message, or the job would fail on every retry.
            Err(e) if e.ends_with(": message_not_found") => {}
            Err(e) => return Err(e),
        }
    }
    let mut body = json!({"channel": channel, "text": text});
    if let Some(t) = thread {
        body["thread_ts"] = Value::String(t.to_string());
    }
    ts_of(&call("chat.postMessage", &body)?)
}

fn ts_of(reply: &Value) -> Result<String, String> {
    reply["ts"].as_str().map(str::to_string).ok_or_else(|| "Slack answered without the message's ts".into())
}

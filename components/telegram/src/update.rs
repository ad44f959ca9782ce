//! What a Telegram Update asks of the channel. Pure (JSON in, decisions
//! out), so it is tested natively; `handle` carries the decisions out.

use serde_json::{Value, json};

/// The bot itself, as `getMe` describes it: group messages address it by
/// `@username` or by replying to one of its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub id: i64,
    pub username: String,
}

impl Me {
    /// From `getMe`'s result, or the copy kept in kv.
    pub fn parse(v: &Value) -> Option<Me> {
        Some(Me { id: v["id"].as_i64()?, username: v["username"].as_str()?.to_string() })
    }

    pub fn to_json(&self) -> String {
        json!({"id": self.id, "username": self.username}).to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub id: i64,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Message(Message),
    /// Not for the channel; why, for the log.
    Ignored(String),
}

/// A message with text from a person, in a chat the channel serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub chat: i64,
    /// The sender's user id.
    pub sender: String,
    /// The text, or a photo's (or file's) caption.
    pub text: String,
    /// A private chat with the bot, rather than a group.
    pub direct: bool,
    /// Whose message this one replies to (a user id).
    pub reply_to: Option<i64>,
}

/// What to do about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ask the inbox for a pairing code and show it in `chat`.
    Pair { chat: i64, sender: String },
    /// Hand the text to the agent.
    Send { conversation: String, sender: String, text: String },
    /// Group chatter not meant for the bot: nothing, not even a log line.
    Skip,
}

/// Read an Update.
///
/// # Errors
///
/// When it is not an object with a numeric `update_id` (Telegram never
/// sends one; the webhook answers 400).
pub fn parse(v: &Value) -> Result<Update, String> {
    let id = v.get("update_id").and_then(Value::as_i64).ok_or("the update has no numeric `update_id`")?;
    let body = match v.get("message") {
        Some(m) => message(m).map_or_else(Body::Ignored, Body::Message),
        None => Body::Ignored(format!("a {} update is not handled", kind(v))),
    };
    Ok(Update { id, body })
}

/// An update's kind: the name of the one field beside `update_id`.
fn kind(v: &Value) -> &str {
    let fields = v.as_object().into_iter().flat_map(|o| o.keys());
    fields.map(String::as_str).find(|k| *k != "update_id").unwrap_or("empty")
}

fn message(m: &Value) -> Result<Message, String> {
    let chat = m["chat"]["id"].as_i64().ok_or("a message without a chat is not handled")?;
    let direct = match m["chat"]["type"].as_str() {
        Some("private") => true,
        Some("group" | "supergroup") => false,
        other => return Err(format!("a message in a {} chat is not handled", other.unwrap_or("typeless"))),
    };
    let sender = m["from"]["id"].as_i64().ok_or("a message without a sender is not handled")?;
    let text = m["text"].as_str().or(m["caption"].as_str()).ok_or("a message without text is not handled")?;
    let reply_to = m["reply_to_message"]["from"]["id"].as_i64();
    Ok(Message { chat, sender: sender.to_string(), text: text.to_string(), direct, reply_to })
}

impl Message {
    /// Whether deciding needs the bot's id and username.
    pub fn needs_me(&self) -> bool {
        !self.direct
    }

    /// What to do; `me` is needed for a group message (`needs_me`).
    pub fn action(&self, me: Option<&Me>) -> Action {
        let send =
            |text: String| Action::Send { conversation: self.chat.to_string(), sender: self.sender.clone(), text };
        if self.direct {
            if is_pair_command(&self.text) {
                return Action::Pair { chat: self.chat, sender: self.sender.clone() };
            }
            return send(self.text.clone());
        }
        let Some(me) = me else { return Action::Skip };
        let (text, mentioned) = strip_mention(&self.text, &me.username);
        if mentioned || self.reply_to == Some(me.id) { send(text) } else { Action::Skip }
    }
}

/// `/start` or `/pair`, perhaps as `/start@botname`, perhaps with arguments
/// (a `t.me/bot?start=...` link adds one).
pub fn is_pair_command(text: &str) -> bool {
    let first = text.split_whitespace().next().unwrap_or("");
    let command = first.split('@').next().unwrap_or("");
    command.eq_ignore_ascii_case("/start") || command.eq_ignore_ascii_case("/pair")
}

/// The text without `@username` (any case), trimmed; whether it was there.
/// `@username2` is someone else, not a mention.
pub fn strip_mention(text: &str, username: &str) -> (String, bool) {
    let needle = format!("@{}", username.to_ascii_lowercase());
    // ASCII lowering keeps every byte offset, so positions carry over.
    let lower = text.to_ascii_lowercase();
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let (mut out, mut from, mut found) = (String::new(), 0, false);
    let mut at = 0;
    while let Some(i) = lower[at..].find(&needle).map(|i| at + i) {
        let end = i + needle.len();
        at = end;
        if text[end..].starts_with(name_char) {
            continue;
        }
        found = true;
        out.push_str(&text[from..i]);
        from = end;
        // "ask @bot now" becomes "ask now", not "ask  now".
        let after_space = out.is_empty() || out.ends_with(char::is_whitespace);
        if after_space && text[from..].starts_with(' ') {
            from += 1;
        }
    }
    out.push_str(&text[from..]);
    (out.trim().to_string(), found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Me {
        Me { id: 777, username: "Claw_Bot".into() }
    }

    fn update(id: i64, kind: &str, message: Value) -> Value {
        json!({"update_id": id, kind: message})
    }

    fn text_message(chat_type: &str, text: &str) -> Value {
        json!({"message_id": 5, "chat": {"id": -100123, "type": chat_type}, "from": {"id": 42}, "text": text})
    }

    fn action(v: &Value) -> Action {
        match parse(v).unwrap().body {
            Body::Message(m) => m.action(Some(&me())),
            Body::Ignored(why) => panic!("ignored: {why}"),
        }
    }

    fn ignored(v: &Value) -> String {
        match parse(v).unwrap().body {
            Body::Ignored(why) => why,
            other => panic!("not ignored: {other:?}"),
        }
    }

    fn send(conversation: &str, text: &str) -> Action {
        Action::Send { conversation: conversation.into(), sender: "42".into(), text: text.into() }
    }

    #[test]
    fn a_direct_message_goes_to_the_inbox_as_it_is() {
        let v = update(9, "message", json!({"chat": {"id": 42, "type": "private"}, "from": {"id": 42}, "text": "hi"}));
        assert_eq!(parse(&v).unwrap().id, 9);
        assert_eq!(action(&v), send("42", "hi"));
    }

    #[test]
    fn a_caption_stands_in_for_missing_text() {
        let mut m = text_message("private", "");
        m.as_object_mut().unwrap().remove("text");
        m["caption"] = json!("look at this");
        assert_eq!(action(&update(1, "message", m)), send("-100123", "look at this"));
    }

    #[test]
    fn a_group_message_that_mentions_the_bot_loses_the_mention() {
        let v = update(1, "message", text_message("supergroup", "@claw_bot what is the time?"));
        assert_eq!(action(&v), send("-100123", "what is the time?"));
        let v = update(1, "message", text_message("group", "so, @CLAW_BOT, ask @claw_bot now"));
        assert_eq!(action(&v), send("-100123", "so, , ask now"));
    }

    #[test]
    fn a_group_reply_to_the_bot_addresses_it() {
        let mut m = text_message("group", "and tomorrow?");
        m["reply_to_message"] = json!({"message_id": 4, "from": {"id": 777}, "text": "sunny"});
        assert_eq!(action(&update(1, "message", m)), send("-100123", "and tomorrow?"));
    }

    #[test]
    fn group_chatter_not_for_the_bot_is_skipped() {
        assert_eq!(action(&update(1, "message", text_message("group", "lunch?"))), Action::Skip);
        // Someone else's bot, whose name starts like ours.
        assert_eq!(action(&update(1, "message", text_message("group", "@claw_bot2 hi"))), Action::Skip);
        let mut m = text_message("group", "sure");
        m["reply_to_message"] = json!({"from": {"id": 5}});
        assert_eq!(action(&update(1, "message", m)), Action::Skip);
        let Body::Message(m) = parse(&update(1, "message", text_message("group", "@claw_bot hi"))).unwrap().body else {
            panic!()
        };
        assert!(m.needs_me());
        assert_eq!(m.action(None), Action::Skip);
    }

    #[test]
    fn other_kinds_of_update_are_ignored_by_name() {
        let v = update(3, "edited_message", text_message("private", "hi"));
        assert_eq!(ignored(&v), "a edited_message update is not handled");
        assert_eq!(ignored(&json!({"update_id": 4, "callback_query": {}})), "a callback_query update is not handled");
    }

    #[test]
    fn messages_without_text_or_sender_are_ignored() {
        let mut m = text_message("private", "");
        m.as_object_mut().unwrap().remove("text");
        m["photo"] = json!([]);
        assert_eq!(ignored(&update(1, "message", m)), "a message without text is not handled");
        let mut m = text_message("group", "hi");
        m.as_object_mut().unwrap().remove("from");
        assert_eq!(ignored(&update(1, "message", m)), "a message without a sender is not handled");
    }

    #[test]
    fn an_update_needs_an_id() {
        assert!(parse(&json!({"message": {}})).is_err());
        assert!(parse(&json!([1])).is_err());
    }

    #[test]
    fn start_and_pair_in_a_direct_chat_ask_for_pairing() {
        for text in ["/start", "/start@claw_bot", "/pair", "/start abc123", "  /PAIR  "] {
            assert!(is_pair_command(text), "{text}");
            let v = update(1, "message", text_message("private", text));
            assert_eq!(action(&v), Action::Pair { chat: -100123, sender: "42".into() }, "{text}");
        }
        for text in ["/starts", "start", "please /start", "/help"] {
            assert!(!is_pair_command(text), "{text}");
        }
    }

    #[test]
    fn me_survives_its_trip_through_kv() {
        let kept: Value = serde_json::from_str(&me().to_json()).unwrap();
        assert_eq!(Me::parse(&kept), Some(me()));
        assert_eq!(Me::parse(&json!({"id": 1})), None);
    }
}

//! What an Events API request asks for, as plain data: Slack's URL check,
//! a message for the agent, a person asking to pair, or something this
//! channel leaves alone (and why). Nothing here calls the host.

use serde_json::Value;

/// What to do with one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Slack checks the URL: answer its challenge.
    Challenge(String),
    /// Hand to the agent.
    Send { conversation: String, sender: String, text: String, id: String },
    /// A direct message asking to pair.
    Pair { conversation: String, sender: String },
    /// Not for this channel.
    Ignore(String),
}

/// Read a request's JSON body, or say what is wrong with it.
pub fn parse(body: &[u8]) -> Result<Action, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    match v["type"].as_str() {
        Some("url_verification") => {
            let c = v["challenge"].as_str().ok_or("url_verification without a challenge")?;
            Ok(Action::Challenge(c.to_string()))
        }
        Some("event_callback") => {
            let id = v["event_id"].as_str().ok_or("an event_callback without an event_id")?;
            let me = v["authorizations"][0]["user_id"].as_str();
            Ok(event(&v["event"], id, me))
        }
        Some(other) => Ok(Action::Ignore(format!("a `{other}` request is not handled"))),
        None => Err("the body has no `type`: not an Events API request".into()),
    }
}

fn event(e: &Value, id: &str, me: Option<&str>) -> Action {
    let kind = e["type"].as_str().unwrap_or_default();
    // Bots (our own replies among them) and edits, joins, deletions: never
    // answered, so a reply cannot loop back as a message.
    if e.get("bot_id").is_some() || e.get("subtype").is_some() {
        return Action::Ignore(format!("a {kind} from a bot or with a subtype"));
    }
    let (Some(channel), Some(user), Some(text)) = (e["channel"].as_str(), e["user"].as_str(), e["text"].as_str())
    else {
        return Action::Ignore(format!("a {kind} without a channel, user or text"));
    };
    let thread = e["thread_ts"].as_str();
    match (kind, e["channel_type"].as_str()) {
        ("app_mention", _) => {
            let ts = thread.or(e["ts"].as_str()).unwrap_or_default();
            let text = strip_mentions(text, me);
            if text.is_empty() {
                return Action::Ignore("a mention without text".into());
            }
            Action::Send { conversation: format!("{channel}/{ts}"), sender: user.into(), text, id: id.into() }
        }
        ("message", Some("im")) => {
            let conversation = thread.map_or_else(|| channel.to_string(), |t| format!("{channel}/{t}"));
            let said = text.trim();
            if said.eq_ignore_ascii_case("pair") || said.eq_ignore_ascii_case("/pair") {
                return Action::Pair { conversation, sender: user.into() };
            }
            if said.is_empty() {
                return Action::Ignore("an empty message".into());
            }
            Action::Send { conversation, sender: user.into(), text: said.into(), id: id.into() }
        }
        // In a channel the bot answers when mentioned (an app_mention).
        ("message", _) => Action::Ignore("a channel message that does not mention the bot".into()),
        _ => Action::Ignore(format!("a `{kind}` event is not handled")),
    }
}

/// The text without the bot's `<@U…>` mentions (without `me`, the one
/// leading mention). Only the mentions go: the person's line breaks and
/// spacing (a code block, a list) reach the agent as written.
fn strip_mentions(text: &str, me: Option<&str>) -> String {
    let Some(me) = me else {
        let t = text.trim_start();
        let rest = t.strip_prefix("<@").and_then(|r| r.split_once('>')).map_or(t, |(_, r)| r);
        return rest.trim().to_string();
    };
    let open = format!("<@{me}");
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        // `<@UBOT>` or `<@UBOT|name>`; `<@UBOTX>` is somebody else.
        let end = match after.chars().next() {
            Some('>') => Some(0),
            Some('|') => after.find('>'),
            _ => None,
        };
        let Some(end) = end else {
            out.push_str(&rest[..i + open.len()]);
            rest = after;
            continue;
        };
        out.push_str(&rest[..i]);
        rest = &after[end + 1..];
        // "ask <@UBOT> about it" reads "ask about it", not "ask  about it".
        if out.is_empty() || out.ends_with(' ') {
            rest = rest.strip_prefix(' ').unwrap_or(rest);
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

/// A conversation as the channel names it: the Slack channel, and the
/// thread its replies go in.
pub fn split_conversation(conversation: &str) -> (&str, Option<&str>) {
    match conversation.split_once('/') {
        Some((c, t)) => (c, Some(t)),
        None => (conversation, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cb(event: Value) -> Vec<u8> {
        json!({"type": "event_callback", "event_id": "Ev1", "authorizations": [{"user_id": "UBOT"}], "event": event})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn the_url_check_is_answered_and_bad_bodies_refused() {
        assert_eq!(
            parse(br#"{"type":"url_verification","challenge":"abc"}"#).unwrap(),
            Action::Challenge("abc".into())
        );
        assert!(parse(b"nope").unwrap_err().contains("not JSON"));
        assert!(parse(br#"{"type":"event_callback","event":{}}"#).unwrap_err().contains("event_id"));
        assert!(parse(br#"{}"#).unwrap_err().contains("no `type`"));
        assert!(matches!(parse(br#"{"type":"app_rate_limited"}"#).unwrap(), Action::Ignore(_)));
    }

    #[test]
    fn a_mention_is_answered_in_its_thread_without_the_mention() {
        let a = parse(&cb(json!({"type": "app_mention", "channel": "C1", "user": "U7", "ts": "17.01",
            "text": "<@UBOT> what is up?"})))
        .unwrap();
        assert_eq!(
            a,
            Action::Send {
                conversation: "C1/17.01".into(),
                sender: "U7".into(),
                text: "what is up?".into(),
                id: "Ev1".into()
            }
        );
        assert_eq!(
            strip_mentions("ask <@UBOT> about <@U2>:\n  a\n  b <@UBOT|claw>", Some("UBOT")),
            "ask about <@U2>:\n  a\n  b"
        );
        assert_eq!(strip_mentions("<@UBOTX> hi", Some("UBOT")), "<@UBOTX> hi");
        assert_eq!(strip_mentions(" <@UANY> hi <@U2>", None), "hi <@U2>");
        let a =
            parse(&cb(json!({"type": "app_mention", "channel": "C1", "user": "U7", "ts": "18", "thread_ts": "17.01",
            "text": "<@UBOT> more"})))
            .unwrap();
        assert!(matches!(a, Action::Send { ref conversation, .. } if conversation == "C1/17.01"));
    }

    #[test]
    fn direct_messages_pairing_and_what_is_ignored() {
        let dm = |text: &str, thread: Option<&str>| {
            let mut e = json!({"type": "message", "channel_type": "im", "channel": "D1", "user": "U7", "ts": "1", "text": text});
            if let Some(t) = thread {
                e["thread_ts"] = json!(t);
            }
            parse(&cb(e)).unwrap()
        };
        assert!(matches!(dm("hi", None), Action::Send { ref conversation, .. } if conversation == "D1"));
        assert!(matches!(dm("hi", Some("5.5")), Action::Send { ref conversation, .. } if conversation == "D1/5.5"));
        assert_eq!(dm(" PAIR ", None), Action::Pair { conversation: "D1".into(), sender: "U7".into() });
        for e in [
            json!({"type": "message", "channel_type": "channel", "channel": "C1", "user": "U7", "text": "chatter"}),
            json!({"type": "message", "channel_type": "im", "channel": "D1", "bot_id": "B1", "text": "our own reply"}),
            json!({"type": "message", "channel_type": "im", "channel": "D1", "user": "U7", "subtype": "message_changed", "text": "x"}),
            json!({"type": "reaction_added", "user": "U7"}),
            json!({"type": "message", "channel_type": "im", "channel": "D1", "text": "no user"}),
            json!({"type": "message", "channel_type": "im", "channel": "D1", "user": "U7", "text": "  "}),
            json!({"type": "app_mention", "channel": "C1", "user": "U7", "ts": "1", "text": "<@UBOT> "}),
            json!({"type": "app_mention", "channel": "C1", "bot_id": "B1", "ts": "1", "text": "<@UBOT> hi"}),
        ] {
            assert!(matches!(parse(&cb(e.clone())).unwrap(), Action::Ignore(_)), "{e}");
        }
        assert_eq!(split_conversation("C1/17.01"), ("C1", Some("17.01")));
        assert_eq!(split_conversation("D1"), ("D1", None));
    }
}

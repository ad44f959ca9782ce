//! The webhook's JSON, in and out, as plain data: what a caller sent,
//! and what it is answered. Nothing here calls the host.

use serde_json::{Value, json};

/// The longest a caller may wait on the line, in seconds.
pub const MAX_WAIT_S: u64 = 60;
/// How long a caller without a callback waits by default.
pub const DEFAULT_WAIT_S: u64 = 25;

/// A message as POSTed.
#[derive(Debug, PartialEq, Eq)]
pub struct Incoming {
    pub conversation: String,
    pub text: String,
    /// The caller's id for the message (a retry with it is the same
    /// message); made up when it gives none.
    pub id: Option<String>,
    pub from: String,
    /// Where the answer is also POSTed.
    pub callback_url: Option<String>,
    /// How long to hold the request for the answer.
    pub wait_s: u64,
}

/// Read a POSTed body, or say which field is wrong.
pub fn parse(body: &[u8]) -> Result<Incoming, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    if !v.is_object() {
        return Err("the body must be a JSON object: {\"conversation\", \"text\", \"id\"?, \"callback_url\"?}".into());
    }
    let text_field = |k: &str, required: bool| -> Result<Option<String>, String> {
        match &v[k] {
            Value::Null if !required => Ok(None),
            Value::String(s) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Value::Null => Err(format!("`{k}` is missing")),
            _ => Err(format!("`{k}` must be a non-empty string")),
        }
    };
    let callback_url = text_field("callback_url", false)?;
    if let Some(url) = &callback_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err("`callback_url` must be an http(s) URL".into());
    }
    let wait_s = match &v["wait_s"] {
        Value::Null => {
            if callback_url.is_some() {
                0
            } else {
                DEFAULT_WAIT_S
            }
        }
        w => w.as_u64().filter(|s| *s <= MAX_WAIT_S).ok_or(format!("`wait_s` must be 0 to {MAX_WAIT_S}"))?,
    };
    Ok(Incoming {
        conversation: text_field("conversation", true)?.unwrap_or_default(),
        text: text_field("text", true)?.unwrap_or_default(),
        id: text_field("id", false)?,
        from: text_field("from", false)?.unwrap_or_else(|| "webhook".into()),
        callback_url,
        wait_s,
    })
}

/// What a request asked for, from its method and path.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// POST: a message.
    Send,
    /// GET `…/replies/ID`: the answer to message ID, if ready.
    Reply(String),
    /// Anything else.
    Unknown,
}

/// Route `method` and `path` (`/channels/NAME[/…]`).
pub fn route(method: &str, path: &str) -> Route {
    let path = path.split('?').next().unwrap_or_default();
    match (method, path.rsplit_once("/replies/")) {
        ("GET", Some((_, id))) if !id.is_empty() && !id.contains('/') => Route::Reply(id.to_string()),
        ("POST", None) => Route::Send,
        _ => Route::Unknown,
    }
}

/// The base path replies are polled under: the path up to the channel.
pub fn poll_path(path: &str, id: &str) -> String {
    let path = path.split('?').next().unwrap_or_default().trim_end_matches('/');
    format!("{path}/replies/{id}")
}

/// The answer's body: 200 with it, or 202 while it is being written.
pub fn answered(id: &str, conversation: Option<&str>, answer: Option<(&str, bool)>, poll: &str) -> (u16, String) {
    let (status, v) = match answer {
        Some((text, notice)) => (200, json!({"id": id, "conversation": conversation, "reply": text, "notice": notice})),
        None => (202, json!({"id": id, "conversation": conversation, "status": "pending", "poll": poll})),
    };
    (status, v.to_string())
}

/// A callback's body.
pub fn callback(conversation: &str, reply_id: Option<&str>, text: &str, notice: bool) -> String {
    json!({"conversation": conversation, "reply_id": reply_id, "reply": text, "notice": notice}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_needs_a_conversation_and_text_and_waits_unless_it_has_a_callback() {
        let m = parse(br#"{"conversation":"order-7","text":"where is it?","id":"m1"}"#).unwrap();
        assert_eq!(
            (m.conversation.as_str(), m.id.as_deref(), m.from.as_str(), m.wait_s),
            ("order-7", Some("m1"), "webhook", 25)
        );
        let m = parse(br#"{"conversation":"c","text":"t","callback_url":"https://h.example/x"}"#).unwrap();
        assert_eq!(m.wait_s, 0, "a callback means no waiting on the line");
        assert_eq!(parse(br#"{"conversation":"c","text":"t","wait_s":5}"#).unwrap().wait_s, 5);
        for (body, says) in [
            (&b"nope"[..], "not JSON"),
            (b"[1]", "JSON object"),
            (br#"{"text":"t"}"#, "`conversation` is missing"),
            (br#"{"conversation":"c","text":"  "}"#, "`text` must be"),
            (br#"{"conversation":"c","text":"t","id":7}"#, "`id` must be"),
            (br#"{"conversation":"c","text":"t","wait_s":61}"#, "`wait_s` must be 0 to 60"),
            (br#"{"conversation":"c","text":"t","callback_url":"ftp://x"}"#, "http(s) URL"),
        ] {
            let e = parse(body).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn routes_and_answers() {
        assert_eq!(route("POST", "/channels/webhook"), Route::Send);
        assert_eq!(route("GET", "/channels/webhook/replies/m1?x=1"), Route::Reply("m1".into()));
        assert_eq!(route("GET", "/channels/webhook"), Route::Unknown);
        assert_eq!(route("POST", "/channels/webhook/replies/m1"), Route::Unknown);
        assert_eq!(poll_path("/channels/webhook/?a", "m1"), "/channels/webhook/replies/m1");
        let (s, body) = answered("m1", Some("c"), None, "/p");
        assert_eq!(s, 202);
        assert!(body.contains("\"status\":\"pending\"") && body.contains("\"poll\":\"/p\""), "{body}");
        let (s, body) = answered("m1", None, Some(("hi", false)), "/p");
        assert_eq!((s, body.contains("\"reply\":\"hi\"")), (200, true));
        assert!(callback("c", Some("job:3"), "hi", false).contains("\"reply_id\":\"job:3\""));
    }
}

//! The web chat's API: a person's conversations, each one's history, and
//! a message sent in one (its turn queued as a job like every inbound
//! message). Signed in with the login cookie (a send needs the session's
//! CSRF token) or a bearer token. Conversations are stored under the
//! `web` channel as `USER_ID/NAME`: nobody reaches another's.

use super::GatewayError;
use super::serve::{Body, State, json};
use super::users::User;
use crate::jobs::Message;
use bytes::Bytes;

/// The channel web chat conversations are stored under.
pub const CHANNEL: &str = "web";

/// Whether `name` can name a conversation: 1 to 64 of `A-Za-z0-9_-`.
pub fn valid_conversation(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The user of a web chat request: a login session, or a bearer token.
pub(super) async fn user(
    state: &State,
    headers: &http::HeaderMap,
    changes: bool,
    what: &str,
) -> Result<User, GatewayError> {
    if headers.contains_key(http::header::AUTHORIZATION) {
        return super::openai::authenticate(state, headers, what).await;
    }
    let user = super::login::session(state, headers, changes).await?;
    state.limits.take(super::limits::Who::User(user.id), std::time::Instant::now())?;
    Ok(user)
}

/// `GET /api/conversations`.
pub(super) async fn conversations(
    state: &State,
    headers: &http::HeaderMap,
) -> Result<http::Response<Body>, GatewayError> {
    let user = user(state, headers, false, "GET /api/conversations").await?;
    let list =
        state.store.sessions().list_owned(CHANNEL, user.id).await.map_err(|e| GatewayError::Store(e.to_string()))?;
    let items: Vec<_> = list.iter().map(|(id, at)| serde_json::json!({"id": id, "created_ms": at})).collect();
    Ok(json(http::StatusCode::OK, serde_json::json!({"user": user.name, "conversations": items}).to_string()))
}

/// `GET /api/conversations/ID/messages[?after=SEQ]`: what was said, in
/// order (the system prompt left out; a tool call shown by its tool's
/// name); with `after`, only what followed message SEQ (a client catching
/// up after a reconnect).
pub(super) async fn history(
    state: &State,
    headers: &http::HeaderMap,
    id: &str,
    query: Option<&str>,
) -> Result<http::Response<Body>, GatewayError> {
    let after = match query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("after="))) {
        None => 0,
        Some(n) => {
            n.parse::<i64>().map_err(|_| GatewayError::Invalid(format!("`after={n}` is not a message number")))?
        }
    };
    let user = user(state, headers, false, "GET /api/conversations/…/messages").await?;
    let store_error = |e: sqlx::Error| GatewayError::Store(e.to_string());
    let owned = state.store.sessions().list_owned(CHANNEL, user.id).await.map_err(store_error)?;
    if !owned.iter().any(|(c, _)| c == id) {
        return Ok(json(http::StatusCode::OK, serde_json::json!({"id": id, "messages": []}).to_string()));
    }
    let session = state.store.sessions().active(CHANNEL, &format!("{}/{id}", user.id)).await.map_err(store_error)?;
    let messages = state.store.sessions().messages(&session.id, 0).await.map_err(store_error)?;
    let messages: Vec<_> = messages.into_iter().filter(|m| m.seq > after).collect();
    let shown: Vec<_> = messages
        .iter()
        .filter(|m| m.role == "user" || m.role == "assistant")
        .map(|m| {
            let tools: Vec<&str> = m.tool_calls.iter().map(|c| c.name.as_str()).collect();
            serde_json::json!({"seq": m.seq, "role": m.role, "text": m.content, "tools": tools})
        })
        .collect();
    Ok(json(http::StatusCode::OK, serde_json::json!({"id": id, "messages": shown}).to_string()))
}

#[derive(serde::Deserialize)]
struct Send {
    text: String,
}

/// `POST /api/conversations/ID/messages` with `{"text"}`: the reply.
pub(super) async fn send(
    state: &State,
    headers: &http::HeaderMap,
    id: &str,
    body: &Bytes,
) -> Result<http::Response<Body>, GatewayError> {
    let user = user(state, headers, true, "POST /api/conversations/…/messages").await?;
    let sent: Send = serde_json::from_slice(body)
        .map_err(|e| GatewayError::Invalid(format!("the body is not a message (`{{\"text\": \"…\"}}`): {e}")))?;
    if sent.text.trim().is_empty() {
        return Err(GatewayError::Invalid("`text` is empty".into()));
    }
    let conversation = format!("{}/{id}", user.id);
    let key = super::turn::key_header(headers, "idempotency-key").map(|k| format!("{CHANNEL}:{}:{k}", user.id));
    let message = Message {
        channel: CHANNEL,
        conversation: &conversation,
        text: &sent.text,
        idempotency_key: key,
        origin: None,
        deliver: false,
        stranger: None,
    };
    let (job, reply) = super::turn::run(state, &message).await?;
    let body = serde_json::json!({"job": job, "reply": reply.text, "notice": reply.notice});
    Ok(json(http::StatusCode::OK, body.to_string()))
}

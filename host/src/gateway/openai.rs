//! The OpenAI-compatible API: `GET /v1/models` and `POST
//! /v1/chat/completions`, so any OpenAI client can talk to the agent. Each
//! client authenticates with its own token (`claw user add NAME --client`);
//! a request is one real agent turn (its tools, identity and memory),
//! queued as a job like every inbound message, in a conversation of that
//! client's alone.
//!
//! The agent keeps each conversation's history itself: of the messages a
//! client sends, the last user message is the turn; the conversation is
//! the `x-claw-conversation` header, or else the digest of the first user
//! message, so a client that resends its history stays in one session.

use super::GatewayError;
use super::serve::{Body, State, json};
use super::turn::key_header;
use super::users::User;
use crate::jobs::Message;
use bytes::Bytes;
use sha2::Digest as _;

/// The one model this API serves: the agent.
pub const MODEL: &str = "claw";

/// The channel API conversations are stored under.
pub const CHANNEL: &str = "api";

/// The user a request's bearer token belongs to; a missing or unknown one
/// is audited (never the token) and refused.
pub(super) async fn authenticate(state: &State, headers: &http::HeaderMap, what: &str) -> Result<User, GatewayError> {
    let presented = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let why = match presented {
        None => "no bearer token",
        Some(token) => match state.store.users().authenticate(token).await {
            Ok(Some(user)) => {
                state.limits.take(super::limits::Who::User(user.id), std::time::Instant::now())?;
                return Ok(user);
            }
            Ok(None) => "a token that belongs to no user",
            Err(e) => return Err(GatewayError::Store(e.to_string())),
        },
    };
    state.runtime.boundary().note("gateway", "deny", &format!("{what}: {why}")).await;
    Err(GatewayError::Unauthenticated)
}

/// `GET /v1/models`.
pub(super) async fn models(state: &State, headers: &http::HeaderMap) -> Result<http::Response<Body>, GatewayError> {
    authenticate(state, headers, "GET /v1/models").await?;
    let body = serde_json::json!({"object": "list", "data": [
        {"id": MODEL, "object": "model", "created": 0, "owned_by": "claw"}
    ]});
    Ok(json(http::StatusCode::OK, body.to_string()))
}

#[derive(Debug, serde::Deserialize)]
struct ChatRequest {
    model: String,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
}

#[derive(Debug, serde::Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

/// A message's content: a string, or parts of which the text ones count.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, serde::Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

impl ChatMessage {
    fn text(&self) -> String {
        match &self.content {
            None => String::new(),
            Some(Content::Text(t)) => t.clone(),
            Some(Content::Parts(parts)) => parts
                .iter()
                .filter(|p| p.kind == "text")
                .filter_map(|p| p.text.as_deref())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// `POST /v1/chat/completions`.
pub(super) async fn chat(
    state: &std::sync::Arc<State>,
    headers: &http::HeaderMap,
    body: &Bytes,
) -> Result<http::Response<Body>, GatewayError> {
    let user = authenticate(state, headers, "POST /v1/chat/completions").await?;
    let request: ChatRequest = serde_json::from_slice(body)
        .map_err(|e| GatewayError::Invalid(format!("the body is not a chat completion request: {e}")))?;
    if request.model != MODEL {
        return Err(GatewayError::Invalid(format!(
            "the model `{}` does not exist here: this API serves one model, `{MODEL}` (the agent)",
            request.model
        )));
    }
    let last = request.messages.last().ok_or_else(|| GatewayError::Invalid("`messages` is empty".into()))?;
    let text = last.text();
    if last.role != "user" || text.trim().is_empty() {
        return Err(GatewayError::Invalid("the last of `messages` must be a user message with text".into()));
    }
    let conversation = match key_header(headers, "x-claw-conversation") {
        Some(c) => c.to_string(),
        None => {
            let first = request.messages.iter().find(|m| m.role == "user").map(ChatMessage::text).unwrap_or_default();
            format!("chat-{}", &hex::encode(sha2::Sha256::digest(first.as_bytes()))[..16])
        }
    };
    // The user's id first: no client can name another's conversation.
    let conversation = format!("{}/{conversation}", user.id);
    let message = Message {
        channel: CHANNEL,
        conversation: &conversation,
        text: &text,
        idempotency_key: key_header(headers, "idempotency-key").map(|k| format!("{CHANNEL}:{}:{k}", user.id)),
        origin: None,
        deliver: false,
        stranger: None,
    };
    let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if request.stream {
        // Listening before the turn is queued: nothing of it is missed.
        let live = state.runtime.feeds().subscribe(&crate::agent::events::key(CHANNEL, &conversation), None).live;
        let (place, job) = super::turn::queue(state, &message).await?;
        let completion = super::stream::Completion { id: format!("chatcmpl-{job}"), created, job, live, place };
        let (mut response, tx) = super::stream::response();
        tokio::spawn(completion.run(state.clone(), tx));
        with_job(&mut response, job);
        return Ok(response);
    }
    let (job, reply) = super::turn::run(state, &message).await?;
    if reply.notice {
        return Err(GatewayError::Agent(reply.text.trim_start_matches("error: ").to_string()));
    }
    let body = serde_json::json!({
        "id": format!("chatcmpl-{job}"), "object": "chat.completion", "created": created, "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    });
    let mut response = json(http::StatusCode::OK, body.to_string());
    with_job(&mut response, job);
    Ok(response)
}

/// The `x-claw-job` header: which job ran the turn (`claw jobs show ID`).
fn with_job(response: &mut http::Response<Body>, job: i64) {
    if let Ok(v) = http::HeaderValue::from_str(&job.to_string()) {
        response.headers_mut().insert("x-claw-job", v);
    }
}

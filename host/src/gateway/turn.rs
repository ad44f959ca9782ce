//! A message from the gateway to the agent, the same for the API and the
//! web chat: a place among the turns waited for at once, the turn queued
//! as a job (the pool woken), and the wait for its reply.

use super::GatewayError;
use super::serve::State;
use crate::jobs::Message;
use crate::jobs::kinds::TurnResult;
use std::time::Duration;

/// How long a request waits for its turn (which goes on after that).
const TURN_TIMEOUT: Duration = Duration::from_secs(300);

/// A header value fit to be part of a key (a delivery id, an
/// `Idempotency-Key`, a conversation): printable ASCII, 1 to 200 bytes.
pub(super) fn key_header<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.chars().all(|c| c.is_ascii_graphic()))
}

/// Queue `message`'s turn and wait for it: its job and its reply.
///
/// # Errors
///
/// [`GatewayError::Busy`] when every place is taken (nothing queued),
/// `Store` when it cannot be queued, `Timeout` when the turn runs on past
/// the wait.
pub(super) async fn run(state: &State, message: &Message<'_>) -> Result<(i64, TurnResult), GatewayError> {
    // The reply comes from the conversation's feed the moment the turn
    // ends in this process, or from the store (a turn another process ran,
    // one that failed and will be retried).
    let feed = crate::agent::events::key(message.channel, message.conversation);
    let mut live = state.runtime.feeds().subscribe(&feed, None).live;
    let (_place, id) = queue(state, message).await?;
    let turn = format!("job:{id}");
    let from_feed = async {
        loop {
            match live.recv().await {
                Ok(e) if e.turn == turn => {
                    if let crate::agent::events::Event::Done { text } = e.event {
                        return TurnResult { text, notice: false };
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    };
    let either = async {
        tokio::select! {
            reply = from_feed => reply,
            reply = state.store.wait_reply(id) => reply,
        }
    };
    let reply = tokio::time::timeout(TURN_TIMEOUT, either).await.map_err(|_| {
        GatewayError::Timeout(format!(
            "the turn is still running after {} s; it is job {id} (`claw jobs show {id}`)",
            TURN_TIMEOUT.as_secs(),
        ))
    })?;
    Ok((id, reply))
}

/// Take a place and queue `message`'s turn: the place (held while the turn
/// is waited on) and the job.
///
/// # Errors
///
/// As [`run`], without the timeout.
pub(super) async fn queue(
    state: &State,
    message: &Message<'_>,
) -> Result<(tokio::sync::OwnedSemaphorePermit, i64), GatewayError> {
    let place = state.limits.turn()?;
    let queued = state.store.enqueue_message(message).await.map_err(|e| GatewayError::Store(e.to_string()))?;
    state.wake.notify_waiters();
    Ok((place, queued.id))
}

//! An inbound message as a job, the same for every channel (the terminal,
//! the gateway's API and web chat, Telegram, Slack): its turn is queued
//! durably (one at a time per conversation, in order; a provider's retry of
//! one message is one job by its idempotency key), the routines waiting for
//! such a message fire, and whoever received it waits for the reply.

use super::action::{AGENT_TURN, Turn};
use super::kinds::TurnResult;
use super::{Enqueued, JobState, NewJob};
use crate::problem::Problem;
use crate::store::Store;
use std::time::Duration;

/// A message for the agent.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    /// The channel it came in on (`repl`, `api`, `telegram`).
    pub channel: &'a str,
    /// The conversation within the channel.
    pub conversation: &'a str,
    /// What was said.
    pub text: &'a str,
    /// The sender's id for this message, when it has one (Telegram's
    /// `update_id`, a client's `Idempotency-Key`): a second delivery of
    /// the same key queues nothing.
    pub idempotency_key: Option<String>,
    /// The process that received it (`host:pid`).
    pub origin: Option<String>,
    /// Deliver the reply through the channel component (its inbox's
    /// messages), rather than to whoever waits.
    pub deliver: bool,
    /// The sender, when they are not one of the operator's own (unpaired):
    /// the agent reads what they said as external content.
    pub stranger: Option<&'a str>,
}

impl Store {
    /// Queue `message`'s turn and fire the routines waiting for such a
    /// message (on its first delivery only). The caller wakes its pool.
    ///
    /// # Errors
    ///
    /// The store failed: nothing was queued.
    pub async fn enqueue_message(&self, message: &Message<'_>) -> Result<Enqueued, Problem> {
        let turn = Turn {
            channel: message.channel.into(),
            conversation: message.conversation.into(),
            text: message.text.into(),
            origin: message.origin.clone(),
            deliver: message.deliver,
            stranger: message.stranger.map(str::to_string),
        };
        let mut job = NewJob::new(AGENT_TURN, &serde_json::to_value(&turn).unwrap_or_default());
        job.queue_key = Some(format!("{}:{}", message.channel, message.conversation));
        job.idempotency_key.clone_from(&message.idempotency_key);
        job.max_attempts = 3;
        let queued =
            self.jobs().enqueue(&job).await.map_err(|e| Problem::new(format!("queueing the message failed: {e}")))?;
        if queued.created
            && let Err(e) = self
                .routines()
                .fire_message(message.channel, message.text, &format!("job:{}", queued.id), self.now_ms())
                .await
        {
            tracing::warn!("routines waiting for messages were not fired: {e}");
        }
        Ok(queued)
    }

    /// Wait for turn job `id` to end; its reply, or what went wrong.
    pub async fn wait_reply(&self, id: i64) -> TurnResult {
        let mut pause = Duration::from_millis(2);
        loop {
            match self.jobs().get(id).await {
                Ok(Some(job)) if job.state == JobState::Done => {
                    let result = job.result.unwrap_or_default();
                    return serde_json::from_str(&result).unwrap_or(TurnResult { text: result, notice: false });
                }
                Ok(Some(job)) if job.state.is_final() => {
                    let why = job.last_error.unwrap_or_else(|| job.state.as_str().into());
                    return TurnResult {
                        text: format!("error: the turn (job {id}) {}: {why}", job.state.as_str()),
                        notice: true,
                    };
                }
                Ok(Some(_)) => {}
                Ok(None) => return TurnResult { text: format!("error: job {id} is gone"), notice: true },
                Err(e) => tracing::warn!("reading job {id} failed: {e}"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

//! Jobs: the durable queue everything the agent does on its own runs on.
//!
//! Plain data here (a job, its states, the retry policy); `queue` holds the
//! SQL that moves a job between states on either backend, `worker` the
//! pool that runs them. Execution is at
//! least once: a job is claimed under a lease, and a worker that loses its
//! lease (it hung, its process died, another worker took the job over)
//! can no longer complete, fail or renew it — every such write names the
//! lease epoch it claimed at, and a later claim has moved the epoch on.

pub mod action;
mod beats;
mod deliver;
mod inspect;
pub mod kinds;
mod messages;
mod queue;
mod routine;
pub mod trigger;
mod worker;

pub use beats::{Beat, Beats, GONE_AFTER_MS};
pub use inspect::{Depth, JobFilter};
pub use messages::Message;
pub use queue::{Claimed, Enqueued, NOTIFY_CHANNEL, Queue, QueueError};
pub use routine::{Fired, NewRoutine, Routine, Routines, writer};
pub use trigger::{Schedule, Trigger, duration_ms};
pub use worker::{Handler, Handlers, OnTakeover, Outcome, Pool, PoolConfig};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting to be claimed (from `run_after_ms` on).
    Available,
    /// Claimed by a worker under a lease.
    Running,
    /// Failed, waiting for its next attempt (from `run_after_ms` on).
    Retrying,
    /// Finished.
    Done,
    /// Failed its last attempt; `last_error` says why.
    Failed,
    /// Cancelled by the operator before it finished.
    Cancelled,
}

impl JobState {
    /// Its name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Available => "available",
            JobState::Running => "running",
            JobState::Retrying => "retrying",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(name: &str) -> Option<JobState> {
        [
            JobState::Available,
            JobState::Running,
            JobState::Retrying,
            JobState::Done,
            JobState::Failed,
            JobState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// Whether the job has ended (nothing more will run it).
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed | JobState::Cancelled)
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// What runs it (`agent.turn`, `routine.fire`, ...).
    pub kind: String,
    /// Its input, JSON.
    pub payload: String,
    /// Jobs with the same key run one at a time, in the order enqueued
    /// (one conversation, one routine).
    pub queue_key: Option<String>,
    /// A second enqueue with the same key is a no-op (a provider's retry of
    /// one webhook, one routine's one tick).
    pub idempotency_key: Option<String>,
    /// Attempts before it is `failed` (the kind's maximum).
    pub max_attempts: u32,
    /// Not before this time (ms since the epoch); `None`: now.
    pub run_after_ms: Option<i64>,
}

impl NewJob {
    /// A job of `kind` with `payload`, one attempt, no keys, due now.
    pub fn new(kind: &str, payload: &serde_json::Value) -> NewJob {
        NewJob {
            kind: kind.to_string(),
            payload: payload.to_string(),
            queue_key: None,
            idempotency_key: None,
            max_attempts: 1,
            run_after_ms: None,
        }
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Its id, in enqueue order.
    pub id: i64,
    /// What runs it.
    pub kind: String,
    /// Its input, JSON.
    pub payload: String,
    /// Its serial queue, if any.
    pub queue_key: Option<String>,
    /// Its idempotency key, if any.
    pub idempotency_key: Option<String>,
    /// Where it is.
    pub state: JobState,
    /// Claims so far.
    pub attempts: u32,
    /// Attempts before it is `failed`.
    pub max_attempts: u32,
    /// Not claimed before this (ms).
    pub run_after_ms: i64,
    /// The worker holding it (while running).
    pub lease_owner: Option<String>,
    /// When that lease runs out (ms).
    pub lease_expires_ms: Option<i64>,
    /// Grows with every claim: the fence.
    pub lease_epoch: i64,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// What it produced, when done (a turn's reply, a routine's report).
    pub result: Option<String>,
    /// When it was enqueued (ms).
    pub created_ms: i64,
    /// When it last changed (ms).
    pub updated_ms: i64,
}

/// When a failed attempt is tried again: exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay (ms).
    pub base_ms: u64,
    /// No delay is longer (ms).
    pub cap_ms: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base_ms: 1_000, cap_ms: 10 * 60_000 }
    }
}

impl Backoff {
    /// The delay after failed attempt number `attempt` (from 1): half of
    /// `base · 2^(attempt-1)` (capped) plus a random share of the other
    /// half, so workers that failed together do not retry together.
    /// `unit` is the random share, in [0, 1).
    pub fn delay_ms(&self, attempt: u32, unit: f64) -> u64 {
        let exp = self.base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(32)).min(self.cap_ms);
        exp / 2 + ((exp - exp / 2) as f64 * unit.clamp(0.0, 1.0)) as u64
    }

    /// [`Backoff::delay_ms`] with a fresh random share.
    pub fn random_delay_ms(&self, attempt: u32) -> u64 {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        self.delay_ms(attempt, (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_know_when_they_end() {
        for s in [
            JobState::Available,
            JobState::Running,
            JobState::Retrying,
            JobState::Done,
            JobState::Failed,
            JobState::Cancelled,
        ] {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobState::parse("finished"), None);
        assert!(JobState::Done.is_final() && JobState::Cancelled.is_final() && !JobState::Retrying.is_final());
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter_in_the_upper_half() {
        let b = Backoff { base_ms: 1_000, cap_ms: 60_000 };
        assert_eq!((b.delay_ms(1, 0.0), b.delay_ms(1, 0.999_999)), (500, 999));
        assert_eq!((b.delay_ms(3, 0.0), b.delay_ms(3, 0.5)), (2_000, 3_000));
        assert_eq!(b.delay_ms(40, 0.0), 30_000, "capped, and no overflow however many attempts");
        for attempt in 1..10 {
            let d = b.random_delay_ms(attempt);
            let exp = (1_000u64 << (attempt - 1)).min(60_000);
            assert!((exp / 2..=exp).contains(&d), "attempt {attempt}: {d}");
        }
    }
}

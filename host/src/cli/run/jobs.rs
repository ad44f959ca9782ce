//! `claw run`'s share of the job queue: the worker pool (`[jobs]`), the
//! ticker that fires due routines, the heartbeat routine (`[heartbeat]`),
//! and the terminal's messages, each a job whose result the terminal
//! delivers.

use crate::cli::Printer;
use crate::config::Config;
use crate::jobs::action::{AGENT_TURN, Action, HEARTBEAT, Turn};
use crate::jobs::kinds::{self, TurnResult};
use crate::jobs::{Claimed, JobState, NewRoutine, Pool, PoolConfig, Trigger};
use crate::problem::Problem;
use crate::runtime::Runtime;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// How often due routines and changed documents are looked for.
const TICK: Duration = Duration::from_millis(500);

/// How often the process and its workers write their heartbeat.
const BEAT: Duration = Duration::from_secs(5);

/// The heartbeat routine's name.
pub const HEARTBEAT_ROUTINE: &str = "heartbeat";

/// This process's name in leases and beats: `host:pid`.
pub fn process_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// The queue as `claw run` uses it.
pub(super) struct Jobs {
    store: Store,
    pool: Pool,
    ticker: tokio::task::JoinHandle<()>,
}

/// Start the pool and the ticker, and set up the heartbeat routine.
///
/// # Errors
///
/// The store cannot be opened, or `[jobs]` is wrong.
pub(super) async fn start(
    runtime: &Arc<Runtime>,
    agent: crate::agent::Agent,
    printer: Printer,
) -> Result<Jobs, Problem> {
    let config = Config::load(runtime.home())?;
    let (workers, lease, poll) = config.jobs.resolved()?;
    let store = runtime.services().store.get().await.map_err(Problem::new)?.clone();
    heartbeat_routine(&store, runtime, &config, printer).await;
    let notes: kinds::Notes = Arc::new(move |note| printer.note(note));
    let handlers = kinds::handlers(runtime.clone(), agent, notes);
    let boundary = runtime.boundary().clone();
    let on_takeover: crate::jobs::OnTakeover = Arc::new(move |c: &Claimed| {
        let from = c.took_over_from.clone().unwrap_or_default();
        let rule = format!(
            "job {} ({}) taken over by {} from {from}, whose lease expired; attempt {}",
            c.job.id,
            c.job.kind,
            c.job.lease_owner.clone().unwrap_or_default(),
            c.job.attempts
        );
        let boundary = boundary.clone();
        tokio::spawn(async move { boundary.note("claw", "takeover", &rule).await });
    });
    let pool_config = PoolConfig { workers, owner: process_name(), lease, poll, beat: Some(BEAT) };
    let pool = Pool::start(store.clone(), handlers, pool_config, Some(on_takeover));
    let ticker = tokio::spawn(tick(store.clone(), pool.waker(), printer));
    Ok(Jobs { store, pool, ticker })
}

/// Fire due clock routines and document routines; wake the pool for them.
async fn tick(store: Store, wake: Arc<tokio::sync::Notify>, printer: Printer) {
    let mut failing = false;
    loop {
        let now = store.now_ms();
        let fired = async {
            let mut all = store.routines().fire_due(now).await?;
            all.extend(store.routines().fire_documents(now).await?);
            Ok::<_, Problem>(all)
        };
        match fired.await {
            Ok(fired) => {
                failing = false;
                if fired.iter().any(|f| f.created) {
                    wake.notify_waiters();
                }
            }
            Err(e) if !failing => {
                failing = true;
                printer.note(format!("warning: firing routines failed: {e}"));
            }
            Err(_) => {}
        }
        tokio::time::sleep(TICK).await;
    }
}

/// Keep the heartbeat routine in line with `[heartbeat]`: added when
/// missing, replaced when its period or target changed, removed when
/// `every = "off"`.
async fn heartbeat_routine(store: &Store, runtime: &Runtime, config: &Config, printer: Printer) {
    let hb = &config.heartbeat;
    let routines = store.routines();
    let existing = routines.get(HEARTBEAT_ROUTINE).await.ok();
    let every = hb.every.clone().unwrap_or_else(|| "30m".into());
    if every == "off" {
        if existing.is_some() {
            let _ = routines.remove(HEARTBEAT_ROUTINE, store.now_ms()).await;
        }
        return;
    }
    let Ok(period_ms) = crate::jobs::trigger::duration_ms(&every, "heartbeat.every") else { return };
    let mut action = Action::new("Review HEARTBEAT.md");
    action.deliver.channel.clone_from(&hb.channel);
    action.deliver.conversation.clone_from(&hb.conversation);
    if hb.channel.is_some() {
        action.deliver.document = Some(format!("routines/{HEARTBEAT_ROUTINE}.md"));
    }
    if let Err(e) = kinds::check_action(runtime, &action) {
        printer.note(format!("warning: [heartbeat]: {e}; findings go to routines/{HEARTBEAT_ROUTINE}.md only"));
        action.deliver = Default::default();
    }
    if let Some(r) = &existing {
        let same = matches!(r.trigger, Trigger::Every { period_ms: p, .. } if p == period_ms) && r.action == action;
        if same {
            return;
        }
        let _ = routines.remove(HEARTBEAT_ROUTINE, store.now_ms()).await;
    }
    let new = NewRoutine {
        name: HEARTBEAT_ROUTINE.into(),
        trigger: Trigger::Every { period_ms, text: every },
        kind: HEARTBEAT.into(),
        action,
    };
    // Another process adding it at the same moment is fine.
    let _ = routines.add(&new, store.now_ms()).await;
    if let Some(why) = kinds::heartbeat_missing(store).await {
        printer.note(format!(
            "heartbeat: {why}, so the heartbeat has nothing to review; `claw memory write HEARTBEAT.md` gives it a checklist"
        ));
    }
}

/// Wait for turn job `id` to end; its reply, or what went wrong.
pub(super) async fn reply(store: &Store, id: i64) -> TurnResult {
    store.wait_reply(id).await
}

impl Jobs {
    /// A message for the agent: enqueue its turn (one at a time per
    /// conversation, in order), fire the routines waiting for such a
    /// message, and wake a worker. Returns the job.
    pub(super) async fn message(&self, channel: &str, conversation: &str, text: &str) -> Result<i64, Problem> {
        let origin = Some(process_name());
        let message = crate::jobs::Message {
            channel,
            conversation,
            text,
            idempotency_key: None,
            origin,
            deliver: false,
            stranger: None,
        };
        let id = self.store.enqueue_message(&message).await?.id;
        self.pool.wake();
        Ok(id)
    }

    /// Wait for a turn's job to end; its reply, or what went wrong.
    pub(super) async fn reply(&self, id: i64) -> TurnResult {
        reply(&self.store, id).await
    }

    /// Terminal turns a `claw run` that is gone left unfinished (it was
    /// killed): their conversation and job, to wait for and deliver here
    /// once whoever takes them over finishes. A live process's turns are
    /// its own terminal's.
    pub(super) async fn orphans(&self, channel: &str) -> Vec<(String, i64)> {
        let beats = self.store.beats().list().await.unwrap_or_default();
        let now = self.store.now_ms();
        let alive = |origin: &str| {
            let (host, pid) = origin.rsplit_once(':').unwrap_or((origin, ""));
            let me = process_name();
            if me.rsplit_once(':').map(|(h, _)| h) == Some(host) {
                // This machine: the process table knows.
                return !pid.is_empty() && std::path::Path::new(&format!("/proc/{pid}")).exists();
            }
            beats.iter().any(|b| b.process == origin && now - b.beat_ms < crate::jobs::GONE_AFTER_MS)
        };
        let mut found = Vec::new();
        for state in [JobState::Available, JobState::Running, JobState::Retrying] {
            let filter = crate::jobs::JobFilter { state: Some(state), kind: Some(AGENT_TURN.into()), limit: 100 };
            for job in self.store.list_jobs(&filter).await.unwrap_or_default() {
                if let Ok(turn) = serde_json::from_str::<Turn>(&job.payload)
                    && turn.channel == channel
                    && !turn.origin.as_deref().is_some_and(alive)
                {
                    found.push((turn.conversation, job.id));
                }
            }
        }
        found.sort_by_key(|(_, id)| *id);
        found
    }

    /// What wakes the pool, for whoever else enqueues (the gateway).
    pub(super) fn waker(&self) -> Arc<tokio::sync::Notify> {
        self.pool.waker()
    }

    /// The store, for tasks that outlive a borrow of this.
    pub(super) fn store(&self) -> Store {
        self.store.clone()
    }

    /// Cancel a turn (Ctrl-C): in the store, and at once if it runs here.
    pub(super) async fn cancel(&self, id: i64) {
        let _ = self.store.jobs().cancel(id).await;
        self.pool.stop_job(id);
    }

    /// Stop: running jobs get a few seconds to end, then are left to
    /// their leases (another process, or the next start, takes them over).
    pub(super) async fn stop(self) {
        self.ticker.abort();
        self.pool.shutdown_within(Duration::from_secs(5)).await;
    }
}

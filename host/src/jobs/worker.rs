//! A pool of workers in one process: each claims a job, runs the handler of
//! its kind while a heartbeat renews the lease, then completes or fails it.
//! A worker that loses its lease (taken over after it stalled, cancelled)
//! stops the handler and writes nothing: the fence in `queue` would refuse
//! it anyway, this just stops wasted work.

use super::{Backoff, Claimed, Job};
use crate::store::Store;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// What a handler returns: done with its result (kept with the job; empty
/// for none), or the error to record.
pub type Outcome = Result<String, String>;

/// Runs one job of a kind.
pub type Handler = Arc<dyn Fn(Job) -> Pin<Box<dyn Future<Output = Outcome> + Send>> + Send + Sync>;

/// Called when a claim took over an expired lease (for the audit log).
pub type OnTakeover = Arc<dyn Fn(&Claimed) + Send + Sync>;

/// The handlers by kind, each with its retry policy.
#[derive(Default, Clone)]
pub struct Handlers(HashMap<String, (Handler, Backoff)>);

impl Handlers {
    /// Run jobs of `kind` with `handler`, retrying after `backoff`.
    #[must_use]
    pub fn with(mut self, kind: &str, backoff: Backoff, handler: Handler) -> Handlers {
        self.0.insert(kind.to_string(), (handler, backoff));
        self
    }
}

/// How a pool runs.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Workers (jobs in parallel).
    pub workers: usize,
    /// This process's name in leases (`host:pid`); worker `i` is `NAME/i`.
    pub owner: String,
    /// How long a claim holds without renewal; renewed every third of it.
    pub lease: Duration,
    /// How often an idle worker looks for work it was not woken for (jobs
    /// another process enqueued, backoffs running out).
    pub poll: Duration,
    /// How often the process and its workers write their heartbeat
    /// (`beats`); `None`: never.
    pub beat: Option<Duration>,
}

/// One worker as the pool sees it: the job it runs (0: none), and how to
/// stop that job at once (an operator's cancel in this process).
#[derive(Default)]
struct Slot {
    job: std::sync::atomic::AtomicI64,
    /// The job to stop (compared, so a late stop never hits the next job).
    cancel: std::sync::atomic::AtomicI64,
    stop: Notify,
}

impl Slot {
    /// Returns once job `id` is to stop.
    async fn stopped(&self, id: i64) {
        loop {
            let woken = self.stop.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.cancel.load(std::sync::atomic::Ordering::SeqCst) == id {
                return;
            }
            woken.await;
        }
    }
}

/// A running pool; [`Pool::shutdown`] lets running jobs finish.
pub struct Pool {
    /// Workers waiting for work now.
    idle: Arc<std::sync::atomic::AtomicUsize>,
    slots: Arc<Vec<Slot>>,
    stop: watch::Sender<bool>,
    wake: Arc<Notify>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Pool {
    /// Start `config.workers` workers on `store`.
    pub fn start(store: Store, handlers: Handlers, config: PoolConfig, on_takeover: Option<OnTakeover>) -> Pool {
        let (stop, stopped) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let handlers = Arc::new(handlers);
        let idle = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let slots: Arc<Vec<Slot>> = Arc::new((0..config.workers.max(1)).map(|_| Slot::default()).collect());
        let mut tasks: Vec<_> = (0..config.workers.max(1))
            .map(|i| {
                let worker = Worker {
                    store: store.clone(),
                    handlers: handlers.clone(),
                    owner: format!("{}/{i}", config.owner),
                    lease: config.lease,
                    poll: config.poll,
                    wake: wake.clone(),
                    stopped: stopped.clone(),
                    on_takeover: on_takeover.clone(),
                    idle: idle.clone(),
                    slots: slots.clone(),
                    index: i,
                };
                tokio::spawn(worker.run())
            })
            .collect();
        if let crate::store::Db::Postgres(pg) = store.db() {
            tasks.push(tokio::spawn(listen(pg.clone(), wake.clone(), stopped.clone())));
        }
        if let Some(every) = config.beat {
            tasks.push(tokio::spawn(beat(store, config.owner.clone(), slots.clone(), every, stopped)));
        }
        Pool { idle, slots, stop, wake, tasks }
    }

    /// The jobs the workers run now.
    pub fn running(&self) -> Vec<i64> {
        self.slots.iter().map(|s| s.job.load(std::sync::atomic::Ordering::SeqCst)).filter(|&j| j != 0).collect()
    }

    /// Stop job `id` at once if a worker of this pool runs it (after the
    /// operator cancelled it in the store; another process's worker finds
    /// out at its next renewal). True when one did.
    pub fn stop_job(&self, id: i64) -> bool {
        let mut found = false;
        for s in self.slots.iter().filter(|s| s.job.load(std::sync::atomic::Ordering::SeqCst) == id) {
            s.cancel.store(id, std::sync::atomic::Ordering::SeqCst);
            s.stop.notify_waiters();
            found = true;
        }
        found
    }

    /// Workers waiting for work now (the rest are running a job or
    /// looking for one).
    pub fn idle(&self) -> usize {
        self.idle.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Look for work now (after an enqueue in this process).
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// What [`Pool::wake`] notifies, for a task that enqueues (a ticker).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Stop claiming; wait for the jobs running now to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.wake.notify_waiters();
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// [`Pool::shutdown`], but jobs still running after `grace` are
    /// abandoned with their leases (taken over when those expire).
    pub async fn shutdown_within(self, grace: Duration) {
        let _ = self.stop.send(true);
        self.wake.notify_waiters();
        let deadline = tokio::time::Instant::now() + grace;
        for mut t in self.tasks {
            if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
                t.abort();
            }
        }
    }

    /// Stop at once, as a process that dies does: running jobs are
    /// abandoned with their leases, for another process to take over.
    pub fn abort(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

/// PostgreSQL: wake the pool when any process enqueues (LISTEN/NOTIFY);
/// the poll remains for backoffs running out and a lost connection.
async fn listen(pg: sqlx::PgPool, wake: Arc<Notify>, mut stopped: watch::Receiver<bool>) {
    let mut listener = match sqlx::postgres::PgListener::connect_with(&pg).await {
        Ok(l) => l,
        Err(e) => return tracing::warn!("jobs: cannot LISTEN for new jobs ({e}); polling only"),
    };
    if let Err(e) = listener.listen(super::NOTIFY_CHANNEL).await {
        return tracing::warn!("jobs: cannot LISTEN for new jobs ({e}); polling only");
    }
    loop {
        tokio::select! {
            n = listener.recv() => match n {
                Ok(_) => wake.notify_waiters(),
                Err(e) => {
                    tracing::warn!("jobs: the LISTEN connection failed ({e}); reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            _ = stopped.changed() => return,
        }
    }
}

/// Write this process's beat and each worker's every `every`; on a clean
/// stop, remove them (and beats of processes gone for a day).
async fn beat(
    store: Store,
    process: String,
    slots: Arc<Vec<Slot>>,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let now = || store.now_ms();
    let started = now();
    let pid = i64::from(std::process::id());
    loop {
        let at = now();
        let mut beats = vec![super::Beat {
            owner: process.clone(),
            process: process.clone(),
            worker: None,
            pid,
            job_id: None,
            started_ms: started,
            beat_ms: at,
        }];
        for (i, s) in slots.iter().enumerate() {
            let job = s.job.load(std::sync::atomic::Ordering::SeqCst);
            beats.push(super::Beat {
                owner: format!("{process}/{i}"),
                process: process.clone(),
                worker: Some(i as i64),
                pid,
                job_id: (job != 0).then_some(job),
                started_ms: started,
                beat_ms: at,
            });
        }
        if let Err(e) = store.beats().write(&beats).await {
            tracing::warn!("jobs: writing the heartbeat failed: {e}");
        }
        // Leases are on the database's clock; follow its drift.
        store.sync_clock().await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped.changed() => {
                let _ = store.beats().forget(&process, now() - 86_400_000).await;
                return;
            }
        }
    }
}

struct Worker {
    store: Store,
    handlers: Arc<Handlers>,
    owner: String,
    lease: Duration,
    poll: Duration,
    wake: Arc<Notify>,
    stopped: watch::Receiver<bool>,
    on_takeover: Option<OnTakeover>,
    idle: Arc<std::sync::atomic::AtomicUsize>,
    slots: Arc<Vec<Slot>>,
    index: usize,
}

impl Worker {
    async fn run(mut self) {
        let lease_ms = self.lease.as_millis() as u64;
        while !*self.stopped.borrow() {
            // Registered before the claim, so a wake-up during it counts.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.store.jobs().claim(&self.owner, lease_ms).await {
                Ok(Some(claimed)) => {
                    if claimed.took_over_from.is_some()
                        && let Some(note) = &self.on_takeover
                    {
                        note(&claimed);
                    }
                    let slot = &self.slots[self.index];
                    slot.job.store(claimed.job.id, std::sync::atomic::Ordering::SeqCst);
                    self.execute(claimed).await;
                    slot.job.store(0, std::sync::atomic::Ordering::SeqCst);
                }
                Ok(None) => {
                    self.idle.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::select! {
                        _ = woken => {}
                        _ = tokio::time::sleep(self.poll) => {}
                        _ = self.stopped.changed() => {}
                    }
                    self.idle.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                }
                Err(e) => {
                    tracing::warn!("{}: claiming a job failed: {e}", self.owner);
                    tokio::time::sleep(self.poll).await;
                }
            }
        }
    }

    async fn execute(&self, claimed: Claimed) {
        let jobs = self.store.jobs();
        let Some((handler, backoff)) = self.handlers.0.get(&claimed.job.kind).cloned() else {
            let why = format!("no handler for jobs of kind `{}` in this claw", claimed.job.kind);
            let _ = jobs.fail(&claimed, &why, Backoff::default()).await;
            return;
        };
        let run = handler(claimed.job.clone());
        // Renew every third of the lease; a refused renewal means the job
        // is someone else's now (or cancelled): stop it.
        let renew = async {
            let lease_ms = self.lease.as_millis() as u64;
            loop {
                tokio::time::sleep(self.lease / 3).await;
                match jobs.heartbeat(&claimed, lease_ms).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!("{}: renewing job {} failed: {e}", self.owner, claimed.job.id),
                }
            }
        };
        let outcome = tokio::select! {
            outcome = run => outcome,
            () = renew => {
                tracing::warn!("{}: lost the lease of job {}; stopped it", self.owner, claimed.job.id);
                return;
            }
            () = self.slots[self.index].stopped(claimed.job.id) => return,
        };
        let written = match outcome {
            Ok(result) => jobs.complete(&claimed, &result).await.map(|done| done.then_some(())),
            Err(why) => jobs.fail(&claimed, &why, backoff).await.map(|s| s.map(|_| ())),
        };
        if let Err(e) = written {
            tracing::warn!("{}: recording job {} failed: {e}", self.owner, claimed.job.id);
        }
    }
}

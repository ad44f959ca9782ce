//! A pool of workers in one process: free workers are filled by one claim,
//! each job runs the handler of its kind while a heartbeat renews the
//! lease, then is completed (in a batch with others) or failed.
//! A worker that loses its lease (taken over after it stalled, cancelled)
//! stops the handler and writes nothing: the fence in `queue` would refuse
//! it anyway, this just stops wasted work.

use super::{Backoff, Claimed, Job};
use crate::store::Store;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicI64, AtomicUsize};
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
    job: AtomicI64,
    /// The job to stop (compared, so a late stop never hits the next job).
    cancel: AtomicI64,
    stop: Notify,
    /// The task running the job, for a shutdown that cannot wait.
    task: std::sync::Mutex<Option<tokio::task::AbortHandle>>,
}

impl Slot {
    /// Returns once job `id` is to stop.
    async fn stopped(&self, id: i64) {
        loop {
            let woken = self.stop.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.cancel.load(SeqCst) == id {
                return;
            }
            woken.await;
        }
    }
}

/// What the claimer, the job tasks and the completer share.
struct Shared {
    store: Store,
    handlers: Handlers,
    owner: String,
    lease: Duration,
    slots: Vec<Slot>,
    /// The slots without a job.
    free: std::sync::Mutex<Vec<usize>>,
    /// Free slots while the claimer waits for work (0 while it claims).
    idle: AtomicUsize,
    /// Rings on an enqueue in this process, a NOTIFY from another, and
    /// whenever a job ends (a slot is free, the next job of its key due).
    wake: Arc<Notify>,
    on_takeover: Option<OnTakeover>,
    /// Finished jobs on their way to the completer.
    done: tokio::sync::mpsc::UnboundedSender<(Claimed, String)>,
}

impl Shared {
    fn owner_of(&self, slot: usize) -> String {
        format!("{}/{slot}", self.owner)
    }

    fn release(&self, slot: usize) {
        self.slots[slot].job.store(0, SeqCst);
        self.free.lock().unwrap_or_else(|e| e.into_inner()).push(slot);
        self.wake.notify_waiters();
    }
}

/// A running pool; [`Pool::shutdown`] lets running jobs finish.
///
/// One claimer fills every free slot with one claim (a single statement
/// on PostgreSQL), each job runs in a task of its own, and one completer
/// writes the finished jobs gathered while its previous write was under
/// way in one transaction: a claim and a completion per batch, not per job.
pub struct Pool {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    claimer: tokio::task::JoinHandle<()>,
    completer: tokio::task::JoinHandle<()>,
    others: Vec<tokio::task::JoinHandle<()>>,
}

impl Pool {
    /// Start `config.workers` workers on `store`.
    pub fn start(store: Store, handlers: Handlers, config: PoolConfig, on_takeover: Option<OnTakeover>) -> Pool {
        let (stop, stopped) = watch::channel(false);
        let workers = config.workers.max(1);
        let (done, finished) = tokio::sync::mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            store: store.clone(),
            handlers,
            owner: config.owner.clone(),
            lease: config.lease,
            slots: (0..workers).map(|_| Slot::default()).collect(),
            free: std::sync::Mutex::new((0..workers).rev().collect()),
            idle: AtomicUsize::new(0),
            wake: Arc::new(Notify::new()),
            on_takeover,
            done,
        });
        let claimer = tokio::spawn(claimer(shared.clone(), config.poll, stopped.clone()));
        let completer = tokio::spawn(completer(store.clone(), shared.wake.clone(), finished));
        let mut others = Vec::new();
        if let crate::store::Db::Postgres(pg) = store.db() {
            others.push(tokio::spawn(listen(pg.clone(), shared.wake.clone(), stopped.clone())));
        }
        if let Some(every) = config.beat {
            others.push(tokio::spawn(beat(store, shared.clone(), every, stopped)));
        }
        Pool { shared, stop, claimer, completer, others }
    }

    /// The jobs the workers run now.
    pub fn running(&self) -> Vec<i64> {
        self.shared.slots.iter().map(|s| s.job.load(SeqCst)).filter(|&j| j != 0).collect()
    }

    /// Stop job `id` at once if a worker of this pool runs it (after the
    /// operator cancelled it in the store; another process's worker finds
    /// out at its next renewal). True when one did.
    pub fn stop_job(&self, id: i64) -> bool {
        let mut found = false;
        for s in self.shared.slots.iter().filter(|s| s.job.load(SeqCst) == id) {
            s.cancel.store(id, SeqCst);
            s.stop.notify_waiters();
            found = true;
        }
        found
    }

    /// Workers waiting for work now (the rest are running a job or
    /// looking for one).
    pub fn idle(&self) -> usize {
        self.shared.idle.load(SeqCst)
    }

    /// Look for work now (after an enqueue in this process).
    pub fn wake(&self) {
        self.shared.wake.notify_waiters();
    }

    /// What [`Pool::wake`] notifies, for a task that enqueues (a ticker).
    pub fn waker(&self) -> Arc<Notify> {
        self.shared.wake.clone()
    }

    /// Stop claiming; wait for the jobs running now to end and their
    /// completions to be written.
    pub async fn shutdown(self) {
        self.shutdown_by(None).await;
    }

    /// [`Pool::shutdown`], but jobs still running after `grace` are
    /// abandoned with their leases (taken over when those expire).
    pub async fn shutdown_within(self, grace: Duration) {
        self.shutdown_by(Some(tokio::time::Instant::now() + grace)).await;
    }

    async fn shutdown_by(self, deadline: Option<tokio::time::Instant>) {
        let Pool { shared, stop, claimer, completer, others } = self;
        let _ = stop.send(true);
        shared.wake.notify_waiters();
        let _ = claimer.await;
        let all_free = async {
            loop {
                let ended = shared.wake.notified();
                tokio::pin!(ended);
                ended.as_mut().enable();
                if shared.free.lock().unwrap_or_else(|e| e.into_inner()).len() == shared.slots.len() {
                    return;
                }
                ended.await;
            }
        };
        let finished = match deadline {
            None => {
                all_free.await;
                true
            }
            Some(at) => tokio::time::timeout_at(at, all_free).await.is_ok(),
        };
        if !finished {
            for s in &shared.slots {
                if let Some(task) = s.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    task.abort();
                }
            }
        }
        // The heartbeat and the listener end on `stop` (the beat removes
        // this process's beats on the way out).
        for t in others {
            let _ = t.await;
        }
        // The completer ends once it has written what it holds and the
        // last sender is gone: ours, and each job task's as it ends.
        drop(shared);
        let _ = completer.await;
    }

    /// Stop at once, as a process that dies does: running jobs are
    /// abandoned with their leases, for another process to take over.
    pub fn abort(self) {
        self.claimer.abort();
        self.completer.abort();
        for s in &self.shared.slots {
            if let Some(task) = s.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
                task.abort();
            }
        }
        for t in self.others {
            t.abort();
        }
    }
}

/// Fill the free slots: claim as many jobs as there are, start each; when
/// fewer came than asked for, wait for a wake-up or the poll.
async fn claimer(shared: Arc<Shared>, poll: Duration, mut stopped: watch::Receiver<bool>) {
    let lease_ms = shared.lease.as_millis() as u64;
    while !*stopped.borrow() {
        // Registered before looking, so a wake-up while we look counts.
        let woken = shared.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let free: Vec<usize> = std::mem::take(&mut *shared.free.lock().unwrap_or_else(|e| e.into_inner()));
        if free.is_empty() {
            tokio::select! {
                _ = woken => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        let owners: Vec<String> = free.iter().map(|&i| shared.owner_of(i)).collect();
        let claimed = match shared.store.jobs().claim_many(&owners, lease_ms).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!("{}: claiming jobs failed: {e}", shared.owner);
                Vec::new()
            }
        };
        let mut unused = free.clone();
        for c in claimed.iter() {
            let Some(at) = owners.iter().position(|o| c.job.lease_owner.as_deref() == Some(o)) else { continue };
            unused.retain(|&s| s != free[at]);
        }
        let full = claimed.len() == free.len();
        for c in claimed {
            let Some(at) = owners.iter().position(|o| c.job.lease_owner.as_deref() == Some(o)) else { continue };
            start(&shared, free[at], c);
        }
        shared.free.lock().unwrap_or_else(|e| e.into_inner()).extend(unused.iter().copied());
        if full {
            // Let the jobs just started run first: short ones end at once,
            // and the next claim then fills many slots, not one.
            tokio::task::yield_now().await;
            continue;
        }
        shared.idle.store(unused.len(), SeqCst);
        let queue = shared.store.jobs();
        let nap = match queue.next_event_ms().await {
            // A millisecond past it: leases expire strictly after their time.
            Ok(Some(at)) => poll.min(Duration::from_millis((at - shared.store.now_ms()).max(0) as u64 + 1)),
            _ => poll,
        };
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep(nap) => {}
            _ = stopped.changed() => {}
        }
        shared.idle.store(0, SeqCst);
    }
}

/// Run one claimed job in `slot`, in a task of its own.
fn start(shared: &Arc<Shared>, slot: usize, claimed: Claimed) {
    if claimed.took_over_from.is_some()
        && let Some(note) = &shared.on_takeover
    {
        note(&claimed);
    }
    let s = &shared.slots[slot];
    s.job.store(claimed.job.id, SeqCst);
    let task = {
        let shared = shared.clone();
        tokio::spawn(async move {
            execute(&shared, slot, claimed).await;
            shared.release(slot);
        })
    };
    *s.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task.abort_handle());
}

/// Write finished jobs: all that arrived while the previous write ran, in
/// one transaction. Ends when every sender is gone and all are written.
async fn completer(
    store: Store,
    wake: Arc<Notify>,
    mut finished: tokio::sync::mpsc::UnboundedReceiver<(Claimed, String)>,
) {
    let mut batch = Vec::new();
    while finished.recv_many(&mut batch, 1024).await > 0 {
        let done: Vec<(&Claimed, &str)> = batch.iter().map(|(c, r)| (c, r.as_str())).collect();
        match store.jobs().complete_many(&done).await {
            Ok(held) => {
                for ((c, _), held) in batch.iter().zip(held) {
                    if !held {
                        tracing::warn!("job {}: its lease was lost before it was recorded as done", c.job.id);
                    }
                }
            }
            // Left running: each is taken over when its lease runs out and
            // runs again (at least once).
            Err(e) => tracing::warn!("recording {} finished jobs failed: {e}", batch.len()),
        }
        batch.clear();
        // The next job of each key is due now.
        wake.notify_waiters();
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
async fn beat(store: Store, shared: Arc<Shared>, every: Duration, mut stopped: watch::Receiver<bool>) {
    let (process, slots) = (shared.owner.clone(), &shared.slots);
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
            let job = s.job.load(SeqCst);
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

/// Run the handler of the job's kind while renewing its lease; hand the
/// result to the completer, or record the failure.
async fn execute(shared: &Shared, slot: usize, claimed: Claimed) {
    let jobs = shared.store.jobs();
    let owner = shared.owner_of(slot);
    let Some((handler, backoff)) = shared.handlers.0.get(&claimed.job.kind).cloned() else {
        let why = format!("no handler for jobs of kind `{}` in this claw", claimed.job.kind);
        let _ = jobs.fail(&claimed, &why, Backoff::default()).await;
        return;
    };
    let run = handler(claimed.job.clone());
    // Renew every third of the lease; a refused renewal means the job is
    // someone else's now (or cancelled): stop it.
    let renew = async {
        let lease_ms = shared.lease.as_millis() as u64;
        loop {
            tokio::time::sleep(shared.lease / 3).await;
            match jobs.heartbeat(&claimed, lease_ms).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!("{owner}: renewing job {} failed: {e}", claimed.job.id),
            }
        }
    };
    let outcome = tokio::select! {
        outcome = run => outcome,
        () = renew => {
            tracing::warn!("{owner}: lost the lease of job {}; stopped it", claimed.job.id);
            return;
        }
        () = shared.slots[slot].stopped(claimed.job.id) => return,
    };
    match outcome {
        // The job stays running under its lease until the completer has
        // written it, so the next job of its key waits for that write.
        Ok(result) => {
            let _ = shared.done.send((claimed, result));
        }
        Err(why) => {
            if let Err(e) = jobs.fail(&claimed, &why, backoff).await {
                tracing::warn!("{owner}: recording job {} failed: {e}", claimed.job.id);
            }
        }
    }
}

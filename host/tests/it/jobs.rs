//! The job queue on both backends: idempotent enqueue, claims in order
//! with one job per queue key at a time, fenced leases and takeover,
//! retries with backoff then `failed`, cancel and retry by id, and
//! concurrent claimers that never share a job. Time is a test clock, so
//! leases and backoff are stepped over, not waited out.

use crate::db::TestDb;
use crate::on_both_backends;
use claw::jobs::action::Action;
use claw::jobs::{Backoff, JobState, NewJob, NewRoutine, QueueError, Trigger};
use serde_json::json;
use std::sync::atomic::{AtomicI64, Ordering};

on_both_backends!(
    a_repeated_idempotency_key_is_a_no_op,
    jobs_of_one_queue_key_run_one_at_a_time_in_order,
    a_worker_whose_lease_was_taken_over_changes_nothing,
    a_failing_job_backs_off_then_fails_keeping_its_error,
    cancel_and_retry_by_id_follow_the_state,
    concurrent_claimers_never_share_a_job,
    one_claim_fills_several_workers_and_one_write_completes_them,
);

const T0: i64 = 1_800_000_000_000;

fn job(kind: &str, key: Option<&str>) -> NewJob {
    NewJob { queue_key: key.map(str::to_string), ..NewJob::new(kind, &json!({"n": kind})) }
}

async fn a_repeated_idempotency_key_is_a_no_op(db: &TestDb) {
    let store = db.store().await;
    let clock = AtomicI64::new(T0);
    let now = || clock.load(Ordering::SeqCst);
    let q = store.jobs_with_clock(&now);
    let first = NewJob { idempotency_key: Some("telegram:update:7".into()), ..job("inbound", None) };
    let a = q.enqueue(&first).await.unwrap();
    let again = NewJob { payload: json!({"other": true}).to_string(), ..first.clone() };
    let b = q.enqueue(&again).await.unwrap();
    assert!(a.created && !b.created);
    assert_eq!(a.id, b.id, "the same job");
    let stored = q.get(a.id).await.unwrap().unwrap();
    assert_eq!(stored.payload, first.payload, "the second enqueue changed nothing");
    assert_eq!(stored.state, JobState::Available);
    // Without a key, two enqueues are two jobs.
    let c = q.enqueue(&job("x", None)).await.unwrap();
    let d = q.enqueue(&job("x", None)).await.unwrap();
    assert_ne!(c.id, d.id);
}

async fn jobs_of_one_queue_key_run_one_at_a_time_in_order(db: &TestDb) {
    let store = db.store().await;
    let clock = AtomicI64::new(T0);
    let now = || clock.load(Ordering::SeqCst);
    let q = store.jobs_with_clock(&now);
    let a = q.enqueue(&job("a", Some("conv-1"))).await.unwrap().id;
    let b = q.enqueue(&job("b", Some("conv-1"))).await.unwrap().id;
    let c = q.enqueue(&job("c", Some("conv-2"))).await.unwrap().id;
    let later = q.enqueue(&NewJob { run_after_ms: Some(T0 + 5_000), ..job("later", None) }).await.unwrap().id;

    let first = q.claim("w1", 30_000).await.unwrap().unwrap();
    assert_eq!((first.job.id, first.job.state, first.job.attempts), (a, JobState::Running, 1));
    let second = q.claim("w2", 30_000).await.unwrap().unwrap();
    assert_eq!(second.job.id, c, "b waits behind a (same key); c's key is free");
    assert!(q.claim("w3", 30_000).await.unwrap().is_none(), "b is blocked, `later` is not due");

    assert!(q.complete(&first, "").await.unwrap());
    let third = q.claim("w3", 30_000).await.unwrap().unwrap();
    assert_eq!(third.job.id, b, "a done: b is next on its key");
    clock.store(T0 + 5_000, Ordering::SeqCst);
    assert_eq!(q.claim("w4", 30_000).await.unwrap().unwrap().job.id, later, "due now");
    assert_eq!(q.get(a).await.unwrap().unwrap().state, JobState::Done);
}

async fn one_claim_fills_several_workers_and_one_write_completes_them(db: &TestDb) {
    let store = db.store().await;
    let clock = AtomicI64::new(T0);
    let now = || clock.load(Ordering::SeqCst);
    let q = store.jobs_with_clock(&now);
    let hung = q.enqueue(&job("hung", None)).await.unwrap().id;
    let stale = q.claim("gone/0", 1_000).await.unwrap().unwrap();
    let a1 = q.enqueue(&job("a1", Some("a"))).await.unwrap().id;
    let _a2 = q.enqueue(&job("a2", Some("a"))).await.unwrap().id;
    let b1 = q.enqueue(&job("b1", Some("b"))).await.unwrap().id;
    let free = q.enqueue(&job("free", None)).await.unwrap().id;
    clock.store(T0 + 2_000, Ordering::SeqCst);
    let owners: Vec<String> = (0..5).map(|i| format!("p/{i}")).collect();
    let claimed = q.claim_many(&owners, 30_000).await.unwrap();
    let ids: Vec<i64> = claimed.iter().map(|c| c.job.id).collect();
    assert_eq!(ids, vec![hung, a1, b1, free], "the expired lease first, then due heads of keys; a2 waits behind a1");
    assert_eq!(claimed[0].took_over_from.as_deref(), Some("gone/0"));
    let mut holders: Vec<String> = claimed.iter().map(|c| c.job.lease_owner.clone().unwrap()).collect();
    holders.sort();
    holders.dedup();
    assert_eq!(holders.len(), 4, "each job went to a worker of its own: {holders:?}");
    assert!(holders.iter().all(|h| owners.contains(h)));
    // One write for all: the stale holder's entry changes nothing, the others are done.
    let mut done: Vec<(&claw::jobs::Claimed, &str)> = claimed.iter().map(|c| (c, "ok")).collect();
    done.push((&stale, "late"));
    assert_eq!(q.complete_many(&done).await.unwrap(), vec![true, true, true, true, false]);
    let hung_now = q.get(hung).await.unwrap().unwrap();
    assert_eq!((hung_now.state, hung_now.result.as_deref()), (JobState::Done, Some("ok")), "not the stale result");
    assert!(q.claim_many(&owners[..1], 30_000).await.unwrap().len() == 1, "a2 is free now");
}

async fn a_worker_whose_lease_was_taken_over_changes_nothing(db: &TestDb) {
    let store = db.store().await;
    let clock = AtomicI64::new(T0);
    let now = || clock.load(Ordering::SeqCst);
    let q = store.jobs_with_clock(&now);
    let id = q.enqueue(&NewJob { max_attempts: 5, ..job("slow", Some("k")) }).await.unwrap().id;
    let hung = q.claim("w1", 1_000).await.unwrap().unwrap();
    // Renewed in time, the lease holds.
    clock.store(T0 + 900, Ordering::SeqCst);
    assert!(q.heartbeat(&hung, 1_000).await.unwrap());
    clock.store(T0 + 1_500, Ordering::SeqCst);
    assert!(q.claim("w2", 1_000).await.unwrap().is_none(), "renewed until T0+1900");

    // Then w1 stops renewing; after expiry another worker takes over.
    clock.store(T0 + 2_000, Ordering::SeqCst);
    let taken = q.claim("w2", 1_000).await.unwrap().unwrap();
    assert_eq!(taken.job.id, id);
    assert_eq!(taken.took_over_from.as_deref(), Some("w1"), "the takeover is reported");
    assert_eq!((taken.job.lease_epoch, taken.job.attempts), (hung.job.lease_epoch + 1, 2));

    // The old holder can neither complete, fail nor renew.
    assert!(!q.complete(&hung, "").await.unwrap());
    assert_eq!(q.fail(&hung, "late", Backoff::default()).await.unwrap(), None);
    assert!(!q.heartbeat(&hung, 1_000).await.unwrap());
    let now_stored = q.get(id).await.unwrap().unwrap();
    assert_eq!((now_stored.state, now_stored.lease_owner.as_deref()), (JobState::Running, Some("w2")));
    assert_eq!(now_stored.last_error, None, "the stale failure was not recorded");
    assert!(q.complete(&taken, "").await.unwrap());
    assert_eq!(q.get(id).await.unwrap().unwrap().state, JobState::Done);
}

async fn a_failing_job_backs_off_then_fails_keeping_its_error(db: &TestDb) {
    let store = db.store().await;
    let clock = AtomicI64::new(T0);
    let now = || clock.load(Ordering::SeqCst);
    let q = store.jobs_with_clock(&now);
    let backoff = Backoff { base_ms: 1_000, cap_ms: 60_000 };
    let id = q.enqueue(&NewJob { max_attempts: 2, ..job("flaky", None) }).await.unwrap().id;
    let one = q.claim("w", 30_000).await.unwrap().unwrap();
    assert_eq!(q.fail(&one, "provider said 503", backoff).await.unwrap(), Some(JobState::Retrying));
    let waiting = q.get(id).await.unwrap().unwrap();
    assert_eq!(waiting.state, JobState::Retrying);
    assert!(
        (T0 + 500..=T0 + 1_000).contains(&waiting.run_after_ms),
        "first retry after 0.5-1 s: {}",
        waiting.run_after_ms
    );
    assert!(q.claim("w", 30_000).await.unwrap().is_none(), "not before its backoff");
    clock.store(waiting.run_after_ms, Ordering::SeqCst);
    let two = q.claim("w", 30_000).await.unwrap().unwrap();
    assert_eq!(two.job.attempts, 2);
    assert_eq!(q.fail(&two, "provider said 503 again", backoff).await.unwrap(), Some(JobState::Failed));
    let failed = q.get(id).await.unwrap().unwrap();
    assert_eq!((failed.state, failed.last_error.as_deref()), (JobState::Failed, Some("provider said 503 again")));
    clock.store(T0 + 10 * 60_000, Ordering::SeqCst);
    assert!(q.claim("w", 30_000).await.unwrap().is_none(), "a failed job is never claimed again");
}

async fn cancel_and_retry_by_id_follow_the_state(db: &TestDb) {
    let store = db.store().await;
    let clock = AtomicI64::new(T0);
    let now = || clock.load(Ordering::SeqCst);
    let q = store.jobs_with_clock(&now);
    let id = q.enqueue(&job("x", None)).await.unwrap().id;
    assert!(matches!(q.retry(id).await, Err(QueueError::Refused { state: JobState::Available, .. })));
    q.cancel(id).await.unwrap();
    assert!(q.claim("w", 1_000).await.unwrap().is_none(), "a cancelled job is not claimed");
    let e = q.cancel(id).await.unwrap_err();
    assert!(e.to_string().contains("is cancelled") && e.to_string().contains("retry"), "{e}");
    q.retry(id).await.unwrap();
    let again = q.claim("w", 1_000).await.unwrap().unwrap();
    assert_eq!((again.job.id, again.job.attempts), (id, 1), "retried from its first attempt");
    // Cancelling a running job fences its worker out.
    q.cancel(id).await.unwrap();
    assert!(!q.complete(&again, "").await.unwrap());
    assert_eq!(q.get(id).await.unwrap().unwrap().state, JobState::Cancelled);
    assert!(matches!(q.cancel(999_999).await, Err(QueueError::NotFound(999_999))));
}

async fn concurrent_claimers_never_share_a_job(db: &TestDb) {
    let store = db.store().await;
    for i in 0..40 {
        // Half of them on four queue keys: at most one of each key at once.
        let key = (i % 2 == 0).then(|| format!("k{}", i % 8));
        store.jobs().enqueue(&job(&format!("j{i}"), key.as_deref())).await.unwrap();
    }
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut done = Vec::new();
                while let Some(claimed) = store.jobs().claim(&format!("w{w}"), 60_000).await.unwrap() {
                    tokio::task::yield_now().await;
                    assert!(store.jobs().complete(&claimed, "").await.unwrap(), "no one else holds {}", claimed.job.id);
                    done.push(claimed.job.id);
                }
                done
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    // A worker stops when it finds nothing claimable; the blocked keys'
    // later jobs are then free: drain what is left.
    while let Some(claimed) = store.jobs().claim("w-last", 60_000).await.unwrap() {
        assert!(store.jobs().complete(&claimed, "").await.unwrap());
        all.push(claimed.job.id);
    }
    let claimed = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!((claimed, all.len()), (40, 40), "every job ran exactly once");
}

on_both_backends!(
    a_pool_runs_every_job_once_keeping_each_keys_order,
    a_pool_retries_a_failing_job_until_it_succeeds,
    a_job_whose_worker_died_is_taken_over_and_reported,
);

fn pool_config(owner: &str, lease_ms: u64) -> claw::jobs::PoolConfig {
    claw::jobs::PoolConfig {
        workers: 3,
        owner: owner.into(),
        lease: std::time::Duration::from_millis(lease_ms),
        poll: std::time::Duration::from_millis(20),
        beat: None,
    }
}

/// Wait until every job in `ids` is done (a deadline only for failing).
async fn until_done(store: &claw::store::Store, ids: &[i64]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut states = Vec::new();
        for id in ids {
            states.push(store.jobs().get(*id).await.unwrap().unwrap().state);
        }
        if states.iter().all(|s| *s == JobState::Done) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "not all done: {states:?}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

type Seen = std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, i64)>>>;

fn recording(seen: &Seen) -> claw::jobs::Handler {
    let seen = seen.clone();
    std::sync::Arc::new(move |job| {
        let seen = seen.clone();
        Box::pin(async move {
            tokio::task::yield_now().await;
            seen.lock().unwrap().push((job.queue_key.clone(), job.id));
            Ok(String::new())
        })
    })
}

async fn a_pool_runs_every_job_once_keeping_each_keys_order(db: &TestDb) {
    let store = db.store().await;
    let seen: Seen = Default::default();
    let handlers = claw::jobs::Handlers::default().with("rec", Backoff::default(), recording(&seen));
    let pool = claw::jobs::Pool::start(store.clone(), handlers, pool_config("p1", 30_000), None);
    let mut ids = Vec::new();
    for i in 0..30 {
        let key = ["conv-a", "conv-b", "conv-c"][i % 3];
        ids.push(store.jobs().enqueue(&job("rec", Some(key))).await.unwrap().id);
        pool.wake();
    }
    until_done(&store, &ids).await;
    pool.shutdown().await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 30, "each job ran once");
    for key in ["conv-a", "conv-b", "conv-c"] {
        let order: Vec<i64> = seen.iter().filter(|(k, _)| k.as_deref() == Some(key)).map(|(_, id)| *id).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{key} ran in enqueue order: {order:?}");
    }
}

async fn a_pool_retries_a_failing_job_until_it_succeeds(db: &TestDb) {
    let store = db.store().await;
    let calls = std::sync::Arc::new(AtomicI64::new(0));
    let counter = calls.clone();
    let flaky: claw::jobs::Handler = std::sync::Arc::new(move |_job| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { if n < 2 { Err(format!("attempt {} failed", n + 1)) } else { Ok(String::new()) } })
    });
    let backoff = Backoff { base_ms: 10, cap_ms: 40 };
    let handlers = claw::jobs::Handlers::default().with("flaky", backoff, flaky);
    let pool = claw::jobs::Pool::start(store.clone(), handlers, pool_config("p1", 30_000), None);
    let id = store.jobs().enqueue(&NewJob { max_attempts: 5, ..job("flaky", None) }).await.unwrap().id;
    pool.wake();
    until_done(&store, &[id]).await;
    pool.shutdown().await;
    let done = store.jobs().get(id).await.unwrap().unwrap();
    assert_eq!((done.attempts, calls.load(Ordering::SeqCst)), (3, 3));
    assert_eq!(done.last_error.as_deref(), Some("attempt 2 failed"), "the last error is kept");
}

async fn a_job_whose_worker_died_is_taken_over_and_reported(db: &TestDb) {
    // Real time: a lease of 300 ms has to run out.
    let store = db.store().await;
    let started = std::sync::Arc::new(tokio::sync::Notify::new());
    let signal = started.clone();
    let stuck: claw::jobs::Handler = std::sync::Arc::new(move |_job| {
        signal.notify_one();
        Box::pin(std::future::pending())
    });
    let first = claw::jobs::Pool::start(
        store.clone(),
        claw::jobs::Handlers::default().with("long", Backoff::default(), stuck),
        pool_config("dies", 300),
        None,
    );
    let id = store.jobs().enqueue(&NewJob { max_attempts: 3, ..job("long", Some("k")) }).await.unwrap().id;
    first.wake();
    started.notified().await;
    first.abort();

    let seen: Seen = Default::default();
    let takeovers = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let noted = takeovers.clone();
    let on_takeover: claw::jobs::OnTakeover = std::sync::Arc::new(move |c: &claw::jobs::Claimed| {
        noted.lock().unwrap().push((c.job.id, c.took_over_from.clone()));
    });
    let second = claw::jobs::Pool::start(
        store.clone(),
        claw::jobs::Handlers::default().with("long", Backoff::default(), recording(&seen)),
        pool_config("lives", 300),
        Some(on_takeover),
    );
    until_done(&store, &[id]).await;
    second.shutdown().await;
    let takeovers = takeovers.lock().unwrap().clone();
    assert_eq!(takeovers.len(), 1, "{takeovers:?}");
    assert_eq!(takeovers[0].0, id);
    assert!(takeovers[0].1.as_deref().is_some_and(|o| o.starts_with("dies/")), "{takeovers:?}");
    assert_eq!(store.jobs().get(id).await.unwrap().unwrap().attempts, 2);
}

/// PostgreSQL only: another process's enqueue wakes an idle pool through
/// LISTEN/NOTIFY, long before its poll would (SQLite pools in other
/// processes find work by polling).
#[tokio::test]
async fn an_idle_pool_wakes_on_another_processs_enqueue_by_notify() {
    let db = TestDb::postgres().await;
    let store = db.store().await;
    let seen: Seen = Default::default();
    let handlers = claw::jobs::Handlers::default().with("rec", Backoff::default(), recording(&seen));
    // A poll of an hour: only a notification can wake it in time.
    let config = claw::jobs::PoolConfig { poll: std::time::Duration::from_secs(3600), ..pool_config("idle", 30_000) };
    let pool = claw::jobs::Pool::start(store.clone(), handlers, config, None);
    // Signals, not pauses: every worker idle, and the listener subscribed.
    // A job that then arrives can only be seen through the notification.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let claw::store::Db::Postgres(pg) = store.db() else { unreachable!("a PostgreSQL store") };
    loop {
        let listening: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%claw_jobs%'",
        )
        .fetch_one(pg)
        .await
        .unwrap();
        if listening > 0 && pool.idle() == 3 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the pool never went idle and listening");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let other = db.store().await;
    let id = other.jobs().enqueue(&job("rec", None)).await.unwrap().id;
    while other.jobs().get(id).await.unwrap().unwrap().state != JobState::Done {
        assert!(std::time::Instant::now() < deadline, "the idle pool never woke");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    pool.shutdown().await;
    db.cleanup().await;
}

on_both_backends!(
    a_routine_fires_its_first_tick_once_across_processes_without_drift,
    ticks_missed_while_nothing_ran_are_one_run_and_bad_schedules_are_refused,
);

/// 2027-03-01T09:00:00Z, on a five-minute boundary.
const NINE: i64 = 1_803_891_600_000;

fn cron(name: &str, expr: &str, tz: &str) -> Result<NewRoutine, claw::problem::Problem> {
    Ok(NewRoutine {
        name: name.into(),
        trigger: Trigger::cron(expr, tz)?,
        kind: "digest".into(),
        action: Action::new("summarise"),
    })
}

async fn a_routine_fires_its_first_tick_once_across_processes_without_drift(db: &TestDb) {
    let store = db.store().await;
    let other = db.store().await; // another process's connection pool
    let first = store.routines().add(&cron("digest", "*/5 * * * *", "UTC").unwrap(), NINE).await.unwrap();
    assert_eq!(first, Some(NINE), "added on a tick: that tick is the first, not skipped");
    // Both processes look at once: the tick fires exactly once.
    let (mine, theirs) = (store.routines(), other.routines());
    let (a, b) = tokio::join!(mine.fire_due(NINE), theirs.fire_due(NINE));
    let fired: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].slot, NINE.to_string());
    let job = store.jobs().get(fired[0].job_id).await.unwrap().unwrap();
    assert_eq!(job.idempotency_key.as_deref(), Some(&*format!("routine:digest:{NINE}")));
    assert_eq!(job.queue_key.as_deref(), Some("routine:digest"));
    // Fired 7 s late, the next tick is still on the grid.
    assert!(store.routines().fire_due(NINE + 7_000).await.unwrap().is_empty(), "nothing more is due");
    assert_eq!(store.routines().next_fire("digest").await.unwrap(), Some(NINE + 300_000));
    let late = store.routines().fire_due(NINE + 300_000 + 7_000).await.unwrap();
    assert_eq!(late.iter().map(|f| f.slot.clone()).collect::<Vec<_>>(), vec![(NINE + 300_000).to_string()]);
    assert_eq!(store.routines().next_fire("digest").await.unwrap(), Some(NINE + 600_000), "no drift");
}

async fn ticks_missed_while_nothing_ran_are_one_run_and_bad_schedules_are_refused(db: &TestDb) {
    let store = db.store().await;
    store.routines().add(&cron("sync", "*/5 * * * *", "UTC").unwrap(), NINE + 1).await.unwrap();
    // Three hours with no claw running, then one look.
    let fired = store.routines().fire_due(NINE + 3 * 3_600_000 + 60_000).await.unwrap();
    assert_eq!(fired.len(), 1, "one catch-up run, not 36: {fired:?}");
    assert_eq!(store.routines().next_fire("sync").await.unwrap(), Some(NINE + 3 * 3_600_000 + 300_000));
    // A schedule that does not parse, a zone that does not exist, a name in use.
    for (expr, tz, what) in [
        ("every day", "UTC", "is not a cron expression"),
        ("0 9 * * *", "Nowhere/City", "is not a time zone"),
        ("0 9 * * *", "UTC", "exists"),
    ] {
        let name = if what == "exists" { "sync" } else { "new" };
        let e = match cron(name, expr, tz) {
            Ok(r) => store.routines().add(&r, NINE).await.unwrap_err(),
            Err(e) => e,
        };
        assert!(e.to_string().contains(what), "{e}");
    }
    let e = store.routines().next_fire("new").await.unwrap_err();
    assert!(e.to_string().contains("there is no routine named `new`"), "nothing was stored: {e}");
}

on_both_backends!(
    document_routines_fire_once_per_change_and_not_on_their_own_output,
    pause_and_cooldown_skip_fires_and_a_manual_run_ignores_them,
);

fn routine(name: &str, trigger: Trigger, action: Action) -> NewRoutine {
    NewRoutine { name: name.into(), trigger, kind: "routine.run".into(), action }
}

fn real_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

async fn document_routines_fire_once_per_change_and_not_on_their_own_output(db: &TestDb) {
    use claw::jobs::trigger::Event;
    use claw::store::workspace::Origin;
    let store = db.store().await;
    let other = db.store().await;
    let start = real_now() - 10;
    let inbox = routine("inbox", Trigger::Event(Event::Document { prefix: "inbox/".into() }), Action::new("triage"));
    store.routines().add(&inbox, start).await.unwrap();
    let after =
        routine("after-inbox", Trigger::Event(Event::Finished { routine: "inbox".into() }), Action::new("file"));
    store.routines().add(&after, start).await.unwrap();
    let ws = store.workspace();
    ws.write("inbox/a.md", "a letter", Origin::Operator).await.unwrap();
    ws.write("notes/b.md", "not watched", Origin::Operator).await.unwrap();
    ws.write("inbox/report.md", "the routine's own output", Origin::Routine("inbox")).await.unwrap();
    let now = real_now() + 1;
    // Two processes look at once: each change fires once.
    let (mine, theirs) = (store.routines(), other.routines());
    let (a, b) = tokio::join!(mine.fire_documents(now), theirs.fire_documents(now));
    let fired: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert_eq!(fired.len(), 1, "only inbox/a.md, once: {fired:?}");
    assert!(fired[0].slot.starts_with("document:inbox/a.md:"), "{fired:?}");
    let job = store.jobs().get(fired[0].job_id).await.unwrap().unwrap();
    let fire: claw::jobs::action::Fire = serde_json::from_str(&job.payload).unwrap();
    assert_eq!((fire.input.as_deref(), fire.cause.as_str()), (Some("inbox/a.md"), "inbox/a.md was written"));
    assert!(store.routines().fire_documents(real_now() + 2).await.unwrap().is_empty(), "seen already");
    // A new version is a new fire.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    ws.write("inbox/a.md", "a second letter", Origin::Operator).await.unwrap();
    let again = store.routines().fire_documents(real_now() + 3).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].slot, fired[0].slot);
    // The routine that follows fires once per finished run.
    let next = store.routines().fire_after("inbox", job.id, now).await.unwrap();
    assert_eq!((next.len(), next[0].name.as_str(), next[0].created), (1, "after-inbox", true));
    let repeat = store.routines().fire_after("inbox", job.id, now + 1).await.unwrap();
    assert_eq!((repeat[0].created, repeat[0].job_id), (false, next[0].job_id), "the same run fires nothing new");
    assert!(store.routines().fire_after("other", job.id, now).await.unwrap().is_empty());
}

async fn pause_and_cooldown_skip_fires_and_a_manual_run_ignores_them(db: &TestDb) {
    let store = db.store().await;
    let mut action = Action::new("check");
    action.cooldown_s = 600;
    let r = routine("c", Trigger::every("1m").unwrap(), action);
    assert_eq!(store.routines().add(&r, NINE).await.unwrap(), Some(NINE), "runs when added");
    assert_eq!(store.routines().fire_due(NINE).await.unwrap().len(), 1);
    // A minute on, inside the ten-minute cooldown: the tick passes, no run.
    assert!(store.routines().fire_due(NINE + 60_000).await.unwrap().is_empty());
    assert_eq!(store.routines().next_fire("c").await.unwrap(), Some(NINE + 120_000), "on the grid");
    let paused = store.routines().set_paused("c", true, NINE + 61_000).await.unwrap();
    assert!(paused.paused);
    assert!(store.routines().fire_due(NINE + 3_600_000).await.unwrap().is_empty(), "paused: nothing fires");
    let manual = store.routines().run_now("c", NINE + 3_600_000).await.unwrap();
    assert!(manual.created && manual.slot.starts_with("manual:"), "{manual:?}");
    // Resumed: the next tick is the first on the grid from now; the
    // ticks missed while paused are not run.
    let resumed = store.routines().set_paused("c", false, NINE + 3_630_000).await.unwrap();
    assert_eq!(resumed.next_fire_ms, Some(NINE + 3_660_000));
    let fired = store.routines().fire_due(NINE + 3_660_000 + 600_001).await.unwrap();
    assert_eq!(fired.len(), 1, "one catch-up run, past the cooldown: {fired:?}");
}

/// Leases on PostgreSQL are on the database's clock (processes on several
/// machines compare them): the store's `now` follows the server's.
#[tokio::test]
async fn on_postgres_the_queue_reads_the_databases_clock() {
    let db = TestDb::postgres().await;
    let store = db.store().await;
    let claw::store::Db::Postgres(pg) = store.db() else { unreachable!() };
    let server: i64 = sqlx::query_scalar("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT")
        .fetch_one(pg)
        .await
        .unwrap();
    let ours = store.now_ms();
    assert!((ours - server).abs() < 250, "store {ours} vs server {server}");
    db.cleanup().await;
}

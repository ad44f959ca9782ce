//! Several `claw run` processes on one PostgreSQL database, each with its
//! own home (as on separate machines): the jobs spread over them, a
//! process killed with SIGKILL under load has its jobs finished by the
//! others within the lease, and a routine fires exactly once per tick
//! across all of them. And one process on SQLite, killed under load and
//! started again: nothing lost, nothing done twice. Real processes, real
//! databases, a scripted LLM.

use crate::agent::{add_provider, install, install_router};
use crate::common::{TestHome, lines, wait_for};
use crate::db::TestDb;
use crate::llm_server::{Format, LlmServer, Step};
use claw::jobs::action::{AGENT_TURN, Turn};
use claw::jobs::{JobFilter, JobState, NewJob};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const JOBS: usize = 300;
const CONVERSATIONS: usize = 30;

fn process(db: &TestDb, llm: &LlmServer) -> (TestHome, Child) {
    let h = TestHome::on(db);
    install_router(&h);
    install(&h, "repl", &[]);
    add_provider(&h, "local", "openai", llm, &[]);
    std::fs::create_dir_all(&h.home.config).unwrap();
    let config = "[jobs]\nworkers = 4\nlease = \"2s\"\npoll = \"200ms\"\n[heartbeat]\nevery = \"off\"\n";
    std::fs::write(h.home.config.join("config.toml"), config).unwrap();
    let mut child =
        h.command(&["run"]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let err = lines(child.stderr.take().unwrap());
    wait_for(&err, "claw is running");
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || while err.recv().is_ok() {});
    (h, child)
}

async fn states(store: &claw::store::Store) -> BTreeMap<&'static str, i64> {
    let mut by = BTreeMap::new();
    for d in store.queue_depth().await.unwrap() {
        if d.kind == AGENT_TURN {
            *by.entry(d.state.as_str()).or_default() += d.count;
        }
    }
    by
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_the_jobs_finish_a_killed_ones_and_fire_each_tick_once() {
    let db = TestDb::postgres().await;
    let llm = LlmServer::start(Format::OpenAi, vec![Step::Text("ok".into())]);
    let mut running: Vec<(TestHome, Child)> = (0..3).map(|_| process(&db, &llm)).collect();
    let store = db.store().await;

    // A routine every second, fired by whichever process looks first.
    let routine =
        running[0].0.claw(&["routine", "add", "tick", "--cron", "* * * * * *", "--tz", "UTC", "--prompt", "tick"]);
    crate::common::ok(&routine, "routine add");

    enqueue_turns(&store, JOBS).await;
    // Under load, one process dies.
    let deadline = Instant::now() + Duration::from_secs(120);
    while states(&store).await.get("done").copied().unwrap_or(0) < (JOBS / 4) as i64 {
        assert!(Instant::now() < deadline, "no progress: {:?}", states(&store).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_dead_home, mut dead) = running.remove(1);
    let dead_owner = format!(":{}/", dead.id());
    dead.kill().unwrap(); // SIGKILL
    let _ = dead.wait();
    let killed_at = Instant::now();
    // Its running jobs are taken over once their 2 s leases run out.
    let held = |jobs: &[claw::jobs::Job]| {
        jobs.iter().any(|j| j.lease_owner.as_deref().is_some_and(|o| o.contains(&dead_owner)))
    };
    let running_filter = JobFilter { state: Some(JobState::Running), kind: None, limit: 1000 };
    while held(&store.list_jobs(&running_filter).await.unwrap()) {
        assert!(killed_at.elapsed() < Duration::from_secs(10), "the dead process's jobs were not taken over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let taken_over_after = killed_at.elapsed();
    loop {
        let by = states(&store).await;
        if by.get("done").copied() == Some(JOBS as i64) {
            break;
        }
        assert!(Instant::now() < deadline, "not all finished: {by:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // None lost, none left running, none completed twice: each turn
    // stored exactly one answer under its job's key.
    each_done_once(&store, JOBS).await;
    let done = store
        .list_jobs(&JobFilter { state: Some(JobState::Done), kind: Some(AGENT_TURN.into()), limit: 1000 })
        .await
        .unwrap();
    let mut by_process: BTreeMap<String, usize> = BTreeMap::new();
    for job in &done {
        let owner = job.lease_owner.clone().unwrap_or_default();
        *by_process.entry(owner.rsplit_once('/').map_or(owner.clone(), |(p, _)| p.to_string())).or_default() += 1;
    }
    assert!(by_process.len() >= 2, "the jobs spread over the processes: {by_process:?}");
    // Each conversation's turns ran in order: their answers follow their
    // messages in enqueue order.
    for c in 0..CONVERSATIONS {
        let session = store.sessions().active("load", &format!("c{c}")).await.unwrap();
        let users: Vec<String> = store
            .sessions()
            .messages(&session.id, 0)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.role == "user")
            .map(|m| m.content)
            .collect();
        let expected: Vec<String> =
            (0..JOBS).filter(|i| i % CONVERSATIONS == c).map(|i| format!("message {i}")).collect();
        assert_eq!(users, expected, "conversation c{c} in order");
    }

    // The routine: one job per tick, no tick twice, none skipped while
    // any process ran.
    let ticks: Vec<i64> = store
        .list_jobs(&JobFilter { state: None, kind: Some("routine.run".into()), limit: 10_000 })
        .await
        .unwrap()
        .iter()
        .filter_map(|j| j.idempotency_key.as_deref()?.strip_prefix("routine:tick:")?.parse().ok())
        .collect();
    let unique: BTreeSet<i64> = ticks.iter().copied().collect();
    assert_eq!(unique.len(), ticks.len(), "a tick fired twice: {ticks:?}");
    assert!(unique.len() >= 3, "{ticks:?}");
    let sorted: Vec<i64> = unique.into_iter().collect();
    for w in sorted.windows(2) {
        assert_eq!(w[1] - w[0], 1_000, "every second, none skipped: {sorted:?}");
    }
    for (_, mut child) in running {
        let _ = child.kill();
        let _ = child.wait();
    }
    // A lease of 2 s, an idle poll of 200 ms: taken over within the lease
    // (plus a poll and a margin for a loaded machine).
    assert!(taken_over_after < Duration::from_secs(4), "taken over after {taken_over_after:?}");
    db.cleanup().await;
}

/// Enqueue `n` turns over `CONVERSATIONS` conversations; their ids.
async fn enqueue_turns(store: &claw::store::Store, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let c = i % CONVERSATIONS;
        let turn = Turn {
            channel: "load".into(),
            conversation: format!("c{c}"),
            text: format!("message {i}"),
            origin: None,
            deliver: false,
            stranger: None,
        };
        let mut job = NewJob::new(AGENT_TURN, &serde_json::to_value(&turn).unwrap());
        job.queue_key = Some(format!("load:c{c}"));
        job.max_attempts = 3;
        ids.push(store.jobs().enqueue(&job).await.unwrap().id);
    }
    ids
}

/// Every turn done, each with one message and one answer stored under its key.
async fn each_done_once(store: &claw::store::Store, n: usize) {
    let filter = JobFilter { state: Some(JobState::Done), kind: Some(AGENT_TURN.into()), limit: 1000 };
    let done = store.list_jobs(&filter).await.unwrap();
    assert_eq!(done.len(), n, "{:?}", states(store).await);
    for job in &done {
        let turn: Turn = serde_json::from_str(&job.payload).unwrap();
        let session = store.sessions().active("load", &turn.conversation).await.unwrap();
        let steps = store.sessions().turn_messages(&session.id, &format!("job:{}", job.id)).await.unwrap();
        let count = |role: &str| steps.iter().filter(|m| m.role == role).count();
        assert_eq!((count("user"), count("assistant")), (1, 1), "job {} stored {steps:#?}", job.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_on_sqlite_killed_under_load_loses_and_repeats_nothing_after_a_restart() {
    const N: usize = 200;
    let db = TestDb::sqlite();
    let llm = LlmServer::start(Format::OpenAi, vec![Step::Text("ok".into())]);
    let store = db.store().await;
    let (h, mut first) = process(&db, &llm);
    enqueue_turns(&store, N).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while states(&store).await.get("done").copied().unwrap_or(0) < (N / 3) as i64 {
        assert!(Instant::now() < deadline, "no progress: {:?}", states(&store).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill().unwrap(); // SIGKILL
    let _ = first.wait();
    let left = states(&store).await;
    assert!(left.get("done").copied().unwrap_or(0) < N as i64, "killed while work was left: {left:?}");
    // The same home starts again: it takes the dead one's jobs over.
    let mut second = restart(&h);
    while states(&store).await.get("done").copied() != Some(N as i64) {
        assert!(Instant::now() < deadline, "not all finished: {:?}", states(&store).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    each_done_once(&store, N).await;
    let _ = second.kill();
    let _ = second.wait();
    db.cleanup().await;
}

fn restart(h: &TestHome) -> Child {
    let mut child =
        h.command(&["run"]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let err = lines(child.stderr.take().unwrap());
    wait_for(&err, "claw is running");
    std::thread::spawn(move || while err.recv().is_ok() {});
    child
}

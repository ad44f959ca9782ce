//! The job queue's speed on each backend: no-op jobs claimed and completed
//! per second by 8 workers, enqueue-to-start latency on an idle queue, and
//! the time until another process takes over a job whose worker was killed
//! with SIGKILL under a 2 s lease.

use anyhow::{Context as _, Result};
use claw::jobs::{Backoff, Handler, Handlers, NewJob, Pool, PoolConfig};
use claw::store::{DatabaseUrl, Db, Store};
use serde_json::json;
use std::io::{BufRead as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What `claw run` uses by default: the idle poll is 1 s.
const POLL: Duration = Duration::from_secs(1);
/// The takeover scenario's lease.
const LEASE: Duration = Duration::from_secs(2);

fn runtime() -> Result<tokio::runtime::Runtime> {
    // As `claw run`: tokio's multi-thread runtime, one thread per core.
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn pool_config(owner: &str, workers: usize, lease: Duration) -> PoolConfig {
    PoolConfig { workers, owner: owner.into(), lease, poll: POLL, beat: None }
}

async fn connect(url: &str) -> Result<Store> {
    Ok(Store::connect(&DatabaseUrl::parse(url)?).await?)
}

/// Remove every job (between rounds, so each starts from the same table).
async fn clear(store: &Store) -> Result<()> {
    match store.db() {
        Db::Sqlite(p) => {
            sqlx::query("DELETE FROM jobs").execute(p).await?;
        }
        Db::Postgres(p) => {
            sqlx::query("DELETE FROM jobs").execute(p).await?;
            sqlx::query("VACUUM ANALYZE jobs").execute(p).await?;
        }
    }
    Ok(())
}

async fn count_done(store: &Store) -> Result<i64> {
    const SQL: &str = "SELECT COUNT(*) FROM jobs WHERE state = 'done'";
    Ok(match store.db() {
        Db::Sqlite(p) => sqlx::query_scalar(SQL).fetch_one(p).await?,
        Db::Postgres(p) => sqlx::query_scalar(SQL).fetch_one(p).await?,
    })
}

/// Enqueue `n` no-op jobs, 32 at a time.
async fn fill(store: &Store, n: usize) -> Result<()> {
    let mut left = n;
    while left > 0 {
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..left.min(32) {
            let store = store.clone();
            batch.spawn(async move { store.jobs().enqueue(&NewJob::new("noop", &json!({}))).await });
        }
        left -= left.min(32);
        while let Some(r) = batch.join_next().await {
            r??;
        }
    }
    Ok(())
}

/// Jobs per second: `n` no-op jobs waiting, then a pool of `workers` from
/// its start until every job is recorded done. Median of `rounds`.
pub(crate) fn throughput(url: &str, n: usize, workers: usize, rounds: usize) -> Result<f64> {
    runtime()?.block_on(async {
        let store = connect(url).await?;
        let mut rates = Vec::new();
        for _ in 0..rounds {
            clear(&store).await?;
            fill(&store, n).await?;
            let ran = Arc::new(AtomicUsize::new(0));
            let all = Arc::new(tokio::sync::Notify::new());
            let (counter, signal) = (ran.clone(), all.clone());
            let noop: Handler = Arc::new(move |_job| {
                if counter.fetch_add(1, Ordering::SeqCst) + 1 == n {
                    signal.notify_one();
                }
                Box::pin(async { Ok(String::new()) })
            });
            let handlers = Handlers::default().with("noop", Backoff::default(), noop);
            let started = Instant::now();
            let pool = Pool::start(store.clone(), handlers, pool_config("bench", workers, LEASE * 15), None);
            all.notified().await;
            // Shutdown returns once the last completions are written.
            pool.shutdown().await;
            let took = started.elapsed();
            let done = count_done(&store).await?;
            anyhow::ensure!(done == n as i64, "{done} of {n} jobs done");
            anyhow::ensure!(ran.load(Ordering::SeqCst) == n, "a job ran twice");
            rates.push(n as f64 / took.as_secs_f64());
        }
        Ok(crate::median(rates))
    })
}

/// Enqueue-to-start on an idle queue: a pool of 8 waits; one job is
/// enqueued at a time and the time to its handler's start is taken. On
/// PostgreSQL the enqueue reaches the pool only through NOTIFY, as from
/// another process; on SQLite the enqueuer wakes its own process's pool,
/// as `claw run` does.
pub(crate) fn latency(url: &str, samples: usize) -> Result<crate::Stats> {
    runtime()?.block_on(async {
        let store = connect(url).await?;
        clear(&store).await?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
        let noop: Handler = Arc::new(move |_job| {
            let _ = tx.send(Instant::now());
            Box::pin(async { Ok(String::new()) })
        });
        let handlers = Handlers::default().with("noop", Backoff::default(), noop);
        let pool = Pool::start(store.clone(), handlers, pool_config("bench", 8, LEASE * 15), None);
        let sqlite = matches!(store.db(), Db::Sqlite(_));
        let mut out = Vec::with_capacity(samples);
        for _ in 0..samples {
            // Let the pool go idle again.
            tokio::time::sleep(Duration::from_millis(15)).await;
            let at = Instant::now();
            store.jobs().enqueue(&NewJob::new("noop", &json!({}))).await?;
            if sqlite {
                pool.wake();
            }
            let started = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .context("an enqueued job did not start within 10 s")?
                .context("the pool stopped")?;
            out.push(started - at);
        }
        pool.shutdown().await;
        Ok(crate::stats(out, 1e3))
    })
}

/// `claw-bench jobs-hold URL`: claim the one job waiting, say so on
/// stdout, and hold it, renewing its lease, until killed.
pub(crate) fn hold(url: &str) -> Result<()> {
    runtime()?.block_on(async {
        let store = connect(url).await?;
        let stuck: Handler = Arc::new(|job| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "holding {}", job.id).and_then(|()| out.flush());
            Box::pin(std::future::pending())
        });
        let handlers = Handlers::default().with("held", Backoff::default(), stuck);
        let pool = Pool::start(store, handlers, pool_config("victim", 1, LEASE), None);
        pool.wake();
        std::future::pending::<()>().await;
        Ok(())
    })
}

/// Seconds from the SIGKILL of a process holding a job (2 s lease,
/// renewed every third of it) until this process's idle pool starts it.
/// The kill lands at a different point of the renewal cycle each round.
pub(crate) fn takeover(url: &str, rounds: usize) -> Result<Vec<f64>> {
    let exe = std::env::current_exe()?;
    runtime()?.block_on(async {
        let store = connect(url).await?;
        let mut out = Vec::new();
        for round in 0..rounds {
            clear(&store).await?;
            let id = store.jobs().enqueue(&NewJob { max_attempts: 3, ..NewJob::new("held", &json!({})) }).await?.id;
            let mut child = std::process::Command::new(&exe)
                .args(["jobs-hold", url])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .context("starting the holding process")?;
            let stdout = child.stdout.take().context("its stdout")?;
            let line = tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                std::io::BufReader::new(stdout).read_line(&mut line).map(|_| line)
            })
            .await??;
            anyhow::ensure!(line.trim() == format!("holding {id}"), "the holder said {line:?}");
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
            let rescue: Handler = Arc::new(move |_job| {
                let _ = tx.send(Instant::now());
                Box::pin(async { Ok(String::new()) })
            });
            let handlers = Handlers::default().with("held", Backoff::default(), rescue);
            let pool = Pool::start(store.clone(), handlers, pool_config("rescuer", 8, LEASE), None);
            // Somewhere in the holder's renewal cycle (a third of the lease).
            let phase = LEASE.as_millis() as u64 / 3 * (round as u64 % 5) / 5;
            tokio::time::sleep(Duration::from_millis(300 + phase)).await;
            child.kill()?;
            let killed = Instant::now();
            let _ = child.wait();
            let started = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await
                .context("the job was never taken over")?
                .context("the pool stopped")?;
            out.push((started - killed).as_secs_f64());
            pool.shutdown().await;
            let job = store.jobs().get(id).await?.context("the job is gone")?;
            anyhow::ensure!(job.attempts == 2, "taken over once: {} attempts", job.attempts);
        }
        Ok(out)
    })
}

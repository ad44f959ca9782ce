//! The runtime's own heartbeat: every `claw run` process writes a beat
//! for itself and for each of its workers (with the job it is running),
//! so `claw status` can tell a live process from one that died, and a
//! stuck worker from a busy one.

use crate::on_db;
use crate::store::BeginWrite as _;
use crate::store::{Db, Store};

/// A process whose last beat is older than this is taken for gone (three
/// missed beats of `claw run`'s 5 s).
pub const GONE_AFTER_MS: i64 = 15_000;

/// A beat: a process (`worker` None) or one of its workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beat {
    /// `PROCESS` or `PROCESS/N` (as in leases).
    pub owner: String,
    /// The process: `host:pid`.
    pub process: String,
    /// The worker's number.
    pub worker: Option<i64>,
    /// The process id.
    pub pid: i64,
    /// The job the worker is running.
    pub job_id: Option<i64>,
    /// When the process started (ms).
    pub started_ms: i64,
    /// The last beat (ms).
    pub beat_ms: i64,
}

const UPSERT: &str = "INSERT INTO beats (owner, process, worker, pid, job_id, started_ms, beat_ms) \
    VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (owner) DO UPDATE SET job_id = $5, beat_ms = $7";
const LIST: &str =
    "SELECT owner, process, worker, pid, job_id, started_ms, beat_ms FROM beats ORDER BY process, worker";
const FORGET: &str = "DELETE FROM beats WHERE process = $1";
const FORGET_OLD: &str = "DELETE FROM beats WHERE beat_ms < $1";

type Row = (String, String, Option<i64>, i64, Option<i64>, i64, i64);

/// The beats of a store.
#[derive(Debug, Clone, Copy)]
pub struct Beats<'a> {
    store: &'a Store,
}

impl Store {
    /// The runtime's heartbeats.
    pub fn beats(&self) -> Beats<'_> {
        Beats { store: self }
    }
}

impl Beats<'_> {
    /// Write `beats` (one process's) in one transaction.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn write(&self, beats: &[Beat]) -> Result<(), sqlx::Error> {
        macro_rules! write_in {
            ($pool:expr) => {{
                let mut tx = $pool.begin_write().await?;
                for b in beats {
                    sqlx::query(UPSERT)
                        .bind(&b.owner)
                        .bind(&b.process)
                        .bind(b.worker)
                        .bind(b.pid)
                        .bind(b.job_id)
                        .bind(b.started_ms)
                        .bind(b.beat_ms)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }};
        }
        match self.store.db() {
            Db::Sqlite(p) => write_in!(p),
            Db::Postgres(p) => write_in!(p),
        }
    }

    /// Every beat, by process and worker.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn list(&self) -> Result<Vec<Beat>, sqlx::Error> {
        let rows: Vec<Row> = on_db!(self.store.db(), p, LIST, LIST, |sql| sqlx::query_as(sql).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(|(owner, process, worker, pid, job_id, started_ms, beat_ms)| Beat {
                owner,
                process,
                worker,
                pid,
                job_id,
                started_ms,
                beat_ms,
            })
            .collect())
    }

    /// Remove a process's beats (it stopped cleanly), and any beat older
    /// than `stale_before_ms` (processes long gone).
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn forget(&self, process: &str, stale_before_ms: i64) -> Result<(), sqlx::Error> {
        on_db!(self.store.db(), p, FORGET, FORGET, |sql| sqlx::query(sql)
            .bind(process)
            .execute(p)
            .await?
            .rows_affected());
        on_db!(self.store.db(), p, FORGET_OLD, FORGET_OLD, |sql| sqlx::query(sql)
            .bind(stale_before_ms)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }
}

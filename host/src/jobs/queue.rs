//! The queue's SQL, one statement set for both backends: claims in a
//! `BEGIN IMMEDIATE` transaction on SQLite (one writer at a time) and with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL (workers of several processes
//! skip each other's rows), every write after the claim fenced by the
//! lease epoch.

use super::{Backoff, Job, JobState, NewJob};
use crate::on_db;
use crate::store::{Db, Store};

/// A job's columns, in [`Row`]'s order.
macro_rules! columns {
    () => {
        "id, kind, payload, queue_key, idempotency_key, state, attempts, max_attempts, run_after_ms, \
         lease_owner, lease_expires_ms, lease_epoch, last_error, result, created_ms, updated_ms"
    };
}
/// A job's columns, for the operator's queries (`inspect`).
pub(super) const COLUMNS: &str = columns!();
const GET: &str = concat!("SELECT ", columns!(), " FROM jobs WHERE id = $1");
const INSERT: &str = "INSERT INTO jobs (kind, payload, queue_key, idempotency_key, state, max_attempts, run_after_ms, \
    created_ms, updated_ms) VALUES ($1, $2, $3, $4, 'available', $5, $6, $7, $7) \
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING id";
const BY_KEY: &str = "SELECT id FROM jobs WHERE idempotency_key = $1";

/// Claimable jobs are of two kinds, each read from its own partial index
/// (migration 0008): running jobs whose lease ran out (`$1` is now), first
/// to expire first; and waiting jobs that are due and head their queue key
/// (no earlier unfinished job of that key), in due order.
macro_rules! expired {
    () => {
        "SELECT id, lease_owner FROM jobs WHERE state = 'running' AND lease_expires_ms < $1 \
         ORDER BY lease_expires_ms, id LIMIT $2"
    };
}
macro_rules! due {
    () => {
        "SELECT c.id, NULL FROM jobs c \
         WHERE c.state IN ('available', 'retrying') AND c.run_after_ms <= $1 \
           AND (c.queue_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs h WHERE h.queue_key = c.queue_key \
                AND h.id < c.id AND h.state IN ('available', 'retrying', 'running'))) \
         ORDER BY c.run_after_ms, c.id LIMIT $2"
    };
}
const EXPIRED: &str = expired!();
const DUE: &str = due!();
/// SQLite, inside `BEGIN IMMEDIATE`: one claimed row.
const CLAIM_ONE: &str = concat!(
    "UPDATE jobs SET state = 'running', lease_owner = $2, lease_expires_ms = $3, ",
    "lease_epoch = lease_epoch + 1, attempts = attempts + 1, updated_ms = $4 WHERE id = $1 RETURNING ",
    columns!()
);
/// PostgreSQL, one statement: rows another worker is claiming are skipped,
/// not waited for; `$3` names the owner of each claimed row, in order.
const CLAIM_PG: &str = concat!(
    "WITH expired AS (",
    expired!(),
    " FOR UPDATE SKIP LOCKED), due AS (",
    due!(),
    " FOR UPDATE OF c SKIP LOCKED), ",
    "picked AS (SELECT pid, previous, row_number() OVER () AS n FROM ",
    "(SELECT id AS pid, lease_owner AS previous FROM expired UNION ALL SELECT id, NULL::text FROM due) u LIMIT $2) ",
    "UPDATE jobs SET state = 'running', lease_owner = ($3::text[])[picked.n], lease_expires_ms = $4, ",
    "lease_epoch = lease_epoch + 1, attempts = attempts + 1, updated_ms = $1 FROM picked WHERE id = picked.pid ",
    "RETURNING ",
    columns!(),
    ", picked.previous"
);

/// The PostgreSQL channel an enqueue notifies.
pub const NOTIFY_CHANNEL: &str = "claw_jobs";

/// Every write after a claim: only while the claim's epoch still holds.
macro_rules! fenced {
    ($set:literal) => {
        concat!("UPDATE jobs SET ", $set, " WHERE id = $1 AND lease_epoch = $2 AND state = 'running'")
    };
}
// The owner stays on a finished job: who ran it (`claw jobs show`).
const COMPLETE: &str = fenced!("state = 'done', lease_expires_ms = NULL, updated_ms = $3, result = $4");
/// [`COMPLETE`] for many jobs in one statement: `$2`, `$3`, `$4` are their
/// ids, epochs and results.
const COMPLETE_PG: &str = "UPDATE jobs SET state = 'done', lease_expires_ms = NULL, updated_ms = $1, \
    result = NULLIF(u.result, '') FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS u(uid, epoch, result) \
    WHERE id = u.uid AND lease_epoch = u.epoch AND state = 'running' RETURNING id, u.epoch";
const HEARTBEAT: &str = fenced!("lease_expires_ms = $3, updated_ms = $4");
const FAIL: &str = fenced!(
    "state = $3, run_after_ms = $4, last_error = $5, lease_owner = NULL, lease_expires_ms = NULL, updated_ms = $6"
);

pub(super) type Row = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    i64,
    Option<String>,
    Option<i64>,
    i64,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

pub(super) fn job(row: Row) -> Job {
    let (id, kind, payload, queue_key, idempotency_key, state, attempts, max_attempts, run_after_ms) =
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8);
    Job {
        id,
        kind,
        payload,
        queue_key,
        idempotency_key,
        // The migrations write only the six names.
        state: JobState::parse(&state).unwrap_or(JobState::Failed),
        attempts: attempts.clamp(0, u32::MAX.into()) as u32,
        max_attempts: max_attempts.clamp(0, u32::MAX.into()) as u32,
        run_after_ms,
        lease_owner: row.9,
        lease_expires_ms: row.10,
        lease_epoch: row.11,
        last_error: row.12,
        result: row.13,
        created_ms: row.14,
        updated_ms: row.15,
    }
}

/// What an enqueue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The job's id (the existing job's, for a repeated idempotency key).
    pub id: i64,
    /// False when a job with the same idempotency key already existed.
    pub created: bool,
}

/// A job claimed by a worker: hold on to it to complete, fail or renew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The job as claimed (state running, the new epoch).
    pub job: Job,
    /// The worker whose expired lease this claim took over, if any.
    pub took_over_from: Option<String>,
}

/// An operator's request the job's state does not allow.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// No such job.
    #[error("there is no job {0}")]
    NotFound(i64),
    /// Cancel of an ended job, retry of one that has not ended.
    #[error("job {id} is {}: {why}", state.as_str())]
    Refused {
        /// The job.
        id: i64,
        /// Where it is.
        state: JobState,
        /// What is possible instead.
        why: &'static str,
    },
    /// The store failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The job queue of a store.
#[derive(Clone, Copy)]
pub struct Queue<'a> {
    store: &'a Store,
    now: Clock<'a>,
}

/// Where a queue reads the time.
#[derive(Clone, Copy)]
enum Clock<'a> {
    /// The store's clock.
    Store,
    /// A test's.
    Given(&'a (dyn Fn() -> i64 + Sync)),
}

impl Queue<'_> {
    fn now(&self) -> i64 {
        match self.now {
            Clock::Store => self.store.now_ms(),
            Clock::Given(f) => f(),
        }
    }
}

impl std::fmt::Debug for Queue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

impl Store {
    /// The job queue, on the store's clock ([`Store::now_ms`]).
    pub fn jobs(&self) -> Queue<'_> {
        Queue { store: self, now: Clock::Store }
    }

    /// The job queue on another clock (ms since the epoch), for tests of
    /// leases and backoff that must not wait for real time.
    pub fn jobs_with_clock<'a>(&'a self, now: &'a (dyn Fn() -> i64 + Sync)) -> Queue<'a> {
        Queue { store: self, now: Clock::Given(now) }
    }
}

impl Queue<'_> {
    /// Add a job; with an idempotency key already used, nothing changes
    /// and the existing job's id comes back.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn enqueue(&self, new: &NewJob) -> Result<Enqueued, sqlx::Error> {
        let now = self.now();
        let run_after = new.run_after_ms.unwrap_or(now);
        let inserted: Option<i64> = on_db!(self.store.db(), p, INSERT, INSERT, |sql| sqlx::query_scalar(sql)
            .bind(&new.kind)
            .bind(&new.payload)
            .bind(&new.queue_key)
            .bind(&new.idempotency_key)
            .bind(i64::from(new.max_attempts.max(1)))
            .bind(run_after)
            .bind(now)
            .fetch_optional(p)
            .await?);
        if let Some(id) = inserted {
            // Idle pools of other processes wake at once (worker.rs listens).
            if let Db::Postgres(p) = self.store.db() {
                sqlx::query("SELECT pg_notify($1, $2)").bind(NOTIFY_CHANNEL).bind(&new.kind).execute(p).await?;
            }
            return Ok(Enqueued { id, created: true });
        }
        let id: i64 = on_db!(self.store.db(), p, BY_KEY, BY_KEY, |sql| sqlx::query_scalar(sql)
            .bind(&new.idempotency_key)
            .fetch_one(p)
            .await?);
        Ok(Enqueued { id, created: false })
    }

    /// The id of the job with idempotency key `key`, if there is one.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn by_key(&self, key: &str) -> Result<Option<i64>, sqlx::Error> {
        Ok(on_db!(self.store.db(), p, BY_KEY, BY_KEY, |sql| sqlx::query_scalar(sql)
            .bind(key)
            .fetch_optional(p)
            .await?))
    }

    /// The job `id`, if it exists.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn get(&self, id: i64) -> Result<Option<Job>, sqlx::Error> {
        let row: Option<Row> =
            on_db!(self.store.db(), p, GET, GET, |sql| sqlx::query_as(sql).bind(id).fetch_optional(p).await?);
        Ok(row.map(job))
    }

    /// Claim the next job for `owner` under a lease of `lease_ms`: a due
    /// job, or one whose lease expired (a takeover, reported in
    /// [`Claimed::took_over_from`]). `None` when nothing is claimable.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn claim(&self, owner: &str, lease_ms: u64) -> Result<Option<Claimed>, sqlx::Error> {
        Ok(self.claim_many(&[owner.to_string()], lease_ms).await?.pop())
    }

    /// Claim up to one job for each of `owners` (the free workers of a
    /// pool) in one transaction, as [`Queue::claim`] does: expired leases
    /// first, then due jobs in order. Each claimed job's `lease_owner` is
    /// the owner it went to.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn claim_many(&self, owners: &[String], lease_ms: u64) -> Result<Vec<Claimed>, sqlx::Error> {
        if owners.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let expires = now.saturating_add(i64::try_from(lease_ms).unwrap_or(i64::MAX));
        let limit = owners.len() as i64;
        let result: Result<Vec<Claimed>, sqlx::Error> = async {
            match self.store.db() {
                // One writer at a time: the candidates cannot change under us.
                Db::Sqlite(p) => {
                    let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                    let mut picked: Vec<(i64, Option<String>)> =
                        sqlx::query_as(EXPIRED).bind(now).bind(limit).fetch_all(&mut *tx).await?;
                    if picked.len() < owners.len() {
                        let rest = limit - picked.len() as i64;
                        picked.extend(
                            sqlx::query_as::<_, (i64, Option<String>)>(DUE)
                                .bind(now)
                                .bind(rest)
                                .fetch_all(&mut *tx)
                                .await?,
                        );
                    }
                    let mut claimed = Vec::with_capacity(picked.len());
                    for ((id, previous), owner) in picked.into_iter().zip(owners) {
                        let row: Row = sqlx::query_as(CLAIM_ONE)
                            .bind(id)
                            .bind(owner)
                            .bind(expires)
                            .bind(now)
                            .fetch_one(&mut *tx)
                            .await?;
                        claimed.push(Claimed { job: job(row), took_over_from: previous });
                    }
                    tx.commit().await?;
                    Ok(claimed)
                }
                Db::Postgres(p) => {
                    let rows: Vec<sqlx::postgres::PgRow> =
                        sqlx::query(CLAIM_PG).bind(now).bind(limit).bind(owners).bind(expires).fetch_all(p).await?;
                    let mut claimed = Vec::with_capacity(rows.len());
                    for r in rows {
                        use sqlx::{FromRow as _, Row as _};
                        let previous: Option<String> = r.try_get("previous")?;
                        claimed.push(Claimed { job: job(Row::from_row(&r)?), took_over_from: previous });
                    }
                    // Expired leases first, then in due order, as on SQLite.
                    claimed.sort_by_key(|c| (c.took_over_from.is_none(), c.job.run_after_ms, c.job.id));
                    Ok(claimed)
                }
            }
        }
        .await;
        match result {
            // Two claims racing for one queue key: the index refused the
            // second; it finds the key busy next time.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(Vec::new()),
            other => other,
        }
    }

    /// When something next becomes claimable without an enqueue: the
    /// earliest lease to run out or waiting job to fall due after now (ms,
    /// on the queue's clock). An idle pool sleeps until then rather than a
    /// whole poll, so a takeover comes when the lease ends.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn next_event_ms(&self) -> Result<Option<i64>, sqlx::Error> {
        const SQL: &str = "SELECT MIN(t) FROM (\
            SELECT MIN(lease_expires_ms) AS t FROM jobs WHERE state = 'running' AND lease_expires_ms >= $1 \
            UNION ALL SELECT MIN(run_after_ms) FROM jobs WHERE state IN ('available', 'retrying') AND run_after_ms > $1) e";
        let now = self.now();
        let next: Option<i64> =
            on_db!(self.store.db(), p, SQL, SQL, |sql| sqlx::query_scalar(sql).bind(now).fetch_one(p).await?);
        Ok(next)
    }

    /// Mark a claimed job done, keeping what it produced (`result`, if
    /// not empty). False when the lease was lost (taken over, cancelled):
    /// then nothing changed.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn complete(&self, claimed: &Claimed, result: &str) -> Result<bool, sqlx::Error> {
        Ok(self.complete_many(&[(claimed, result)]).await?.first().copied().unwrap_or(false))
    }

    /// [`Queue::complete`] for several jobs in one transaction (a pool's
    /// completions gathered while the previous write was under way); for
    /// each, whether it was still held.
    ///
    /// # Errors
    ///
    /// A database failure (then none was written).
    pub async fn complete_many(&self, done: &[(&Claimed, &str)]) -> Result<Vec<bool>, sqlx::Error> {
        let now = self.now();
        match self.store.db() {
            Db::Sqlite(p) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let mut held = Vec::with_capacity(done.len());
                for (claimed, result) in done {
                    let rows = sqlx::query(COMPLETE)
                        .bind(claimed.job.id)
                        .bind(claimed.job.lease_epoch)
                        .bind(now)
                        .bind(Some(*result).filter(|r| !r.is_empty()))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    held.push(rows == 1);
                }
                tx.commit().await?;
                Ok(held)
            }
            Db::Postgres(p) => {
                let ids: Vec<i64> = done.iter().map(|(c, _)| c.job.id).collect();
                let epochs: Vec<i64> = done.iter().map(|(c, _)| c.job.lease_epoch).collect();
                let results: Vec<&str> = done.iter().map(|(_, r)| *r).collect();
                let written: Vec<(i64, i64)> =
                    sqlx::query_as(COMPLETE_PG).bind(now).bind(&ids).bind(&epochs).bind(&results).fetch_all(p).await?;
                // By id and epoch: a stale holder's entry for the same job is not its.
                Ok(ids.iter().zip(&epochs).map(|(id, epoch)| written.contains(&(*id, *epoch))).collect())
            }
        }
    }

    /// Renew a claimed job's lease for `lease_ms` from now. False when the
    /// lease was lost.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn heartbeat(&self, claimed: &Claimed, lease_ms: u64) -> Result<bool, sqlx::Error> {
        let now = self.now();
        let expires = now.saturating_add(i64::try_from(lease_ms).unwrap_or(i64::MAX));
        self.fenced(HEARTBEAT, claimed, &[Param::Int(expires), Param::Int(now)]).await
    }

    /// Record a failed attempt: `retrying` after `backoff` while attempts
    /// remain, else `failed`; the error is kept either way. `None` when the
    /// lease was lost (nothing changed).
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn fail(
        &self,
        claimed: &Claimed,
        error: &str,
        backoff: Backoff,
    ) -> Result<Option<JobState>, sqlx::Error> {
        let now = self.now();
        let job = &claimed.job;
        let (state, run_after) = if job.attempts >= job.max_attempts {
            (JobState::Failed, job.run_after_ms)
        } else {
            let delay = i64::try_from(backoff.random_delay_ms(job.attempts)).unwrap_or(i64::MAX);
            (JobState::Retrying, now.saturating_add(delay))
        };
        let params = [Param::Text(state.as_str()), Param::Int(run_after), Param::Text(error), Param::Int(now)];
        let done = self.fenced(FAIL, claimed, &params).await?;
        Ok(done.then_some(state))
    }

    /// Run `sql` (whose `$1`, `$2` are the job's id and epoch, the rest
    /// `params`); whether it changed the job.
    async fn fenced(&self, sql: &'static str, claimed: &Claimed, params: &[Param<'_>]) -> Result<bool, sqlx::Error> {
        let (id, epoch) = (claimed.job.id, claimed.job.lease_epoch);
        macro_rules! run {
            ($pool:expr) => {{
                let mut q = sqlx::query(sql).bind(id).bind(epoch);
                for param in params {
                    q = match param {
                        Param::Int(v) => q.bind(*v),
                        Param::Text(t) => q.bind(*t),
                    };
                }
                q.execute($pool).await?.rows_affected()
            }};
        }
        let rows = match self.store.db() {
            Db::Sqlite(p) => run!(p),
            Db::Postgres(p) => run!(p),
        };
        Ok(rows == 1)
    }

    /// Cancel a job that has not ended (a running one's worker then finds
    /// its lease lost).
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`], or [`QueueError::Refused`] for a job that
    /// has ended.
    pub async fn cancel(&self, id: i64) -> Result<(), QueueError> {
        const SQL: &str = "UPDATE jobs SET state = 'cancelled', lease_owner = NULL, lease_expires_ms = NULL, \
            updated_ms = $2 WHERE id = $1 AND state IN ('available', 'retrying', 'running')";
        if self.set(SQL, id).await? {
            return Ok(());
        }
        Err(self.refusal(id, "it has ended already; `retry` runs it again").await)
    }

    /// Run a failed or cancelled job again, from its first attempt.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`], or [`QueueError::Refused`] for a job that
    /// has not ended (or is done).
    pub async fn retry(&self, id: i64) -> Result<(), QueueError> {
        const SQL: &str = "UPDATE jobs SET state = 'available', attempts = 0, run_after_ms = $2, updated_ms = $2 \
            WHERE id = $1 AND state IN ('failed', 'cancelled')";
        if self.set(SQL, id).await? {
            return Ok(());
        }
        Err(self.refusal(id, "only a failed or cancelled job can be retried").await)
    }

    async fn set(&self, statement: &'static str, id: i64) -> Result<bool, sqlx::Error> {
        let now = self.now();
        let rows = on_db!(self.store.db(), p, statement, statement, |sql| sqlx::query(sql)
            .bind(id)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected());
        Ok(rows == 1)
    }

    async fn refusal(&self, id: i64, why: &'static str) -> QueueError {
        match self.get(id).await {
            Ok(Some(job)) => QueueError::Refused { id, state: job.state, why },
            Ok(None) => QueueError::NotFound(id),
            Err(e) => QueueError::Db(e),
        }
    }
}

/// A value bound after a fenced statement's id and epoch.
enum Param<'a> {
    Int(i64),
    Text(&'a str),
}

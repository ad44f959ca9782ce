//! Routines in the store: each fire enqueues one job.
//!
//! The peers' routine engines skip their first tick, drift, and run twice
//! after a restart. Here every fire has an identity — the routine and its
//! slot (a tick, a message, a document version, a finished run, a webhook
//! delivery) — and the job it enqueues carries the idempotency key
//! `routine:NAME:SLOT`, so a fire happens once however many processes see
//! it. Clock routines: the first tick is the first at or after the moment
//! the routine is added; each next tick is computed from the tick that
//! fired (`trigger.rs`), and `next_fire_ms` moves by compare-and-set, so
//! of several processes exactly one fires a tick. Ticks missed while no
//! claw ran (or while paused) are one run, not a burst: the next tick is
//! the first after now.

use super::action::{Action, Fire};
use super::trigger::{Event, Trigger};
use super::{JobState, NewJob};
use crate::on_db;
use crate::problem::Problem;
use crate::store::{Db, Store};

/// A routine to add.
#[derive(Debug, Clone)]
pub struct NewRoutine {
    /// Its name.
    pub name: String,
    /// What fires it.
    pub trigger: Trigger,
    /// The job kind a fire enqueues (`routine.run`, `heartbeat`).
    pub kind: String,
    /// What it does.
    pub action: Action,
}

/// A stored routine.
#[derive(Debug, Clone)]
pub struct Routine {
    /// Its name.
    pub name: String,
    /// What fires it.
    pub trigger: Trigger,
    /// The job kind of its runs.
    pub kind: String,
    /// What it does.
    pub action: Action,
    /// The next tick (clock triggers that will fire again).
    pub next_fire_ms: Option<i64>,
    /// Paused: nothing fires it but `routine run`.
    pub paused: bool,
    /// When it last fired, and the job of that fire.
    pub last_fire: Option<(i64, i64)>,
    /// When it was added.
    pub created_ms: i64,
}

/// A fire, and the job it enqueued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The routine.
    pub name: String,
    /// The slot that fired.
    pub slot: String,
    /// The job (an existing one when the slot had fired before).
    pub job_id: i64,
    /// False when the slot had fired before (nothing new was enqueued).
    pub created: bool,
}

/// `SELECT` of a routine's columns, in [`Row`]'s order, then `$rest`.
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT name, trigger, schedule, tz, kind, payload, next_fire_ms, cursor_ms, paused, \
             last_fire_ms, last_job_id, created_ms FROM routines ",
            $rest
        )
    };
}
const LIST: &str = select!("ORDER BY name");
const GET: &str = select!("WHERE name = $1");
const DUE: &str = select!("WHERE next_fire_ms <= $1 AND paused = 0 ORDER BY next_fire_ms, name");
const BY_TRIGGER: &str = select!("WHERE trigger = $1 ORDER BY name");
const INSERT: &str = "INSERT INTO routines (name, trigger, schedule, tz, kind, payload, next_fire_ms, cursor_ms, \
    created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8)";
const ADVANCE: &str = "UPDATE routines SET next_fire_ms = $3, updated_ms = $4 WHERE name = $1 AND next_fire_ms = $2";
const MOVE_CURSOR: &str = "UPDATE routines SET cursor_ms = $3 WHERE name = $1 AND cursor_ms = $2";
const FIRED: &str = "UPDATE routines SET last_fire_ms = $2, last_job_id = $3, updated_ms = $2 WHERE name = $1";
const PAUSE: &str = "UPDATE routines SET paused = $2, next_fire_ms = $3, updated_ms = $4 WHERE name = $1";
const REMOVE: &str = "DELETE FROM routines WHERE name = $1";
const CANCEL_WAITING: &str = "UPDATE jobs SET state = 'cancelled', updated_ms = $2 \
    WHERE queue_key = $1 AND state IN ('available', 'retrying')";
const CHANGED_DOCS: &str = "SELECT path, modified_ms FROM documents \
    WHERE modified_ms > $1 AND modified_ms <= $2 AND substr(path, 1, length($3)) = $3 AND written_by <> $4 \
    ORDER BY modified_ms, path";

type Row = (String, String, String, String, String, String, Option<i64>, i64, i64, Option<i64>, Option<i64>, i64);

fn routine(row: Row) -> Result<(Routine, i64), Problem> {
    let (name, trigger, schedule, tz, kind, payload, next_fire_ms, cursor, paused, last_ms, last_job, created_ms) = row;
    let trigger = Trigger::from_stored(&trigger, &schedule, &tz)
        .map_err(|e| Problem::new(format!("routine `{name}`: {e}")).hint("remove it and add it again"))?;
    let action: Action = serde_json::from_str(&payload).map_err(|e| {
        Problem::new(format!("routine `{name}` has an action this claw cannot read: {e}"))
            .hint("remove it and add it again")
    })?;
    let last_fire = last_ms.zip(last_job);
    let r = Routine { name, trigger, kind, action, next_fire_ms, paused: paused != 0, last_fire, created_ms };
    Ok((r, cursor))
}

fn db_problem(what: &str) -> impl Fn(sqlx::Error) -> Problem + '_ {
    move |e| Problem::new(format!("{what} failed: {e}"))
}

/// The routines of a store.
#[derive(Debug, Clone, Copy)]
pub struct Routines<'a> {
    store: &'a Store,
}

impl Store {
    /// The routines.
    pub fn routines(&self) -> Routines<'_> {
        Routines { store: self }
    }
}

/// The writer a routine's own document writes are recorded as, so its
/// output does not fire it again.
pub fn writer(routine: &str) -> String {
    format!("routine:{routine}")
}

impl Routines<'_> {
    /// Add a routine at `now_ms`: a clock routine's first tick is the
    /// first at or after it; a document routine sees changes after it.
    ///
    /// # Errors
    ///
    /// A name in use or not a name, an `at` in the past, a database
    /// failure; nothing is stored.
    pub async fn add(&self, new: &NewRoutine, now_ms: i64) -> Result<Option<i64>, Problem> {
        let name = &new.name;
        if !crate::grant::valid_name(name) {
            return Err(Problem::new(format!("`{name}` is not a routine name"))
                .hint("letters, digits, - and _, at most 64, e.g. morning-digest"));
        }
        let first = new.trigger.next(now_ms, true, now_ms);
        if let Trigger::At { local, tz, .. } = &new.trigger
            && first.is_none()
        {
            return Err(Problem::new(format!("--at: {local} ({tz}) is in the past")).hint("pick a time still to come"));
        }
        let (trigger, schedule, tz) = new.trigger.to_stored();
        let payload = serde_json::to_string(&new.action).map_err(|e| Problem::new(e.to_string()))?;
        let added: Result<_, sqlx::Error> = on_db!(self.store.db(), p, INSERT, INSERT, |sql| sqlx::query(sql)
            .bind(name)
            .bind(trigger)
            .bind(&schedule)
            .bind(&tz)
            .bind(&new.kind)
            .bind(&payload)
            .bind(first)
            .bind(now_ms)
            .execute(p)
            .await
            .map(|_| ()));
        match added {
            Ok(()) => Ok(first),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(Problem::new(format!("a routine named `{name}` exists"))
                    .hint(format!("pick another name, or `claw routine rm {name}` first")))
            }
            Err(e) => Err(Problem::new(format!("storing routine `{name}` failed: {e}"))),
        }
    }

    /// Every routine, by name.
    ///
    /// # Errors
    ///
    /// A database failure, or a row that no longer parses.
    pub async fn list(&self) -> Result<Vec<Routine>, Problem> {
        let rows: Vec<Row> = on_db!(self.store.db(), p, LIST, LIST, |sql| sqlx::query_as(sql)
            .fetch_all(p)
            .await
            .map_err(db_problem("listing routines"))?);
        rows.into_iter().map(|r| routine(r).map(|(r, _)| r)).collect()
    }

    /// Routine `name`.
    ///
    /// # Errors
    ///
    /// No such routine (naming `claw routine list`), or a database failure.
    pub async fn get(&self, name: &str) -> Result<Routine, Problem> {
        Ok(self.get_with_cursor(name).await?.0)
    }

    async fn get_with_cursor(&self, name: &str) -> Result<(Routine, i64), Problem> {
        let row: Option<Row> = on_db!(self.store.db(), p, GET, GET, |sql| sqlx::query_as(sql)
            .bind(name)
            .fetch_optional(p)
            .await
            .map_err(db_problem("reading a routine"))?);
        let row = row.ok_or_else(|| {
            Problem::new(format!("there is no routine named `{name}`")).hint("`claw routine list` shows them")
        })?;
        routine(row)
    }

    /// When routine `name` fires next (ms), if a clock will fire it.
    ///
    /// # Errors
    ///
    /// As [`Routines::get`].
    pub async fn next_fire(&self, name: &str) -> Result<Option<i64>, Problem> {
        Ok(self.get(name).await?.next_fire_ms)
    }

    /// Remove routine `name`; its runs still waiting are cancelled (a run
    /// in progress finishes).
    ///
    /// # Errors
    ///
    /// No such routine, or a database failure.
    pub async fn remove(&self, name: &str, now_ms: i64) -> Result<(), Problem> {
        self.get(name).await?;
        let key = format!("routine:{name}");
        on_db!(self.store.db(), p, REMOVE, REMOVE, |sql| sqlx::query(sql)
            .bind(name)
            .execute(p)
            .await
            .map_err(db_problem("removing a routine"))?
            .rows_affected());
        on_db!(self.store.db(), p, CANCEL_WAITING, CANCEL_WAITING, |sql| sqlx::query(sql)
            .bind(&key)
            .bind(now_ms)
            .execute(p)
            .await
            .map_err(db_problem("cancelling a routine's waiting runs"))?
            .rows_affected());
        Ok(())
    }

    /// Pause (nothing but `routine run` fires it) or resume routine `name`.
    /// A resumed clock routine's next tick is the first at or after now:
    /// ticks missed while paused are not run.
    ///
    /// # Errors
    ///
    /// No such routine, or a database failure.
    pub async fn set_paused(&self, name: &str, paused: bool, now_ms: i64) -> Result<Routine, Problem> {
        let r = self.get(name).await?;
        let next = if paused { r.next_fire_ms } else { r.trigger.next(now_ms, true, r.created_ms) };
        on_db!(self.store.db(), p, PAUSE, PAUSE, |sql| sqlx::query(sql)
            .bind(name)
            .bind(i64::from(paused))
            .bind(next)
            .bind(now_ms)
            .execute(p)
            .await
            .map_err(db_problem("pausing a routine"))?
            .rows_affected());
        self.get(name).await
    }

    /// Enqueue routine `r`'s run for `slot` (once per slot: the job's
    /// idempotency key), unless `respect` and it is paused or cooling
    /// down. `None`: skipped.
    async fn fire(
        &self,
        r: &Routine,
        slot: &str,
        cause: String,
        input: Option<String>,
        (now_ms, run_after_ms, respect): (i64, i64, bool),
    ) -> Result<Option<Fired>, sqlx::Error> {
        if respect {
            let cooling = r.last_fire.is_some_and(|(at, _)| {
                r.action.cooldown_s > 0 && now_ms < at.saturating_add((r.action.cooldown_s as i64).saturating_mul(1000))
            });
            if r.paused || cooling {
                return Ok(None);
            }
        }
        let fire = Fire { routine: r.name.clone(), slot: slot.to_string(), cause, input };
        let job = NewJob {
            kind: r.kind.clone(),
            payload: serde_json::to_string(&fire).unwrap_or_default(),
            queue_key: (!r.action.concurrent).then(|| format!("routine:{}", r.name)),
            idempotency_key: Some(format!("routine:{}:{slot}", r.name)),
            max_attempts: 3,
            run_after_ms: Some(run_after_ms),
        };
        let enqueued = self.store.jobs().enqueue(&job).await?;
        if enqueued.created {
            on_db!(self.store.db(), p, FIRED, FIRED, |sql| sqlx::query(sql)
                .bind(&r.name)
                .bind(now_ms)
                .bind(enqueued.id)
                .execute(p)
                .await?
                .rows_affected());
        }
        Ok(Some(Fired { name: r.name.clone(), slot: slot.to_string(), job_id: enqueued.id, created: enqueued.created }))
    }

    /// `claw routine run NAME`: fire it now, paused or not.
    ///
    /// # Errors
    ///
    /// No such routine, or a database failure.
    pub async fn run_now(&self, name: &str, now_ms: i64) -> Result<Fired, Problem> {
        let r = self.get(name).await?;
        let slot = format!("manual:{now_ms}");
        let fired = self.fire(&r, &slot, "run by the operator".into(), None, (now_ms, now_ms, false));
        Ok(fired.await.map_err(db_problem("enqueueing the run"))?.expect("a manual run is never skipped"))
    }

    /// A verified webhook delivery for routine `name` (`delivery`: the
    /// sender's delivery id, or a hash of the body — a redelivery fires
    /// nothing new).
    ///
    /// # Errors
    ///
    /// No such routine, one with another trigger, or a database failure.
    pub async fn fire_webhook(
        &self,
        name: &str,
        delivery: &str,
        body: String,
        now_ms: i64,
    ) -> Result<Option<Fired>, Problem> {
        let r = self.get(name).await?;
        if !matches!(r.trigger, Trigger::Webhook { .. }) {
            return Err(Problem::new(format!("routine `{name}` has no webhook trigger")));
        }
        let cause = "a webhook delivery".to_string();
        let slot = format!("webhook:{delivery}");
        self.fire(&r, &slot, cause, Some(body), (now_ms, now_ms, true)).await.map_err(db_problem("enqueueing the run"))
    }

    /// Fire every clock routine due at `now_ms`: move its next tick on (by
    /// compare-and-set: a tick another process moved first is theirs) and
    /// enqueue its run. Returns what this call fired.
    ///
    /// # Errors
    ///
    /// A database failure (a routine not yet moved on is fired next time).
    pub async fn fire_due(&self, now_ms: i64) -> Result<Vec<Fired>, Problem> {
        let due: Vec<Row> = on_db!(self.store.db(), p, DUE, DUE, |sql| sqlx::query_as(sql)
            .bind(now_ms)
            .fetch_all(p)
            .await
            .map_err(db_problem("reading due routines"))?);
        let mut fired = Vec::new();
        for row in due {
            let (r, _) = match routine(row) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("{e}");
                    continue;
                }
            };
            let Some(tick) = r.next_fire_ms else { continue };
            // The next tick on the grid after this one; when ticks were
            // missed, the first after now (one catch-up run, not a burst).
            let next = r.trigger.next(tick.max(now_ms), false, r.created_ms);
            let moved = on_db!(self.store.db(), p, ADVANCE, ADVANCE, |sql| sqlx::query(sql)
                .bind(&r.name)
                .bind(tick)
                .bind(next)
                .bind(now_ms)
                .execute(p)
                .await
                .map_err(db_problem("moving a routine on"))?
                .rows_affected());
            if moved != 1 {
                continue;
            }
            let cause = format!("the {} tick", crate::jobs::trigger::describe_ms(tick));
            let slot = tick.to_string();
            let f = self.fire(&r, &slot, cause, None, (now_ms, tick, true));
            fired.extend(f.await.map_err(db_problem("enqueueing a routine's run"))?);
        }
        Ok(fired)
    }

    /// A message arrived on `channel` (`key`: its job's identity): fire
    /// every message routine whose channel and pattern match it.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn fire_message(&self, channel: &str, text: &str, key: &str, now_ms: i64) -> Result<Vec<Fired>, Problem> {
        let mut fired = Vec::new();
        for r in self.by_trigger("event").await? {
            let Trigger::Event(Event::Message { channel: c, pattern }) = &r.trigger else { continue };
            if (c == "*" || c == channel) && pattern.is_match(text) {
                let cause = format!("a message on {channel} matching /{}/", pattern.as_str());
                let slot = format!("message:{key}");
                let f = self.fire(&r, &slot, cause, Some(text.to_string()), (now_ms, now_ms, true));
                fired.extend(f.await.map_err(db_problem("enqueueing a routine's run"))?);
            }
        }
        Ok(fired)
    }

    /// Routine `finished` completed a run (job `job_id`): fire the
    /// routines that follow it.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn fire_after(&self, finished: &str, job_id: i64, now_ms: i64) -> Result<Vec<Fired>, Problem> {
        let mut fired = Vec::new();
        for r in self.by_trigger("event").await? {
            let Trigger::Event(Event::Finished { routine }) = &r.trigger else { continue };
            if routine == finished {
                let cause = format!("routine {finished} finished");
                let slot = format!("after:{job_id}");
                let f = self.fire(&r, &slot, cause, None, (now_ms, now_ms, true));
                fired.extend(f.await.map_err(db_problem("enqueueing a routine's run"))?);
            }
        }
        Ok(fired)
    }

    /// Fire document routines for the documents written under their prefix
    /// since they last looked (each routine's cursor moves by
    /// compare-and-set, so one process sees each change; the routine's own
    /// writes are not changes to it). One fire per document version.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn fire_documents(&self, now_ms: i64) -> Result<Vec<Fired>, Problem> {
        let rows: Vec<Row> = on_db!(self.store.db(), p, BY_TRIGGER, BY_TRIGGER, |sql| sqlx::query_as(sql)
            .bind("event")
            .fetch_all(p)
            .await
            .map_err(db_problem("reading routines"))?);
        let mut fired = Vec::new();
        for row in rows {
            let Ok((r, cursor)) = routine(row) else { continue };
            let Trigger::Event(Event::Document { prefix }) = &r.trigger else { continue };
            if r.paused || cursor >= now_ms {
                continue;
            }
            let changed: Vec<(String, i64)> = on_db!(self.store.db(), p, CHANGED_DOCS, CHANGED_DOCS, |sql| {
                sqlx::query_as(sql)
                    .bind(cursor)
                    .bind(now_ms)
                    .bind(prefix)
                    .bind(writer(&r.name))
                    .fetch_all(p)
                    .await
                    .map_err(db_problem("reading changed documents"))?
            });
            let moved = on_db!(self.store.db(), p, MOVE_CURSOR, MOVE_CURSOR, |sql| sqlx::query(sql)
                .bind(&r.name)
                .bind(cursor)
                .bind(now_ms)
                .execute(p)
                .await
                .map_err(db_problem("moving a routine's cursor"))?
                .rows_affected());
            if moved != 1 {
                continue;
            }
            for (path, modified) in changed {
                let cause = format!("{path} was written");
                let slot = format!("document:{path}:{modified}");
                let f = self.fire(&r, &slot, cause, Some(path), (now_ms, now_ms, true));
                fired.extend(f.await.map_err(db_problem("enqueueing a routine's run"))?);
            }
        }
        Ok(fired)
    }

    async fn by_trigger(&self, trigger: &str) -> Result<Vec<Routine>, Problem> {
        let rows: Vec<Row> = on_db!(self.store.db(), p, BY_TRIGGER, BY_TRIGGER, |sql| sqlx::query_as(sql)
            .bind(trigger)
            .fetch_all(p)
            .await
            .map_err(db_problem("reading routines"))?);
        Ok(rows.into_iter().filter_map(|r| routine(r).ok().map(|(r, _)| r)).collect())
    }

    /// The state of routine `r`'s last run, if it ran.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn last_state(&self, r: &Routine) -> Result<Option<(JobState, Option<String>)>, Problem> {
        let Some((_, job)) = r.last_fire else { return Ok(None) };
        let job = self.store.jobs().get(job).await.map_err(db_problem("reading a job"))?;
        Ok(job.map(|j| (j.state, j.last_error)))
    }
}

//! Routines: a cron schedule that enqueues a job at each tick.
//!
//! The peers' routine engines skip their first tick, drift, and run twice
//! after a restart. Here: a routine's first tick is the first at or after
//! the moment it is added; each next tick is computed from the tick that
//! fired (on the schedule's grid, never "now + interval"); the store's
//! `next_fire_ms` moves by compare-and-set, so of several processes exactly
//! one fires a tick; and the job it enqueues carries the idempotency key
//! `routine:NAME:TICK`. Ticks missed while no claw ran are one run, not a
//! burst: the next tick is the first after now.

use super::NewJob;
use crate::on_db;
use crate::problem::Problem;
use crate::store::{Db, Store};
use std::str::FromStr as _;

/// When a routine fires: a cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: croner::Cron,
    tz: chrono_tz::Tz,
}

impl Schedule {
    /// Parse `cron` (5 fields, or 6 with seconds first) in time zone `tz`
    /// (an IANA name such as `Europe/Berlin`, or `UTC`).
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming what did not parse.
    pub fn parse(cron: &str, tz: &str) -> Result<Schedule, Problem> {
        let parsed = croner::Cron::from_str(cron).map_err(|e| {
            Problem::new(format!("the schedule `{cron}` is not a cron expression: {e}"))
                .hint("five fields: minute hour day-of-month month day-of-week, e.g. \"0 9 * * MON-FRI\"")
        })?;
        let zone = chrono_tz::Tz::from_str(tz).map_err(|_| {
            Problem::new(format!("`{tz}` is not a time zone")).hint("use an IANA name such as Europe/Berlin, or UTC")
        })?;
        Ok(Schedule { cron: parsed, tz: zone })
    }

    /// The first tick after `ms` (at or after it, when `inclusive`).
    pub fn next(&self, ms: i64, inclusive: bool) -> Option<i64> {
        let at = chrono::DateTime::from_timestamp_millis(ms)?.with_timezone(&self.tz);
        self.cron.find_next_occurrence(&at, inclusive).ok().map(|t| t.timestamp_millis())
    }
}

/// A routine's tick that fired, and the job it enqueued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The routine.
    pub name: String,
    /// The tick (ms).
    pub tick_ms: i64,
    /// The job.
    pub job_id: i64,
}

const INSERT: &str = "INSERT INTO routines (name, schedule, tz, kind, payload, next_fire_ms, created_ms, updated_ms) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";
const DUE: &str = "SELECT name, schedule, tz, kind, payload, next_fire_ms FROM routines \
    WHERE next_fire_ms <= $1 ORDER BY next_fire_ms, name";
const ADVANCE: &str = "UPDATE routines SET next_fire_ms = $3, updated_ms = $4 WHERE name = $1 AND next_fire_ms = $2";
const NEXT: &str = "SELECT next_fire_ms FROM routines WHERE name = $1";

type DueRow = (String, String, String, String, String, i64);

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

impl Routines<'_> {
    /// Add a routine that enqueues a job of `kind` with `payload` at each
    /// tick of `schedule`, the first at or after `now_ms`.
    ///
    /// # Errors
    ///
    /// A schedule that does not parse or never fires, a name in use, or a
    /// database failure.
    pub async fn add(
        &self,
        name: &str,
        (cron, tz): (&str, &str),
        kind: &str,
        payload: &serde_json::Value,
        now_ms: i64,
    ) -> Result<i64, Problem> {
        let schedule = Schedule::parse(cron, tz)?;
        let first =
            schedule.next(now_ms, true).ok_or_else(|| Problem::new(format!("the schedule `{cron}` never fires")))?;
        let payload = payload.to_string();
        let added: Result<_, sqlx::Error> = on_db!(self.store.db(), p, INSERT, INSERT, |sql| sqlx::query(sql)
            .bind(name)
            .bind(cron)
            .bind(tz)
            .bind(kind)
            .bind(&payload)
            .bind(first)
            .bind(now_ms)
            .execute(p)
            .await
            .map(|_| ()));
        match added {
            Ok(_) => Ok(first),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(Problem::new(format!("a routine named `{name}` exists"))
                    .hint("pick another name, or remove the old routine first"))
            }
            Err(e) => Err(Problem::new(format!("storing routine `{name}` failed: {e}"))),
        }
    }

    /// When routine `name` fires next (ms), if it exists.
    ///
    /// # Errors
    ///
    /// A database failure.
    pub async fn next_fire(&self, name: &str) -> Result<Option<i64>, sqlx::Error> {
        on_db!(self.store.db(), p, NEXT, NEXT, |sql| sqlx::query_scalar(sql).bind(name).fetch_optional(p).await)
    }

    /// Fire every routine due at `now_ms`: move its next tick on (by
    /// compare-and-set: a tick another process moved first is theirs) and
    /// enqueue its job. Returns what this call fired.
    ///
    /// # Errors
    ///
    /// A database failure (a routine not yet moved on is fired next time).
    pub async fn fire_due(&self, now_ms: i64) -> Result<Vec<Fired>, sqlx::Error> {
        let due: Vec<DueRow> =
            on_db!(self.store.db(), p, DUE, DUE, |sql| sqlx::query_as(sql).bind(now_ms).fetch_all(p).await?);
        let mut fired = Vec::new();
        for (name, cron, tz, kind, payload, tick) in due {
            let Ok(schedule) = Schedule::parse(&cron, &tz) else {
                tracing::warn!("routine `{name}` has a schedule that no longer parses: `{cron}` in {tz}");
                continue;
            };
            // The next tick on the grid after this one; when ticks were
            // missed, the first after now (one catch-up run, not a burst).
            let Some(next) = schedule.next(tick.max(now_ms), false) else { continue };
            let moved = on_db!(self.store.db(), p, ADVANCE, ADVANCE, |sql| sqlx::query(sql)
                .bind(&name)
                .bind(tick)
                .bind(next)
                .bind(now_ms)
                .execute(p)
                .await?
                .rows_affected());
            if moved != 1 {
                continue;
            }
            let job = NewJob {
                kind,
                payload,
                queue_key: Some(format!("routine:{name}")),
                idempotency_key: Some(format!("routine:{name}:{tick}")),
                max_attempts: 3,
                run_after_ms: Some(tick),
            };
            let enqueued = self.store.jobs().enqueue(&job).await?;
            fired.push(Fired { name, tick_ms: tick, job_id: enqueued.id });
        }
        Ok(fired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2027-03-01T09:00:00Z.
    const NINE: i64 = 1_803_891_600_000;

    #[test]
    fn ticks_fall_on_the_grid_in_the_schedules_time_zone() {
        let every_five = Schedule::parse("*/5 * * * *", "UTC").unwrap();
        assert_eq!(every_five.next(NINE, true), Some(NINE), "a tick at the very moment counts");
        assert_eq!(every_five.next(NINE, false), Some(NINE + 300_000));
        assert_eq!(every_five.next(NINE + 7_000, false), Some(NINE + 300_000), "late is not drift");
        // 09:00 in Berlin is 08:00 UTC in March (CET, UTC+1).
        let berlin = Schedule::parse("0 9 * * *", "Europe/Berlin").unwrap();
        assert_eq!(berlin.next(NINE - 3 * 3_600_000, true), Some(NINE - 3_600_000));
    }

    #[test]
    fn bad_schedules_and_zones_say_what_is_wrong() {
        let e = Schedule::parse("61 * * * *", "UTC").unwrap_err();
        assert!(e.to_string().contains("`61 * * * *` is not a cron expression"), "{e}");
        assert!(e.hint_text().unwrap().contains("five fields"));
        let e = Schedule::parse("0 9 * * *", "Mars/Olympus").unwrap_err();
        assert!(e.to_string().contains("`Mars/Olympus` is not a time zone"), "{e}");
    }
}

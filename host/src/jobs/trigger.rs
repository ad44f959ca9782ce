//! What fires a routine, as plain data: a clock (a cron schedule, a
//! period, one moment) or something that happens (a webhook, a message on
//! a channel, a document changed, another routine finished), with the
//! parsing that turns the operator's words into one and names what is
//! wrong.
//!
//! Clock semantics, the same for every process: a cron routine's ticks are
//! the schedule's in its time zone — in a DST gap, a tick whose local time
//! does not exist fires at the first minute after the gap; in an overlap,
//! a tick fires once, at its first occurrence. An `every` routine's ticks
//! are `added + k·period` (k = 0 included: it runs when added), never
//! "last run + period", so a slow run does not shift the grid. An `at`
//! routine fires once; a local time a DST gap skips is refused, one an
//! overlap repeats means its first occurrence.

use crate::inbound::Verifier;
use crate::problem::Problem;
use std::str::FromStr as _;

/// A cron expression in a time zone.
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
            Problem::new(format!("--cron: `{cron}` is not a cron expression: {e}"))
                .hint("five fields: minute hour day-of-month month day-of-week, e.g. --cron \"0 9 * * MON-FRI\"")
        })?;
        Ok(Schedule { cron: parsed, tz: zone(tz)? })
    }

    /// The first tick after `ms` (at or after it, when `inclusive`).
    pub fn next(&self, ms: i64, inclusive: bool) -> Option<i64> {
        // Ticks fall on whole seconds: from inside a second, the first
        // candidate is the next whole one (croner would keep the fraction).
        let (ms, inclusive) = match ms.rem_euclid(1000) {
            0 => (ms, inclusive),
            frac => (ms - frac + 1000, true),
        };
        let at = chrono::DateTime::from_timestamp_millis(ms)?.with_timezone(&self.tz);
        self.cron.find_next_occurrence(&at, inclusive).ok().map(|t| t.timestamp_millis())
    }
}

/// An IANA time zone by name.
///
/// # Errors
///
/// A [`Problem`] with an example.
pub fn zone(tz: &str) -> Result<chrono_tz::Tz, Problem> {
    chrono_tz::Tz::from_str(tz).map_err(|_| {
        Problem::new(format!("--tz: `{tz}` is not a time zone"))
            .hint("use an IANA name such as --tz Europe/Berlin, America/New_York or UTC")
    })
}

/// This machine's time zone (the default of `--tz`), else UTC.
pub fn local_zone() -> String {
    iana_time_zone::get_timezone().ok().filter(|z| zone(z).is_ok()).unwrap_or_else(|| "UTC".to_string())
}

/// Parse a duration such as `30m`, `1h30m`, `90s` or `2d` into ms.
///
/// # Errors
///
/// A [`Problem`] naming `field` with an example.
pub fn duration_ms(text: &str, field: &str) -> Result<i64, Problem> {
    // A flag is written `--every 30m`, a config key `jobs.lease = "30s"`.
    let example = |v: &str| if field.starts_with("--") { format!("{field} {v}") } else { format!("{field} = \"{v}\"") };
    let bad = || {
        Problem::new(format!("{field}: `{text}` is not a duration")).hint(format!(
            "a number and a unit (ms, s, m, h, d), e.g. {} or {}",
            example("30m"),
            example("1h30m")
        ))
    };
    let (mut total, mut number, mut any) = (0i64, None::<i64>, false);
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(d) = c.to_digit(10) {
            number = Some(number.unwrap_or(0).checked_mul(10).and_then(|n| n.checked_add(d.into())).ok_or_else(bad)?);
            continue;
        }
        let unit = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return Err(bad()),
        };
        total = number.take().ok_or_else(bad)?.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
        any = true;
    }
    if number.is_some() || !any {
        return Err(bad());
    }
    if total == 0 {
        return Err(Problem::new(format!("{field}: `{text}` is no time at all")).hint(example("30s")));
    }
    Ok(total)
}

/// What a routine waits for when no clock fires it.
#[derive(Debug, Clone)]
pub enum Event {
    /// A message on `channel` (any channel: `*`) whose text matches.
    Message {
        /// The channel's name, or `*`.
        channel: String,
        /// A regular expression (case-insensitive).
        pattern: regex::Regex,
    },
    /// A workspace document under `prefix` was written.
    Document {
        /// A path prefix such as `inbox/`.
        prefix: String,
    },
    /// Routine `routine` finished a run (successfully).
    Finished {
        /// The routine.
        routine: String,
    },
}

/// What fires a routine.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// Each tick of a cron schedule.
    Cron {
        /// The expression as given.
        expr: String,
        /// The time zone's name.
        tz: String,
        /// Both, parsed (boxed: a parsed cron is large).
        schedule: Box<Schedule>,
    },
    /// Every `period_ms`, from when it was added.
    Every {
        /// The period.
        period_ms: i64,
        /// As the operator wrote it.
        text: String,
    },
    /// Once, at `at_ms`.
    At {
        /// The moment.
        at_ms: i64,
        /// The local time as given, and its zone.
        local: String,
        /// The zone.
        tz: String,
    },
    /// A POST to the routine's webhook URL on the gateway, verified by the
    /// host with a vault secret.
    Webhook {
        /// How the request proves it is the sender's.
        verifier: Verifier,
        /// The vault secret it is checked with.
        secret: String,
    },
    /// Something that happens in claw.
    Event(Event),
}

impl Trigger {
    /// `--cron EXPR --tz ZONE`.
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming what did not parse.
    pub fn cron(expr: &str, tz: &str) -> Result<Trigger, Problem> {
        Ok(Trigger::Cron { expr: expr.into(), tz: tz.into(), schedule: Box::new(Schedule::parse(expr, tz)?) })
    }

    /// `--every DURATION`.
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming what did not parse.
    pub fn every(text: &str) -> Result<Trigger, Problem> {
        let period_ms = duration_ms(text, "--every")?;
        if period_ms < 1_000 {
            return Err(Problem::new(format!("--every: `{text}` is shorter than a second")).hint("e.g. --every 30s"));
        }
        Ok(Trigger::Every { period_ms, text: text.into() })
    }

    /// `--at TIME` in zone `tz`: `2026-12-24T09:00` (local to `tz`) or
    /// an RFC 3339 time with an offset.
    ///
    /// # Errors
    ///
    /// A [`Problem`]: no such time, a DST gap skips it.
    pub fn at(text: &str, tz: &str) -> Result<Trigger, Problem> {
        use chrono::TimeZone as _;
        let zone = zone(tz)?;
        let at_ms = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
            t.timestamp_millis()
        } else {
            let naive = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
                .ok_or_else(|| {
                    Problem::new(format!("--at: `{text}` is not a date and time")).hint(
                        "e.g. --at 2026-12-24T09:00 (in --tz), or an RFC 3339 time such as 2026-12-24T09:00:00+01:00",
                    )
                })?;
            match zone.from_local_datetime(&naive) {
                chrono::LocalResult::Single(t) => t.timestamp_millis(),
                // An overlap: the first occurrence (documented above).
                chrono::LocalResult::Ambiguous(first, _) => first.timestamp_millis(),
                chrono::LocalResult::None => {
                    return Err(Problem::new(format!(
                        "--at: {text} does not exist in {tz}: the clocks skip it (daylight saving time)"
                    ))
                    .hint("pick a time outside the gap, e.g. an hour later"));
                }
            }
        };
        Ok(Trigger::At { at_ms, local: text.to_string(), tz: tz.to_string() })
    }

    /// A message trigger: `CHANNEL:REGEX` (`*:REGEX` for any channel).
    ///
    /// # Errors
    ///
    /// A [`Problem`] for a missing channel or a pattern that does not parse.
    pub fn on_message(spec: &str) -> Result<Trigger, Problem> {
        let Some((channel, pattern)) = spec.split_once(':') else {
            return Err(Problem::new(format!("--on-message: `{spec}` names no channel"))
                .hint("CHANNEL:PATTERN, e.g. --on-message 'repl:^deploy' or --on-message '*:urgent'"));
        };
        let pattern =
            regex::RegexBuilder::new(pattern).case_insensitive(true).size_limit(1 << 20).build().map_err(|e| {
                Problem::new(format!("--on-message: `{pattern}` is not a regular expression: {e}"))
                    .hint("e.g. --on-message 'repl:^deploy '")
            })?;
        Ok(Trigger::Event(Event::Message { channel: channel.to_string(), pattern }))
    }

    /// The trigger's kind as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Cron { .. } => "cron",
            Trigger::Every { .. } => "every",
            Trigger::At { .. } => "at",
            Trigger::Webhook { .. } => "webhook",
            Trigger::Event(_) => "event",
        }
    }

    /// The stored columns: (trigger, schedule, tz).
    pub fn to_stored(&self) -> (&'static str, String, String) {
        let (schedule, tz) = match self {
            Trigger::Cron { expr, tz, .. } => (expr.clone(), tz.clone()),
            Trigger::Every { text, .. } => (text.clone(), "UTC".into()),
            Trigger::At { local, tz, .. } => (local.clone(), tz.clone()),
            Trigger::Webhook { verifier, secret } => (format!("{}:{secret}", verifier_name(verifier)), "UTC".into()),
            Trigger::Event(Event::Message { channel, pattern }) => {
                (format!("message:{channel}:{}", pattern.as_str()), "UTC".into())
            }
            Trigger::Event(Event::Document { prefix }) => (format!("document:{prefix}"), "UTC".into()),
            Trigger::Event(Event::Finished { routine }) => (format!("finished:{routine}"), "UTC".into()),
        };
        (self.kind(), schedule, tz)
    }

    /// The trigger stored as (trigger, schedule, tz).
    ///
    /// # Errors
    ///
    /// A [`Problem`] when the row no longer parses.
    pub fn from_stored(trigger: &str, schedule: &str, tz: &str) -> Result<Trigger, Problem> {
        match trigger {
            "cron" => Trigger::cron(schedule, tz),
            "every" => Trigger::every(schedule),
            "at" => Trigger::at(schedule, tz),
            "webhook" => {
                let (verifier, secret) = schedule
                    .split_once(':')
                    .ok_or_else(|| Problem::new(format!("a stored webhook trigger `{schedule}` names no secret")))?;
                Ok(Trigger::Webhook { verifier: verifier_named(verifier)?, secret: secret.into() })
            }
            "event" => match schedule.split_once(':') {
                Some(("message", rest)) => Trigger::on_message(rest),
                Some(("document", prefix)) => Ok(Trigger::Event(Event::Document { prefix: prefix.into() })),
                Some(("finished", routine)) => Ok(Trigger::Event(Event::Finished { routine: routine.into() })),
                _ => Err(Problem::new(format!("a stored event trigger `{schedule}` is not one claw knows"))),
            },
            other => Err(Problem::new(format!("a stored trigger of kind `{other}` is not one claw knows"))),
        }
    }

    /// When a clock fires it next: the first tick at or after `from_ms`
    /// (after it, unless `inclusive`); `added_ms` anchors an `every` grid.
    /// `None`: no clock fires it (any more).
    pub fn next(&self, from_ms: i64, inclusive: bool, added_ms: i64) -> Option<i64> {
        match self {
            Trigger::Cron { schedule, .. } => schedule.next(from_ms, inclusive),
            Trigger::Every { period_ms, .. } => {
                let since = from_ms.saturating_sub(added_ms).max(0);
                let mut k = since / period_ms;
                let at = |k: i64| added_ms.saturating_add(k.saturating_mul(*period_ms));
                if at(k) < from_ms || (!inclusive && at(k) == from_ms) {
                    k += 1;
                }
                Some(at(k))
            }
            Trigger::At { at_ms, .. } => (*at_ms > from_ms || (inclusive && *at_ms == from_ms)).then_some(*at_ms),
            Trigger::Webhook { .. } | Trigger::Event(_) => None,
        }
    }

    /// The trigger in words, for `routine list`.
    pub fn describe(&self) -> String {
        match self {
            Trigger::Cron { expr, tz, .. } => format!("cron \"{expr}\" ({tz})"),
            Trigger::Every { text, .. } => format!("every {text}"),
            Trigger::At { local, tz, .. } => format!("at {local} ({tz})"),
            Trigger::Webhook { verifier, secret } => format!("webhook ({}, secret {secret})", verifier_name(verifier)),
            Trigger::Event(Event::Message { channel, pattern }) => {
                format!("a message on {channel} matching /{}/", pattern.as_str())
            }
            Trigger::Event(Event::Document { prefix }) => format!("a document written under {prefix}"),
            Trigger::Event(Event::Finished { routine }) => format!("routine {routine} finished"),
        }
    }
}

/// A moment for a person: RFC 3339 in UTC, to the second.
pub fn describe_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// A webhook verifier's name on the command line.
pub fn verifier_name(v: &Verifier) -> &'static str {
    match v {
        Verifier::Telegram => "telegram",
        Verifier::Slack => "slack",
        Verifier::HmacSha256 { .. } => "hmac-sha256",
        Verifier::Bearer => "bearer",
    }
}

/// The verifier `--verify NAME` means.
///
/// # Errors
///
/// A [`Problem`] listing the names.
pub fn verifier_named(name: &str) -> Result<Verifier, Problem> {
    match name {
        "hmac-sha256" => Ok(Verifier::HmacSha256 { header: "x-hub-signature-256".into() }),
        "bearer" => Ok(Verifier::Bearer),
        "slack" => Ok(Verifier::Slack),
        "telegram" => Ok(Verifier::Telegram),
        other => Err(Problem::new(format!("--verify: `{other}` is not a webhook verifier"))
            .hint("use hmac-sha256 (the body's HMAC in X-Hub-Signature-256), bearer, slack or telegram")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2027-03-01T09:00:00Z.
    const NINE: i64 = 1_803_891_600_000;

    #[test]
    fn cron_ticks_fall_on_the_grid_in_the_schedules_time_zone() {
        let every_five = Schedule::parse("*/5 * * * *", "UTC").unwrap();
        assert_eq!(every_five.next(NINE, true), Some(NINE), "a tick at the very moment counts");
        assert_eq!(every_five.next(NINE, false), Some(NINE + 300_000));
        assert_eq!(every_five.next(NINE + 7_000, false), Some(NINE + 300_000), "late is not drift");
        assert_eq!(every_five.next(NINE - 299_314, true), Some(NINE), "from inside a second: ticks stay whole");
        assert_eq!(every_five.next(NINE + 686, false), Some(NINE + 300_000));
        // 09:00 in Berlin is 08:00 UTC in March (CET, UTC+1).
        let berlin = Schedule::parse("0 9 * * *", "Europe/Berlin").unwrap();
        assert_eq!(berlin.next(NINE - 3 * 3_600_000, true), Some(NINE - 3_600_000));
    }

    #[test]
    fn cron_in_dst_gaps_and_overlaps_behaves_as_documented() {
        // Berlin, 2027-03-28: 02:00 CET jumps to 03:00 CEST. A 02:30 tick
        // does not exist that day: it fires at the first minute after.
        let gap = Schedule::parse("30 2 * * *", "Europe/Berlin").unwrap();
        let midnight_utc = chrono::DateTime::parse_from_rfc3339("2027-03-27T23:00:00Z").unwrap().timestamp_millis();
        let fired = gap.next(midnight_utc, true).unwrap();
        let local = chrono::DateTime::from_timestamp_millis(fired).unwrap().with_timezone(&chrono_tz::Europe::Berlin);
        assert_eq!(local.format("%Y-%m-%d").to_string(), "2027-03-28", "the gap day still fires: {local}");
        assert!(local.format("%H:%M").to_string().as_str() >= "03:00", "after the gap: {local}");
        // 2027-10-31: 03:00 CEST falls back to 02:00 CET; 02:30 happens
        // twice, the tick fires once.
        let overlap_day = chrono::DateTime::parse_from_rfc3339("2027-10-30T22:00:00Z").unwrap().timestamp_millis();
        let first = gap.next(overlap_day, true).unwrap();
        let second = gap.next(first, false).unwrap();
        assert!(second - first > 20 * 3_600_000, "one fire in the overlap, the next a day on: {first} {second}");
    }

    #[test]
    fn every_keeps_its_grid_from_when_it_was_added() {
        let t = Trigger::Every { period_ms: 60_000, text: "1m".into() };
        assert_eq!(t.next(NINE, true, NINE), Some(NINE), "runs when added");
        assert_eq!(t.next(NINE, false, NINE), Some(NINE + 60_000));
        assert_eq!(t.next(NINE + 61_500, false, NINE), Some(NINE + 120_000), "a late run does not shift the grid");
        assert_eq!(t.next(NINE + 120_000, true, NINE), Some(NINE + 120_000));
    }

    #[test]
    fn at_fires_once_and_refuses_times_that_do_not_exist() {
        let t = Trigger::at("2027-03-01T10:00", "Europe/Berlin").unwrap();
        assert_eq!(t.next(0, true, 0), Some(NINE));
        assert_eq!(t.next(NINE, false, 0), None, "after it fired, no clock fires it again");
        let e = Trigger::at("2027-03-28T02:30", "Europe/Berlin").unwrap_err();
        assert!(e.to_string().contains("does not exist in Europe/Berlin"), "{e}");
        let e = Trigger::at("next tuesday", "UTC").unwrap_err();
        assert!(e.to_string().starts_with("--at: `next tuesday`"), "{e}");
        assert!(e.hint_text().unwrap().contains("2026-12-24T09:00"));
        assert_eq!(Trigger::at("2027-03-01T09:00:00Z", "Asia/Tokyo").unwrap().next(0, true, 0), Some(NINE));
    }

    #[test]
    fn bad_input_names_the_field_and_shows_an_example() {
        let e = Schedule::parse("61 * * * *", "UTC").unwrap_err();
        assert!(e.to_string().contains("--cron: `61 * * * *` is not a cron expression"), "{e}");
        assert!(e.hint_text().unwrap().contains("0 9 * * MON-FRI"));
        let e = Schedule::parse("0 9 * * *", "Mars/Olympus").unwrap_err();
        assert!(e.to_string().contains("--tz: `Mars/Olympus` is not a time zone"), "{e}");
        for bad in ["", "30", "m", "30x", "1h30", "99999999999999999999d"] {
            let e = duration_ms(bad, "--every").unwrap_err();
            assert!(e.to_string().starts_with("--every: "), "{bad}: {e}");
        }
        assert!(duration_ms("0s", "--every").unwrap_err().to_string().contains("no time at all"));
        assert!(Trigger::every("500ms").unwrap_err().to_string().contains("shorter than a second"));
        assert_eq!(duration_ms("1h30m", "--every").unwrap(), 5_400_000);
        assert_eq!(duration_ms("250ms", "jobs.poll").unwrap(), 250);
        assert!(duration_ms("5x", "jobs.lease").unwrap_err().hint_text().unwrap().contains("jobs.lease = \"30m\""));
        assert_eq!(duration_ms("2d", "--every").unwrap(), 172_800_000);
        let e = Trigger::on_message("repl:(unclosed").unwrap_err();
        assert!(e.to_string().contains("is not a regular expression"), "{e}");
        assert!(Trigger::on_message("no-channel").unwrap_err().to_string().contains("names no channel"));
        assert!(verifier_named("md5").unwrap_err().hint_text().unwrap().contains("hmac-sha256"));
    }

    #[test]
    fn every_trigger_round_trips_through_its_stored_form() {
        let all = [
            Trigger::cron("0 9 * * MON-FRI", "Europe/Berlin").unwrap(),
            Trigger::every("30m").unwrap(),
            Trigger::at("2027-03-01T10:00", "Europe/Berlin").unwrap(),
            Trigger::Webhook { verifier: Verifier::Bearer, secret: "hook_token".into() },
            Trigger::on_message("*:^urgent").unwrap(),
            Trigger::Event(Event::Document { prefix: "inbox/".into() }),
            Trigger::Event(Event::Finished { routine: "fetch".into() }),
        ];
        for t in all {
            let (kind, schedule, tz) = t.to_stored();
            let back = Trigger::from_stored(kind, &schedule, &tz).unwrap();
            assert_eq!(back.describe(), t.describe());
            assert_eq!(back.next(NINE, true, NINE), t.next(NINE, true, NINE));
        }
        assert!(Trigger::from_stored("lunar", "", "UTC").is_err());
    }
}

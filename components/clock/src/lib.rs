//! `clock`: the current time, in UTC or at a fixed offset.

use claw_sdk::{Context, Error, Tool, export_tool, schemars, serde};
use std::time::{SystemTime, UNIX_EPOCH};

/// Parameters of `clock`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct Clock {
    /// Offset from UTC in minutes (e.g. 60 for UTC+01:00). Default 0.
    #[serde(default)]
    utc_offset_minutes: i32,
}

/// What `clock` returns.
#[derive(serde::Serialize)]
#[serde(crate = "claw_sdk::serde")]
struct Now {
    /// RFC 3339 time at the requested offset.
    rfc3339: String,
    /// Seconds since the Unix epoch.
    unix: i64,
    /// Day of the week at the requested offset.
    weekday: &'static str,
}

impl Tool for Clock {
    const DESCRIPTION: &'static str =
        "The current date and time (RFC 3339, Unix seconds and weekday), in UTC or at a given offset.";
    type Output = Now;

    fn execute(self, _ctx: &Context) -> Result<Now, Error> {
        if self.utc_offset_minutes.abs() > 18 * 60 {
            return Err(Error::invalid_params("utc_offset_minutes must be between -1080 and 1080"));
        }
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::failed("the clock is before 1970"))?
            .as_secs() as i64;
        Ok(format_time(unix, self.utc_offset_minutes))
    }
}

fn format_time(unix: i64, offset_minutes: i32) -> Now {
    let local = unix + i64::from(offset_minutes) * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.abs();
    let zone = if offset_minutes == 0 { "Z".to_string() } else { format!("{sign}{:02}:{:02}", off / 60, off % 60) };
    const WEEKDAYS: [&str; 7] = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];
    Now {
        rfc3339: format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{zone}", secs / 3600, secs % 3600 / 60, secs % 60),
        unix,
        weekday: WEEKDAYS[days.rem_euclid(7) as usize],
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

export_tool!(Clock);

#[cfg(test)]
mod tests {
    use super::format_time;

    #[test]
    fn formats_known_instants() {
        let t = format_time(0, 0);
        assert_eq!(t.rfc3339, "1970-01-01T00:00:00Z");
        assert_eq!(t.weekday, "Thursday");
        let t = format_time(1_795_000_000, 90);
        assert_eq!(t.rfc3339, "2026-11-18T12:36:40+01:30");
        let t = format_time(951_782_400, -60); // 2000-02-29T00:00Z
        assert_eq!(t.rfc3339, "2000-02-28T23:00:00-01:00");
    }
}

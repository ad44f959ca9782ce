//! Collapsing runs of identical denials, so a component that loops on a
//! refused request cannot fill the disk.
//!
//! The first denial of a run is written at once; identical ones after it are
//! counted, and one record carrying the count (`repeats`) is written when a
//! different record arrives, when the run is 60 s old, after 10,000 repeats,
//! or on flush.

use super::Record;

/// How long a run lasts before its count is written.
pub(super) const WINDOW_MS: u64 = 60_000;

/// How many repeats one record may stand for.
pub(super) const MAX_REPEATS: u64 = 10_000;

/// The denial a run repeats, and the repeats not yet written.
#[derive(Debug)]
struct Run {
    started_ms: u64,
    count: u64,
    last: Record,
}

/// Whether two denials are the same, as far as the log is concerned.
fn same(a: &Record, b: &Record) -> bool {
    a.component == b.component
        && a.method == b.method
        && a.scheme == b.scheme
        && a.host == b.host
        && a.port == b.port
        && a.path == b.path
        && a.rule == b.rule
}

fn collapsible(r: &Record) -> bool {
    r.decision == "deny" && r.outcome_of.is_none() && r.repeats.is_none()
}

/// The run in progress, if any.
#[derive(Debug, Default)]
pub(super) struct Collapse {
    run: Option<Run>,
}

impl Collapse {
    /// Take `r` at `now_ms`; push what is to be written onto `out` (a
    /// pending count first, then `r` itself). `false` when `r` was only
    /// counted.
    pub(super) fn admit(&mut self, r: Record, now_ms: u64, out: &mut Vec<Record>) -> bool {
        self.expire(now_ms, out);
        if let Some(run) = &mut self.run
            && collapsible(&r)
            && same(&run.last, &r)
        {
            run.count += 1;
            run.last = r;
            if run.count >= MAX_REPEATS {
                out.push(summary(run));
            }
            return false;
        }
        self.flush(out);
        if collapsible(&r) {
            self.run = Some(Run { started_ms: now_ms, count: 0, last: r.clone() });
        }
        out.push(r);
        true
    }

    /// End a run that is a window old, writing its count.
    pub(super) fn expire(&mut self, now_ms: u64, out: &mut Vec<Record>) {
        if self.run.as_ref().is_some_and(|run| now_ms.saturating_sub(run.started_ms) >= WINDOW_MS) {
            self.flush(out);
        }
    }

    /// End the run, writing its count if there is one.
    pub(super) fn flush(&mut self, out: &mut Vec<Record>) {
        if let Some(mut run) = self.run.take()
            && run.count > 0
        {
            out.push(summary(&mut run));
        }
    }

    /// When the pending count is due, if there is one.
    pub(super) fn deadline_ms(&self) -> Option<u64> {
        self.run.as_ref().filter(|run| run.count > 0).map(|run| run.started_ms + WINDOW_MS)
    }

    /// Forget the run (its records could not be written).
    pub(super) fn reset(&mut self) {
        self.run = None;
    }
}

/// The record standing for the run's pending repeats; the count restarts.
fn summary(run: &mut Run) -> Record {
    let mut r = run.last.clone();
    r.repeats = Some(run.count);
    run.count = 0;
    r
}

#[cfg(test)]
mod tests {
    use super::super::tests::draft;
    use super::*;

    fn paths(out: &[Record]) -> Vec<(String, Option<u64>)> {
        out.iter().map(|r| (r.path.clone(), r.repeats)).collect()
    }

    #[test]
    fn identical_denials_in_a_row_become_one_record_with_a_count() {
        let mut c = Collapse::default();
        let mut out = Vec::new();
        assert!(c.admit(draft("/x", "deny"), 0, &mut out));
        for t in 1..100 {
            assert!(!c.admit(draft("/x", "deny"), t, &mut out));
        }
        assert_eq!(paths(&out), [("/x".into(), None)]);
        c.admit(draft("/y", "allow"), 200, &mut out);
        assert_eq!(paths(&out), [("/x".into(), None), ("/x".into(), Some(99)), ("/y".into(), None)]);
        assert_eq!(c.deadline_ms(), None);
    }

    #[test]
    fn a_different_denial_ends_the_run() {
        let mut c = Collapse::default();
        let mut out = Vec::new();
        c.admit(draft("/x", "deny"), 0, &mut out);
        c.admit(draft("/x", "deny"), 1, &mut out);
        let mut other = draft("/x", "deny");
        other.rule = "another rule".into();
        assert!(c.admit(other, 2, &mut out));
        assert_eq!(paths(&out), [("/x".into(), None), ("/x".into(), Some(1)), ("/x".into(), None)]);
    }

    #[test]
    fn the_count_is_written_after_60_s_at_the_next_append_or_flush() {
        let mut c = Collapse::default();
        let mut out = Vec::new();
        c.admit(draft("/x", "deny"), 0, &mut out);
        c.admit(draft("/x", "deny"), 10, &mut out);
        assert_eq!(c.deadline_ms(), Some(WINDOW_MS));
        c.expire(WINDOW_MS - 1, &mut out);
        assert_eq!(out.len(), 1);
        c.expire(WINDOW_MS, &mut out);
        assert_eq!(paths(&out), [("/x".into(), None), ("/x".into(), Some(1))]);

        // A new run; the next append after the window writes its count,
        // then starts another run with itself.
        out.clear();
        c.admit(draft("/x", "deny"), 100_000, &mut out);
        c.admit(draft("/x", "deny"), 100_001, &mut out);
        assert!(c.admit(draft("/x", "deny"), 100_000 + WINDOW_MS, &mut out));
        assert_eq!(paths(&out), [("/x".into(), None), ("/x".into(), Some(1)), ("/x".into(), None)]);

        out.clear();
        c.admit(draft("/x", "deny"), 200_001, &mut out);
        c.flush(&mut out);
        assert_eq!(paths(&out), [("/x".into(), Some(1))]);
    }

    #[test]
    fn ten_thousand_repeats_write_a_count_at_once() {
        let mut c = Collapse::default();
        let mut out = Vec::new();
        c.admit(draft("/x", "deny"), 0, &mut out);
        for _ in 0..MAX_REPEATS + 5 {
            c.admit(draft("/x", "deny"), 1, &mut out);
        }
        assert_eq!(paths(&out), [("/x".into(), None), ("/x".into(), Some(MAX_REPEATS))]);
        c.flush(&mut out);
        assert_eq!(out[2].repeats, Some(5));
    }

    #[test]
    fn allowed_requests_are_never_collapsed() {
        let mut c = Collapse::default();
        let mut out = Vec::new();
        for _ in 0..3 {
            assert!(c.admit(draft("/x", "allow"), 0, &mut out));
        }
        assert_eq!(out.len(), 3);
    }
}

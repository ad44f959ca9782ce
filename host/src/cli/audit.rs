//! `claw audit`: tail and filter the boundary's audit log; `claw audit
//! verify`: check its hash chain.

use super::Printer;
use super::secret::when;
use crate::boundary::audit::{AuditLog, Record};
use crate::home::Home;
use crate::problem::Problem;
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub(super) struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    /// Only this component's records.
    #[arg(long)]
    component: Option<String>,
    /// Only `allow` or `deny` decisions.
    #[arg(long)]
    decision: Option<String>,
    /// How many of the latest records to show.
    #[arg(short = 'n', long, default_value_t = 20)]
    limit: usize,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Check the hash chain of every segment and the head file, and name
    /// the first broken record by file and line.
    Verify,
}

pub(super) fn run(args: AuditArgs, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let log = AuditLog::new(&home.data.join("audit.jsonl"));
    if let Some(AuditCommand::Verify) = args.command {
        return verify(&log, printer);
    }
    let records = log.read()?;
    let picked: Vec<_> = records
        .into_iter()
        .filter(|r| args.component.as_ref().is_none_or(|c| &r.component == c))
        .filter(|r| args.decision.as_ref().is_none_or(|d| &r.decision == d))
        .collect();
    let start = picked.len().saturating_sub(args.limit);
    if printer.json {
        printer.value(&serde_json::to_value(&picked[start..])?);
        return Ok(());
    }
    for r in &picked[start..] {
        printer.line(describe(r));
    }
    Ok(())
}

fn verify(log: &AuditLog, printer: &Printer) -> Result<()> {
    match log.verify_all() {
        Ok(intact) => {
            let head = if intact.head { "; it ends where the head file says" } else { "; no head file (an older log)" };
            printer.line(format!(
                "audit log intact: {} record(s) in {} file(s) ({} rotated segment(s) and {}){head}",
                intact.records,
                intact.segments + 1,
                intact.segments,
                log.path().display(),
            ));
            if intact.torn_tail {
                printer
                    .note("note: the live file ends in a torn line (a write cut short); the next append cuts it off");
            }
            Ok(())
        }
        Err(Ok(b)) => {
            let place = match b.line {
                0 => b.file.display().to_string(),
                n => format!("{}:{n}", b.file.display()),
            };
            let at = b.seq.map(|s| format!(" at record {s}")).unwrap_or_default();
            Err(Problem::new(format!("the audit log is broken{at} ({place}): {}", b.reason))
                .hint("records from there on cannot be trusted; keep the files for investigation")
                .into())
        }
        Err(Err(e)) => Err(e.into()),
    }
}

/// One record as a line: `#seq time decision component METHOD url`, then
/// what came of it.
fn describe(r: &Record) -> String {
    // A note of the host's own (a takeover, a redaction) has no request.
    if r.method.is_empty() {
        return format!("#{} {} {:<5} {} {}", r.seq, when(Some(r.time_ms)), r.decision, r.component, r.rule);
    }
    let mut line = format!(
        "#{} {} {:<5} {} {} {}://{}:{}{}",
        r.seq,
        when(Some(r.time_ms)),
        r.decision,
        r.component,
        r.method,
        r.scheme,
        r.host,
        r.port,
        r.path
    );
    if let Some(n) = r.repeats {
        line.push_str(&format!(" ×{n} more"));
    }
    if let Some(s) = r.status {
        line.push_str(&format!(" → {s}"));
    }
    if let Some(d) = r.outcome_of {
        line.push_str(&format!(" (outcome of #{d})"));
    }
    if !r.secrets.is_empty() {
        line.push_str(&format!(" [injected: {}]", r.secrets.join(", ")));
    }
    if !r.redacted.is_empty() {
        line.push_str(&format!(" [redacted: {}]", r.redacted.join(", ")));
    }
    line.push_str(&format!(" — {}", r.rule));
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_marks_repeats_and_outcomes() {
        let d = Record {
            seq: 12,
            component: "fetch".into(),
            method: "GET".into(),
            scheme: "https".into(),
            host: "x.com".into(),
            port: 443,
            path: "/a".into(),
            decision: "allow".into(),
            rule: "line 3".into(),
            ..Record::default()
        };
        let mut o = d.outcome();
        o.seq = 13;
        o.status = Some(200);
        let line = describe(&o);
        assert!(line.starts_with("#13 "), "{line}");
        assert!(line.contains("https://x.com:443/a → 200 (outcome of #12) — line 3"), "{line}");

        let denial = Record { decision: "deny".into(), repeats: Some(41), ..d };
        assert!(describe(&denial).contains("/a ×41 more — line 3"), "{}", describe(&denial));
    }
}

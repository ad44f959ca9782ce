//! `claw audit`: tail and filter the boundary's audit log; `claw audit
//! verify`: check its hash chain.

use super::Printer;
use super::secret::when;
use crate::boundary::audit::AuditLog;
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
    /// Check the hash chain and name the first broken record.
    Verify,
}

pub(super) fn run(args: AuditArgs, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let log = AuditLog::new(&home.data.join("audit.jsonl"));
    if let Some(AuditCommand::Verify) = args.command {
        return match log.verify() {
            Ok(n) => {
                printer.line(format!("audit log intact: {n} record(s) in {}", log.path().display()));
                Ok(())
            }
            Err(Ok(b)) => Err(Problem::new(format!(
                "the audit log is broken at record {} ({}:{}): {}",
                b.line,
                log.path().display(),
                b.line,
                b.reason
            ))
            .hint("records from there on cannot be trusted; keep the file for investigation")
            .into()),
            Err(Err(e)) => Err(e.into()),
        };
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
        if let Some(s) = r.status {
            line.push_str(&format!(" → {s}"));
        }
        if !r.secrets.is_empty() {
            line.push_str(&format!(" [injected: {}]", r.secrets.join(", ")));
        }
        if !r.redacted.is_empty() {
            line.push_str(&format!(" [redacted: {}]", r.redacted.join(", ")));
        }
        line.push_str(&format!(" — {}", r.rule));
        printer.line(line);
    }
    Ok(())
}

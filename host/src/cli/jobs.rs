//! `claw jobs [--state S] [--kind K]`, `claw jobs show|retry|cancel ID`:
//! the queue as the operator sees it.

use super::Printer;
use crate::home::Home;
use crate::jobs::trigger::describe_ms;
use crate::jobs::{Job, JobFilter, JobState};
use crate::problem::Problem;
use crate::store::{DatabaseUrl, Store};
use anyhow::Result;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(super) struct JobsArgs {
    #[command(subcommand)]
    command: Option<JobsCommand>,
    /// Only jobs in this state: available, running, retrying, done, failed or cancelled.
    #[arg(long)]
    state: Option<String>,
    /// Only jobs of this kind (agent.turn, routine.run, heartbeat).
    #[arg(long)]
    kind: Option<String>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Show one job in full.
    Show {
        /// The job's id.
        id: i64,
    },
    /// Run a failed or cancelled job again, from its first attempt.
    Retry {
        /// The job's id.
        id: i64,
    },
    /// Cancel a job that has not ended (a running one stops at its next lease renewal).
    Cancel {
        /// The job's id.
        id: i64,
    },
}

pub(super) async fn run(args: JobsArgs, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let store = Store::connect(&DatabaseUrl::resolve(&home)?).await?;
    let queue = store.jobs();
    let not_found = |id: i64| Problem::new(format!("there is no job {id}")).hint("`claw jobs` lists them");
    match args.command {
        None => {
            let state = args
                .state
                .as_deref()
                .map(|s| {
                    JobState::parse(s).ok_or_else(|| {
                        Problem::new(format!("--state: `{s}` is not a job state"))
                            .hint("use available, running, retrying, done, failed or cancelled")
                    })
                })
                .transpose()?;
            let jobs = store.list_jobs(&JobFilter { state, kind: args.kind, limit: args.limit }).await?;
            list(&jobs, printer);
        }
        Some(JobsCommand::Show { id }) => {
            let job = queue.get(id).await?.ok_or_else(|| not_found(id))?;
            let v = json(&job);
            if printer.json {
                printer.value(&v);
            } else {
                for (k, value) in v.as_object().into_iter().flatten() {
                    let text = match value {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => "-".into(),
                        other if k.ends_with("_ms") => other.as_i64().map_or(other.to_string(), describe_ms),
                        other => other.to_string(),
                    };
                    printer.line(format!("{k:<17} {}", crate::terminal::clean(&text)));
                }
            }
        }
        Some(JobsCommand::Retry { id }) => {
            queue
                .retry(id)
                .await
                .map_err(|e| Problem::new(e.to_string()).hint("`claw jobs show ID` shows its state"))?;
            printer.note(format!("job {id} will run again"));
        }
        Some(JobsCommand::Cancel { id }) => {
            queue
                .cancel(id)
                .await
                .map_err(|e| Problem::new(e.to_string()).hint("`claw jobs show ID` shows its state"))?;
            printer.note(format!("cancelled job {id}"));
        }
    }
    Ok(())
}

fn json(j: &Job) -> serde_json::Value {
    serde_json::json!({
        "id": j.id,
        "kind": j.kind,
        "state": j.state.as_str(),
        "attempts": j.attempts,
        "max_attempts": j.max_attempts,
        "queue_key": j.queue_key,
        "idempotency_key": j.idempotency_key,
        "run_after_ms": j.run_after_ms,
        "lease_owner": j.lease_owner,
        "lease_expires_ms": j.lease_expires_ms,
        "lease_epoch": j.lease_epoch,
        "last_error": j.last_error,
        "result": j.result,
        "payload": j.payload,
        "created_ms": j.created_ms,
        "updated_ms": j.updated_ms,
    })
}

fn list(jobs: &[Job], printer: &Printer) {
    if printer.json {
        printer.value(&serde_json::Value::Array(jobs.iter().map(json).collect()));
        return;
    }
    if jobs.is_empty() {
        printer.note("no jobs");
        return;
    }
    printer
        .line(format!("{:>6} {:<12} {:<10} {:>4} {:<21} {:<24} NOTE", "ID", "KIND", "STATE", "TRY", "UPDATED", "KEY"));
    for j in jobs {
        let note = j.last_error.as_deref().or(j.lease_owner.as_deref()).unwrap_or("");
        let note: String = crate::terminal::clean(note).chars().take(60).collect();
        let key: String = j.queue_key.as_deref().unwrap_or("-").chars().take(24).collect();
        printer.line(format!(
            "{:>6} {:<12} {:<10} {:>4} {:<21} {key:<24} {note}",
            j.id,
            j.kind,
            j.state.as_str(),
            format!("{}/{}", j.attempts, j.max_attempts),
            describe_ms(j.updated_ms)
        ));
    }
}

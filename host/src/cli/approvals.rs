//! `claw approvals list|approve|deny`: the tool calls a grant says a
//! person must confirm (`[approval] calls = "always"|"first-use"`). Each
//! request states exactly what will run — the tool and its arguments —
//! and each decision is written to the audit log.

use super::Printer;
use crate::home::Home;
use crate::jobs::trigger::describe_ms;
use crate::store::approvals::{ApprovalError, Request, Scope};
use crate::store::{DatabaseUrl, Store};
use anyhow::Result;
use clap::Subcommand;

/// How much of a call's arguments a listing shows on one line.
const ARGUMENTS_CHARS: usize = 200;

#[derive(Debug, Subcommand)]
pub(super) enum ApprovalsCommand {
    /// Requests waiting for a person (`--all`: every request and its outcome).
    List {
        /// Every request, decided and expired ones too.
        #[arg(long)]
        all: bool,
    },
    /// Let the call of request ID run: once, or always for a scope.
    Approve {
        /// The request's id, as `claw approvals list` shows it.
        id: String,
        /// Honour it for every later call: `tool` (any arguments) or
        /// `arguments` (the tool with exactly these arguments).
        #[arg(long, value_name = "SCOPE", value_parser = ["tool", "arguments"])]
        always: Option<String>,
    },
    /// Refuse the call of request ID; the reason is given to the LLM.
    Deny {
        /// The request's id.
        id: String,
        /// Why (the LLM reads it, so it does not ask again).
        #[arg(long, default_value = "the operator said no")]
        reason: String,
    },
}

pub(super) async fn run(command: ApprovalsCommand, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let store = Store::connect(&DatabaseUrl::resolve(&home)?).await?;
    let approvals = store.approvals();
    let hint = |e: ApprovalError| -> anyhow::Error {
        let hint = match e {
            ApprovalError::Expired(_) => "the call was refused; when the LLM calls the tool again, a new request waits",
            _ => "`claw approvals list` shows the requests waiting; `--all` shows decided ones too",
        };
        crate::problem::Problem::new(e.to_string()).hint(hint).into()
    };
    match command {
        ApprovalsCommand::List { all } => {
            let list = approvals.list(all).await?;
            if printer.json {
                printer.value(&serde_json::to_value(&list)?);
            } else if list.is_empty() {
                printer.line(if all { "no approval requests yet" } else { "no tool call waits for approval" });
            } else {
                for r in &list {
                    printer.line(describe(r));
                }
            }
        }
        ApprovalsCommand::Approve { id, always } => {
            let scope = match always.as_deref() {
                Some("tool") => Scope::Tool,
                Some(_) => Scope::Arguments,
                None => Scope::Once,
            };
            let r = approvals.approve(&id, scope).await.map_err(hint)?;
            let what = match scope {
                Scope::Once => format!("the next call of {} with these arguments runs once", r.tool),
                Scope::Arguments => format!("every call of {} with these arguments runs from now on", r.tool),
                Scope::Tool => format!("every call of {} runs from now on, whatever its arguments", r.tool),
            };
            super::audit_operator(
                &home,
                &r.tool,
                "APPROVE",
                "allow",
                format!("claw approvals approve {}: {what}", r.id),
            )?;
            if printer.json {
                printer.value(&serde_json::json!({"request": r, "scope": scope}));
            } else {
                printer.line(format!("approved {}: {what}", r.id));
            }
        }
        ApprovalsCommand::Deny { id, reason } => {
            let r = approvals.deny(&id, &reason).await.map_err(hint)?;
            super::audit_operator(&home, &r.tool, "APPROVE", "deny", format!("claw approvals deny {}", r.id))?;
            if printer.json {
                printer.value(&serde_json::json!({"request": r}));
            } else {
                printer.line(format!("denied {}: the LLM is told \"{reason}\"", r.id));
            }
        }
    }
    Ok(())
}

/// One request on one line: what will run, and how it stands.
fn describe(r: &Request) -> String {
    let mut args: String = r.arguments.chars().take(ARGUMENTS_CHARS).collect();
    if args.len() < r.arguments.len() {
        args.push('…');
    }
    let state = match r.state.as_str() {
        "pending" => format!("waiting until {} (`claw approvals approve {}`)", describe_ms(r.expires_ms), r.id),
        "denied" => format!("denied: {}", r.reason.as_deref().unwrap_or("")),
        other => other.to_string(),
    };
    let why = r.why.as_deref().map(|w| format!("  (asked because {w})")).unwrap_or_default();
    format!("{}  call {} with {args}  {state}{why}", r.id, r.tool)
}

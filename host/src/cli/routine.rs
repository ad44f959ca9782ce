//! `claw routine add|list|show|rm|pause|resume|run`: what the agent does
//! on its own, and when.

use super::Printer;
use crate::home::Home;
use crate::jobs::action::{Action, Deliver, ROUTINE_RUN};
use crate::jobs::trigger::{self, Event, Trigger, describe_ms};
use crate::jobs::{JobState, NewRoutine, Routine, kinds};
use crate::problem::Problem;
use crate::runtime::Runtime;
use crate::store::{DatabaseUrl, Store};
use anyhow::Result;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub(super) enum RoutineCommand {
    /// Add a routine: one trigger, a prompt, and where the result goes.
    Add(Box<AddArgs>),
    /// List the routines with their next fire and last run.
    List,
    /// Show one routine in full.
    Show {
        /// The routine.
        name: String,
    },
    /// Remove a routine (its waiting runs are cancelled).
    Rm {
        /// The routine.
        name: String,
    },
    /// Pause a routine: nothing but `routine run` fires it.
    Pause {
        /// The routine.
        name: String,
    },
    /// Resume a paused routine (ticks missed meanwhile are not run).
    Resume {
        /// The routine.
        name: String,
    },
    /// Run a routine now, whatever its trigger (a running claw runs it).
    Run {
        /// The routine.
        name: String,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("trigger").required(true).multiple(false)
    .args(["cron", "every", "at", "webhook", "on_message", "on_document", "after"])))]
pub(super) struct AddArgs {
    /// The routine's name (letters, digits, - and _).
    name: String,
    /// What the agent is asked to do at each run.
    #[arg(long)]
    prompt: String,
    /// A cron schedule: minute hour day-of-month month day-of-week, e.g. "0 9 * * MON-FRI".
    #[arg(long)]
    cron: Option<String>,
    /// The time zone of --cron and --at (IANA, e.g. Europe/Berlin; default: this machine's).
    #[arg(long)]
    tz: Option<String>,
    /// A period, e.g. 30m or 1h30m: runs when added, then on that grid.
    #[arg(long)]
    every: Option<String>,
    /// Once, at a local time such as 2026-12-24T09:00 (or RFC 3339 with an offset).
    #[arg(long)]
    at: Option<String>,
    /// Fired by a POST to its URL on the gateway, verified with --secret.
    #[arg(long)]
    webhook: bool,
    /// The webhook's verifier: hmac-sha256 (default), bearer, slack or telegram.
    #[arg(long, requires = "webhook", default_value = "hmac-sha256")]
    verify: String,
    /// The vault secret the webhook is verified with.
    #[arg(long, requires = "webhook")]
    secret: Option<String>,
    /// Fired by a message on a channel matching a pattern: CHANNEL:REGEX (`*:REGEX` for any).
    #[arg(long, value_name = "CHANNEL:REGEX")]
    on_message: Option<String>,
    /// Fired when a workspace document under this prefix is written, e.g. inbox/.
    #[arg(long, value_name = "PREFIX")]
    on_document: Option<String>,
    /// Fired when this routine finishes a run.
    #[arg(long, value_name = "ROUTINE")]
    after: Option<String>,
    /// The tools it may use, comma-separated (default: the read-only ones).
    #[arg(long, value_delimiter = ',')]
    tools: Option<Vec<String>>,
    /// A run taking longer fails, e.g. 5m.
    #[arg(long, default_value = "5m")]
    timeout: String,
    /// Rounds of tool calls in one run.
    #[arg(long, default_value_t = 10)]
    max_iterations: usize,
    /// Fires within this long after a fire are skipped, e.g. 10m.
    #[arg(long)]
    cooldown: Option<String>,
    /// Let runs overlap (by default one runs at a time; the next waits).
    #[arg(long)]
    concurrent: bool,
    /// Send results (and failures) to this channel.
    #[arg(long)]
    channel: Option<String>,
    /// The conversation on --channel (default: routine:NAME).
    #[arg(long, requires = "channel")]
    conversation: Option<String>,
    /// Write the latest result to this workspace document (default without --channel: routines/NAME.md).
    #[arg(long, value_name = "PATH")]
    to_doc: Option<String>,
}

pub(super) async fn run(cmd: RoutineCommand, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let store = Store::connect(&DatabaseUrl::resolve(&home)?).await?;
    let routines = store.routines();
    match cmd {
        RoutineCommand::Add(args) => add(&home, &store, *args, printer).await,
        RoutineCommand::List => list(&store, printer).await,
        RoutineCommand::Show { name } => {
            let r = routines.get(&name).await?;
            show(&store, &r, printer).await
        }
        RoutineCommand::Rm { name } => {
            routines.remove(&name, store.now_ms()).await?;
            printer.note(format!("removed routine {name}"));
            Ok(())
        }
        RoutineCommand::Pause { name } => {
            let r = routines.set_paused(&name, true, store.now_ms()).await?;
            printer.note(format!("paused routine {name}; `claw routine resume {name}` resumes it"));
            json_of(&store, &r, printer).await
        }
        RoutineCommand::Resume { name } => {
            let r = routines.set_paused(&name, false, store.now_ms()).await?;
            let next = r.next_fire_ms.map_or("on its trigger".into(), |t| format!("next at {}", describe_ms(t)));
            printer.note(format!("resumed routine {name}; {next}"));
            json_of(&store, &r, printer).await
        }
        RoutineCommand::Run { name } => {
            let fired = routines.run_now(&name, store.now_ms()).await?;
            printer.note(format!("queued run of {name} as job {}; a running `claw run` runs it", fired.job_id));
            if printer.json {
                printer.value(&serde_json::json!({"routine": name, "job": fired.job_id}));
            }
            Ok(())
        }
    }
}

/// The trigger the arguments name, checked.
fn trigger_of(home: &Home, a: &AddArgs) -> Result<Trigger, Problem> {
    let tz = a.tz.clone().unwrap_or_else(trigger::local_zone);
    if a.tz.is_some() && a.cron.is_none() && a.at.is_none() {
        return Err(Problem::new("--tz applies to --cron and --at only").hint("remove --tz"));
    }
    if let Some(expr) = &a.cron {
        return Trigger::cron(expr, &tz);
    }
    if let Some(every) = &a.every {
        return Trigger::every(every);
    }
    if let Some(at) = &a.at {
        return Trigger::at(at, &tz);
    }
    if let Some(spec) = &a.on_message {
        return Trigger::on_message(spec);
    }
    if let Some(prefix) = &a.on_document {
        let prefix = prefix.trim_start_matches('/').to_string();
        return Ok(Trigger::Event(Event::Document { prefix }));
    }
    if let Some(routine) = &a.after {
        return Ok(Trigger::Event(Event::Finished { routine: routine.clone() }));
    }
    let secret = a.secret.clone().ok_or_else(|| {
        Problem::new("--webhook needs --secret NAME: the vault secret its requests are verified with")
            .hint("e.g. `claw secret set hook_key` then --webhook --secret hook_key")
    })?;
    let vault = crate::vault::Vault::open(home, false)?;
    if !vault.contains(&secret) {
        return Err(Problem::new(format!("--secret: the vault has no secret `{secret}`"))
            .hint(format!("`claw secret set {secret}` first")));
    }
    Ok(Trigger::Webhook { verifier: trigger::verifier_named(&a.verify)?, secret })
}

async fn add(home: &Home, store: &Store, a: AddArgs, printer: &Printer) -> Result<()> {
    let trigger = trigger_of(home, &a)?;
    if let Trigger::Event(Event::Finished { routine }) = &trigger {
        store.routines().get(routine).await.map_err(|e| Problem::new(format!("--after: {e}")))?;
    }
    let action = Action {
        prompt: a.prompt.clone(),
        tools: a.tools.clone(),
        timeout_s: (trigger::duration_ms(&a.timeout, "--timeout")? / 1000) as u64,
        max_iterations: a.max_iterations.max(1),
        cooldown_s: a.cooldown.as_deref().map(|c| trigger::duration_ms(c, "--cooldown")).transpose()?.unwrap_or(0)
            as u64
            / 1000,
        concurrent: a.concurrent,
        deliver: Deliver {
            channel: a.channel.clone(),
            conversation: a.conversation.clone(),
            document: a.to_doc.clone(),
        },
    };
    if a.prompt.trim().is_empty() {
        return Err(Problem::new("--prompt is empty")
            .hint("say what the agent should do, e.g. --prompt \"summarise my inbox\"")
            .into());
    }
    // Tools and channels are checked against what is installed now.
    let runtime = Runtime::open(home)?;
    runtime.sync()?;
    kinds::check_action(&runtime, &action)?;
    let new = NewRoutine { name: a.name.clone(), trigger, kind: ROUTINE_RUN.into(), action };
    let first = store.routines().add(&new, store.now_ms()).await?;
    let when = match first {
        Some(t) => format!("first run at {}", describe_ms(t)),
        None => format!("runs on {}", new.trigger.describe()),
    };
    printer.note(format!("added routine {} ({}); {when}", new.name, new.trigger.describe()));
    if let Trigger::Webhook { .. } = new.trigger {
        printer.note(format!("its webhook: POST /hooks/routines/{} on the gateway", new.name));
    }
    let r = store.routines().get(&new.name).await?;
    json_of(store, &r, printer).await
}

/// A routine as JSON, with the state of its last run.
async fn describe(store: &Store, r: &Routine) -> Result<serde_json::Value, Problem> {
    let last = store.routines().last_state(r).await?;
    let tools = match &r.action.tools {
        Some(t) => serde_json::json!(t),
        None => serde_json::json!("read-only"),
    };
    Ok(serde_json::json!({
        "name": r.name,
        "kind": r.kind,
        "trigger": r.trigger.kind(),
        "schedule": r.trigger.describe(),
        "paused": r.paused,
        "next_fire_ms": r.next_fire_ms,
        "last_fire_ms": r.last_fire.map(|l| l.0),
        "last_job": r.last_fire.map(|l| l.1),
        "last_state": last.as_ref().map(|l| l.0.as_str()),
        "last_error": last.and_then(|l| l.1),
        "prompt": r.action.prompt,
        "tools": tools,
        "timeout_s": r.action.timeout_s,
        "max_iterations": r.action.max_iterations,
        "cooldown_s": r.action.cooldown_s,
        "concurrent": r.action.concurrent,
        "document": r.action.document(&r.name),
        "channel": r.action.conversation(&r.name).map(|(c, conv)| format!("{c}:{conv}")),
    }))
}

async fn json_of(store: &Store, r: &Routine, printer: &Printer) -> Result<()> {
    if printer.json {
        printer.value(&describe(store, r).await?);
    }
    Ok(())
}

async fn list(store: &Store, printer: &Printer) -> Result<()> {
    let routines = store.routines().list().await?;
    let heartbeat_missing = kinds::heartbeat_missing(store).await;
    let mut rows = Vec::new();
    for r in &routines {
        let mut v = describe(store, r).await?;
        if r.kind == crate::jobs::action::HEARTBEAT {
            v["warning"] = serde_json::json!(heartbeat_missing);
        }
        rows.push(v);
    }
    if printer.json {
        printer.value(&serde_json::Value::Array(rows));
        return Ok(());
    }
    if rows.is_empty() {
        printer.note("no routines; add one with `claw routine add NAME --every 1h --prompt \"...\"`");
        return Ok(());
    }
    printer.line(format!("{:<20} {:<34} {:<21} {:<10} LAST RUN", "NAME", "TRIGGER", "NEXT", "STATE"));
    for v in &rows {
        let next = v["next_fire_ms"].as_i64().map_or("-".into(), describe_ms);
        let state = if v["paused"].as_bool() == Some(true) { "paused" } else { "active" };
        let last = match (v["last_fire_ms"].as_i64(), v["last_state"].as_str()) {
            (Some(t), Some(s)) => format!("{} {s}", describe_ms(t)),
            _ => "never".into(),
        };
        let schedule: String = v["schedule"].as_str().unwrap_or("").chars().take(34).collect();
        printer.line(format!("{:<20} {schedule:<34} {next:<21} {state:<10} {last}", v["name"].as_str().unwrap_or("")));
        if let Some(w) = v["warning"].as_str() {
            printer.line(format!(
                "  warning: {w}: the heartbeat has nothing to review (`claw memory write HEARTBEAT.md`)"
            ));
        }
        if v["last_state"].as_str() == Some(JobState::Failed.as_str()) {
            printer.line(format!("  failing: {}", v["last_error"].as_str().unwrap_or("")));
        }
    }
    Ok(())
}

async fn show(store: &Store, r: &Routine, printer: &Printer) -> Result<()> {
    let v = describe(store, r).await?;
    if printer.json {
        printer.value(&v);
        return Ok(());
    }
    let Some(fields) = v.as_object() else { return Ok(()) };
    for (k, value) in fields {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "-".into(),
            other => other.to_string(),
        };
        let text = if k.ends_with("_ms") { value.as_i64().map_or(text, describe_ms) } else { text };
        printer.line(format!("{k:<15} {}", crate::terminal::clean(&text)));
    }
    Ok(())
}

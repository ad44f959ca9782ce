//! `claw run`: load every installed component, keep the live table in
//! line with the store (add, upgrade and remove take effect with no
//! restart), and serve the terminal through the REPL channel component.
//!
//! The host reads lines; the channel decides what each one means (a
//! message for the agent, a direct tool call, `/new`, `/quit`) and prints
//! what comes back. Nothing here knows the commands' syntax.

mod indexer;
mod jobs;
mod polls;

use super::Printer;
use super::tool::render;
use crate::agent::Agent;
use crate::components::World;
use crate::home::Home;
use crate::llm::Providers;
use crate::runtime::{ADD_PROVIDER, Runtime, SyncReport};
use crate::wit::channel::claw::runtime::channel_types::{Event, Outbound};
use anyhow::Result;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufReadExt as _;

/// How often the store is checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);

/// What a person sees after Ctrl-C stopped a turn or a call.
const CANCELLED: &str = "cancelled (Ctrl-C); Ctrl-C again or /quit leaves";

/// The channel name terminal sessions are stored under.
const CHANNEL: &str = "repl";

#[derive(Debug, clap::Args)]
pub(super) struct RunArgs {}

pub(super) async fn run(_args: RunArgs, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let runtime = Runtime::open(&home)?;
    report(printer, &runtime.sync()?);
    let tools: Vec<String> = runtime.tools().iter().map(|t| t.record.name.clone()).collect();
    printer.note(format!(
        "claw is running with {} tool(s){}{}",
        tools.len(),
        if tools.is_empty() { "" } else { ": " },
        tools.join(", ")
    ));
    if Providers::load(&home)?.list.is_empty() {
        printer.note(format!(
            "no LLM provider is configured, so the agent cannot answer yet; {ADD_PROVIDER}. Direct tool calls work now: /tool NAME JSON"
        ));
    }
    if runtime.first_of(World::Llm).is_none() {
        printer.note("no LLM router is installed; `bash scripts/dev run` installs it with its provider adapters");
    }
    let agent = Agent::new(runtime.clone())?;
    let jobs = jobs::start(&runtime, agent.clone(), *printer).await?;
    let gateway = gateway(&runtime, jobs.store(), jobs.waker(), *printer).await;

    let watcher = {
        let runtime = runtime.clone();
        let printer = *printer;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(WATCH_INTERVAL).await;
                match runtime.sync() {
                    Ok(r) => report(&printer, &r),
                    Err(e) => printer.note(format!("warning: reading the component store failed: {e:#}")),
                }
            }
        })
    };
    let indexer = tokio::spawn(indexer::embed_in_background(home.clone(), runtime.clone(), *printer));
    let polls = tokio::spawn(polls::run(runtime.clone(), jobs.waker(), *printer));
    // Replies to messages a killed claw left unanswered: delivered here,
    // once, when the worker that took the turn over finishes it.
    for (conversation, id) in jobs.orphans(CHANNEL).await {
        printer.note(format!("resuming the turn of job {id}, left unfinished when claw last stopped"));
        let (store, runtime, printer) = (jobs.store(), runtime.clone(), *printer);
        tokio::spawn(async move {
            let reply = jobs::reply(&store, id).await;
            deliver(&runtime, &printer, Outbound { conversation, text: reply.text, notice: reply.notice, reply: None })
                .await;
        });
    }

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        let line = tokio::select! {
            line = lines.next_line() => line?,
            _ = tokio::signal::ctrl_c() => None,
        };
        let Some(line) = line else { break };
        if !handle(&line, &runtime, &agent, &jobs, printer).await {
            break;
        }
    }
    watcher.abort();
    indexer.abort();
    polls.abort();
    if let Some(g) = gateway {
        g.stop();
    }
    jobs.stop().await;
    // Collapsed repeats of a denial are counted in memory: write them.
    runtime.boundary().flush_audit();
    Ok(())
}

/// Start the gateway (`[gateway] listen`); without it claw still runs.
async fn gateway(
    runtime: &Arc<Runtime>,
    store: crate::store::Store,
    wake: Arc<tokio::sync::Notify>,
    printer: Printer,
) -> Option<crate::gateway::Gateway> {
    let config = crate::config::Config::load(runtime.home()).ok()?;
    let listen = crate::gateway::Listen::from_config(&config.gateway, &runtime.home().config)?;
    match crate::gateway::Gateway::start(&listen, runtime.clone(), store, wake).await {
        Ok(g) => {
            printer.note(format!("gateway: listening on {}://{}", g.scheme(), g.addr()));
            Some(g)
        }
        Err(e) => {
            let hint = e.hint_text().map(|h| format!(" ({h})")).unwrap_or_default();
            printer.note(format!("warning: {e}{hint}"));
            None
        }
    }
}

/// Hand one line to the channel and act on what it made of it; false
/// means stop.
async fn handle(line: &str, runtime: &Arc<Runtime>, agent: &Agent, jobs: &jobs::Jobs, printer: &Printer) -> bool {
    // Components, providers and the vault as they are now: what the
    // operator changed a moment ago applies to this line, not only after
    // the watcher's next look. (Unchanged, this reads three small files.)
    match runtime.sync() {
        Ok(r) => report(printer, &r),
        Err(e) => printer.note(format!("warning: reading the component store failed: {e:#}")),
    }
    // Looked up per line, so a channel added while running is used at once.
    let Some(channel) = runtime.terminal_channel() else {
        printer.note("no channel is installed: `bash scripts/dev run` installs the terminal channel (repl)");
        return true;
    };
    let events = match runtime.channel_receive(&channel, line.as_bytes()).await {
        Ok(events) => events,
        Err(e) => {
            printer.note(format!("{}: {}", channel.record.name, channel_message(&e)));
            return true;
        }
    };
    for event in events {
        let (conversation, text, notice) = match event {
            Event::Quit => return false,
            Event::NewSession(conversation) => match agent.new_session(CHANNEL, &conversation).await {
                Ok(()) => (conversation, "started a new session".to_string(), true),
                Err(e) => (conversation, format!("error: {e}"), true),
            },
            Event::CallTool(call) => {
                let result = tokio::select! {
                    r = runtime.call(&call.tool, &call.params_json) => Some(r),
                    _ = tokio::signal::ctrl_c() => None,
                };
                match result {
                    Some(Ok(out)) => (call.conversation, render(&out), false),
                    Some(Err(e)) => {
                        let hint = e.hint().map(|h| format!("\nhint: {h}")).unwrap_or_default();
                        (call.conversation, format!("error: {e}{hint}"), true)
                    }
                    None => {
                        printer.note(CANCELLED);
                        continue;
                    }
                }
            }
            // Each message is a job: its turn runs on a worker (here or,
            // on PostgreSQL, in any claw process), and survives a crash.
            // Ctrl-C cancels the turn, not claw: what it stored stays.
            Event::Message(m) => match jobs.message(CHANNEL, &m.conversation, &m.text).await {
                Ok(id) => {
                    let reply = tokio::select! {
                        r = jobs.reply(id) => r,
                        _ = tokio::signal::ctrl_c() => {
                            jobs.cancel(id).await;
                            printer.note(CANCELLED);
                            continue;
                        }
                    };
                    (m.conversation, reply.text, reply.notice)
                }
                Err(e) => (m.conversation, format!("error: {e}"), true),
            },
        };
        deliver(runtime, printer, Outbound { conversation, text, notice, reply: None }).await;
    }
    true
}

/// Print through the terminal's channel.
async fn deliver(runtime: &Runtime, printer: &Printer, out: Outbound) {
    let Some(channel) = runtime.terminal_channel() else { return };
    if let Err(e) = runtime.channel_deliver(&channel, &out).await {
        printer.note(format!("{} could not deliver: {}", channel.record.name, channel_message(&e)));
    }
}

/// A channel's own error is its message; anything else says what failed.
fn channel_message(e: &crate::runtime::CallError) -> String {
    match e {
        crate::runtime::CallError::Tool { error, .. } => error.message.clone(),
        other => other.to_string(),
    }
}

fn report(printer: &Printer, r: &SyncReport) {
    for n in &r.added {
        printer.note(format!("loaded {n}"));
    }
    for n in &r.upgraded {
        printer.note(format!("upgraded {n}"));
    }
    for n in &r.removed {
        printer.note(format!("removed {n}"));
    }
    for (n, why) in &r.failed {
        printer.note(format!("warning: {n} could not be loaded: {why}"));
    }
}

//! `claw run`: load every installed component, keep the live table in
//! line with the store (add, upgrade and remove take effect with no
//! restart), and serve the terminal.
//!
//! Until the agent loop and its channels land, the terminal accepts direct
//! tool calls: `/tool NAME JSON`, `/tools`, `/help`, `/quit`.

use super::Printer;
use super::tool::print_output;
use crate::home::Home;
use crate::runtime::{Runtime, SyncReport};
use anyhow::Result;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufReadExt as _;

/// How often the store is checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Debug, clap::Args)]
pub(super) struct RunArgs {}

const HELP: &str = "commands:
  /tool NAME JSON   call a tool, e.g. /tool echo {\"text\": \"hi\"}
  /tools            list the loaded tools
  /help             this help
  /quit             stop claw";

pub(super) async fn run(_args: RunArgs, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let runtime = Runtime::open(&home)?;
    report(printer, &runtime.sync()?);
    let names = runtime.live().names();
    printer.note(format!(
        "claw is running with {} tool(s){}{}",
        names.len(),
        if names.is_empty() { "" } else { ": " },
        names.join(", ")
    ));
    printer.note(
        "no LLM provider is configured in this build: the agent loop is not available yet; call tools directly (/help)",
    );

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

    let indexer = tokio::spawn(embed_in_background(home.clone(), runtime.clone(), *printer));

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        let line = tokio::select! {
            line = lines.next_line() => line?,
            _ = tokio::signal::ctrl_c() => None,
        };
        let Some(line) = line else { break };
        if !handle(line.trim(), &runtime, printer).await {
            break;
        }
    }
    watcher.abort();
    indexer.abort();
    Ok(())
}

/// Keep the memory index embedded: new writes, and everything after the
/// embedder changes. Search answers from what is embedded meanwhile.
async fn embed_in_background(home: Home, runtime: Arc<Runtime>, printer: Printer) {
    let memory = loop {
        let setup = async {
            let config = crate::config::Config::load(&home).map_err(|e| e.to_string())?;
            let store = runtime.services().store.get().await?.clone();
            let embedder = crate::memory::index::Memory::configured(&config, runtime.boundary().clone())
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(crate::memory::index::Memory::new(store, embedder, config.memory.rrf_k))
        };
        match setup.await {
            Ok(m) => break m,
            Err(e) => {
                printer.note(format!("warning: memory indexing is paused: {e}"));
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        }
    };
    let mut failing = false;
    loop {
        match memory.embed_pending(128).await {
            Ok(0) => tokio::time::sleep(Duration::from_secs(2)).await,
            Ok(_) => failing = false,
            Err(e) => {
                if !failing {
                    printer.note(format!("warning: embedding paused, full-text search still works: {e}"));
                }
                failing = true;
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    }
}

/// Handle one line; false means stop.
async fn handle(line: &str, runtime: &Arc<Runtime>, printer: &Printer) -> bool {
    let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
    match cmd {
        "" => {}
        "/quit" | "/exit" => return false,
        "/help" => printer.line(HELP),
        "/tools" => {
            for (name, tool) in runtime.live().snapshot().iter() {
                printer.line(format!("{name}: {}", tool.record.description));
            }
        }
        "/tool" => {
            let (name, params) = rest.trim().split_once(' ').unwrap_or((rest.trim(), "{}"));
            match runtime.call(name, params).await {
                Ok(out) => print_output(printer, &out),
                Err(e) => {
                    printer.line(format!("error: {e}"));
                    if let Some(h) = e.hint() {
                        printer.line(format!("hint: {h}"));
                    }
                }
            }
        }
        _ => printer.line("the agent is not available in this build; use /tool NAME JSON (see /help)"),
    }
    true
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

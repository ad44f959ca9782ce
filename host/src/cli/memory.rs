//! `claw memory write|cat|ls|rm|mv|search|reindex`: the workspace and its
//! index from the command line.

use super::Printer;
use super::secret::when;
use crate::config::Config;
use crate::home::Home;
use crate::memory::index::Memory;
use crate::problem::Problem;
use crate::store::workspace::{Origin, WorkspaceError};
use crate::store::{DatabaseUrl, Store};
use anyhow::Result;
use clap::Subcommand;
use std::io::Read as _;

#[derive(Debug, Subcommand)]
pub(super) enum MemoryCommand {
    /// Write a document; its content is read from stdin.
    Write {
        /// The document's path, e.g. notes/today.md.
        path: String,
        /// Append instead of replacing.
        #[arg(long)]
        append: bool,
    },
    /// Print a document.
    Cat {
        /// The document's path.
        path: String,
    },
    /// List documents under a prefix.
    Ls {
        /// Only paths starting with this.
        #[arg(default_value = "")]
        prefix: String,
    },
    /// Delete a document.
    Rm {
        /// The document's path.
        path: String,
    },
    /// Move a document.
    Mv {
        /// From this path.
        from: String,
        /// To this path (must not exist).
        to: String,
    },
    /// Hybrid search: full-text and vector rankings fused by RRF.
    Search {
        /// What to look for.
        query: String,
        /// How many results.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Only documents whose path starts with this.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Embed every chunk the current embedder has not embedded yet.
    Reindex,
}

fn problem(e: WorkspaceError) -> anyhow::Error {
    match &e {
        WorkspaceError::NotFound(_) => Problem::new(e.to_string()).hint("`claw memory ls` lists the documents").into(),
        WorkspaceError::Exists(_) => Problem::new(e.to_string()).hint("remove it first, or choose another path").into(),
        _ => Problem::new(e.to_string()).into(),
    }
}

pub(super) async fn run(cmd: MemoryCommand, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let config = Config::load(&home)?;
    let store = Store::connect(&DatabaseUrl::resolve(&home)?).await?;
    let boundary = std::sync::Arc::new(crate::boundary::Boundary::for_home(&home)?);
    let memory = Memory::new(store.clone(), Memory::configured(&config, boundary)?, config.memory.rrf_k);
    let ws = store.workspace();
    match cmd {
        MemoryCommand::Write { path, append } => {
            let mut content = String::new();
            std::io::stdin()
                .read_to_string(&mut content)
                .map_err(|e| Problem::new(format!("stdin is not UTF-8 text: {e}")))?;
            if append {
                ws.append(&path, &content, Origin::Operator).await.map_err(problem)?;
            } else {
                ws.write(&path, &content, Origin::Operator).await.map_err(problem)?;
            }
            printer.note(format!("wrote {path} ({} bytes)", content.len()));
            if let Err(e) = memory.embed_all(|_, _| {}).await {
                printer.note(format!("warning: {path} is searchable by full text only for now: {e}"));
            }
        }
        MemoryCommand::Cat { path } => {
            let doc = ws
                .read(&path)
                .await
                .map_err(problem)?
                .ok_or_else(|| problem(WorkspaceError::NotFound(path.clone())))?;
            if let Some(f) = &doc.flagged {
                printer.note(format!(
                    "warning: {path} holds external content flagged for prompt injection ({f}); do not trust it"
                ));
            }
            if printer.json {
                printer.value(&serde_json::json!({"path": doc.path, "content": doc.content, "modified_ms": doc.modified_ms, "flagged": doc.flagged}));
            } else {
                use std::io::Write as _;
                let _ = std::io::stdout().lock().write_all(doc.content.as_bytes());
            }
        }
        MemoryCommand::Ls { prefix } => {
            let entries = ws.list(&prefix).await.map_err(problem)?;
            if printer.json {
                printer.value(&serde_json::to_value(&entries)?);
            } else if entries.is_empty() {
                printer.note(format!("no documents under `{prefix}`"));
            } else {
                for e in entries {
                    let flag = if e.flagged { "  [flagged: external content with injection markers]" } else { "" };
                    printer.line(format!("{:>9}  {}  {}{flag}", e.size, when(Some(e.modified_ms as u64)), e.path));
                }
            }
        }
        MemoryCommand::Rm { path } => {
            ws.delete(&path).await.map_err(problem)?;
            printer.note(format!("removed {path}"));
        }
        MemoryCommand::Mv { from, to } => {
            ws.rename(&from, &to).await.map_err(problem)?;
            printer.note(format!("moved {from} to {to}"));
            let _ = memory.embed_all(|_, _| {}).await;
        }
        MemoryCommand::Search { query, limit, prefix } => {
            let result =
                memory.search(&query, limit, &prefix).await.map_err(|e| Problem::new(format!("search failed: {e}")))?;
            if let Some(d) = &result.degraded {
                printer.note(format!("warning: {d}"));
            }
            if result.pending > 0 {
                printer.note(format!(
                    "note: {} chunk(s) are not embedded yet (full-text only); `claw memory reindex` embeds them",
                    result.pending
                ));
            }
            if printer.json {
                printer.value(&serde_json::to_value(&result)?);
            } else if result.hits.is_empty() {
                printer.note(format!("nothing found for `{query}`"));
            } else {
                for (i, h) in result.hits.iter().enumerate() {
                    let parts: Vec<String> = [("full-text", &h.fulltext), ("vector", &h.vector)]
                        .iter()
                        .filter_map(|(name, c)| c.as_ref().map(|c| format!("{name} #{}", c.rank)))
                        .collect();
                    printer.line(format!("{}. {}  (score {:.4}: {})", i + 1, h.path, h.score, parts.join(", ")));
                    let body = h.chunk.split_once('\n').map_or(h.chunk.as_str(), |(_, b)| b);
                    let snippet: String = body.chars().take(200).collect::<String>().replace('\n', " ");
                    printer.line(format!("   {snippet}"));
                }
            }
        }
        MemoryCommand::Reindex => {
            let progress = printer.progress("embedding chunks".into());
            let done = memory.embed_all(|done, total| tracing::info!("embedded {done}/{total}")).await;
            progress.finish(if done.is_ok() { "done" } else { "stopped" });
            let done = done.map_err(|e| {
                Problem::new(format!("embedding failed: {e}")).hint(
                    "full-text search keeps working; check the [embedder] settings and run `claw memory reindex` again",
                )
            })?;
            printer.note(format!("embedded {done} chunk(s)"));
        }
    }
    Ok(())
}

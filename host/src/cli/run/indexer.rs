//! `claw run`'s memory indexer: keeps every chunk embedded with the
//! configured embedder, in the background.

use crate::cli::Printer;
use crate::home::Home;
use crate::runtime::Runtime;
use std::sync::Arc;
use std::time::Duration;

/// How many chunks the background indexer embeds per request.
const BATCH: i64 = 128;

/// Keep the memory index embedded: new writes, and everything after the
/// embedder changes. Search answers from what is embedded meanwhile.
///
/// What waits when claw run starts (every chunk, after the embedder
/// changed) and any later backlog of more than a batch is announced on
/// stderr, and so is its end; a few new chunks are embedded quietly.
pub(super) async fn embed_in_background(home: Home, runtime: Arc<Runtime>, printer: Printer) {
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
    let name = memory.embedder().name().to_string();
    // Set while embedding fails, so the warning is printed once.
    let mut failing = false;
    let failed = |failing: &mut bool, e: String| {
        if !*failing {
            printer.note(format!("warning: embedding paused, full-text search still works: {e}"));
        }
        *failing = true;
    };
    let mut at_start = true;
    loop {
        let waiting = match memory.pending().await {
            Ok(n) => n,
            Err(e) => {
                failed(&mut failing, e);
                tokio::time::sleep(Duration::from_secs(10)).await;
                continue;
            }
        };
        if waiting == 0 {
            at_start = false;
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        }
        let announce = at_start || waiting > BATCH;
        at_start = false;
        if announce {
            printer.note(format!(
                "memory: embedding {waiting} chunk(s) with {name} in the background; search answers from full text meanwhile"
            ));
        }
        let mut done = 0;
        loop {
            match memory.embed_pending(BATCH).await {
                Ok(0) => break,
                Ok(n) => {
                    done += n;
                    failing = false;
                }
                Err(e) => {
                    failed(&mut failing, e);
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
            }
        }
        if announce {
            printer.note(format!("memory: embedded {done} chunk(s) with {name}"));
        }
    }
}

//! Channels polled on their grant's schedule (`[inbox] poll`): each poll
//! is a fresh instance that fetches what arrived and hands it to the inbox;
//! a poll that queued messages wakes the pool. A failing poll is reported
//! and tried again at its next time.

use crate::cli::output::Printer;
use crate::components::World;
use crate::runtime::Runtime;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the schedule is looked at (installed channels may change).
const TICK: Duration = Duration::from_millis(500);

/// Poll every channel whose grant asks for it, until aborted.
pub(super) async fn run(runtime: Arc<Runtime>, wake: Arc<tokio::sync::Notify>, printer: Printer) {
    let mut next: HashMap<String, Instant> = HashMap::new();
    loop {
        let now = Instant::now();
        for channel in runtime.live().snapshot().values() {
            let Some(every) = channel.grant.inbox.and_then(|i| i.poll_ms) else { continue };
            if channel.record.world != World::Channel {
                continue;
            }
            let due = next.entry(channel.record.name.clone()).or_insert(now);
            if *due > now {
                continue;
            }
            *due = now + Duration::from_millis(every);
            match runtime.channel_poll(channel).await {
                Ok(0) => {}
                Ok(_) => wake.notify_waiters(),
                Err(e) => printer.note(format!("warning: polling channel {} failed: {e}", channel.record.name)),
            }
        }
        tokio::time::sleep(TICK).await;
    }
}

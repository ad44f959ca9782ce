//! Channels polled on their grant's schedule (`[inbox] poll`): each poll
//! is a fresh instance that fetches what arrived and hands it to the inbox;
//! a poll that queued messages wakes the pool. A failing poll is reported
//! and tried again at its next time. Each channel's poll runs on its own
//! task, so one that long-polls (Telegram's getUpdates waits for updates)
//! holds up no other channel.

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
    // The polls in flight, aborted with this loop.
    struct AbortAll(HashMap<String, tokio::task::JoinHandle<()>>);
    impl Drop for AbortAll {
        fn drop(&mut self) {
            self.0.values().for_each(tokio::task::JoinHandle::abort);
        }
    }
    let mut polling = AbortAll(HashMap::new());
    loop {
        let now = Instant::now();
        polling.0.retain(|_, task| !task.is_finished());
        for channel in runtime.live().snapshot().values() {
            let Some(every) = channel.grant.inbox.and_then(|i| i.poll_ms) else { continue };
            if channel.record.world != World::Channel || polling.0.contains_key(&channel.record.name) {
                continue;
            }
            let due = next.entry(channel.record.name.clone()).or_insert(now);
            if *due > now {
                continue;
            }
            *due = now + Duration::from_millis(every);
            let (runtime, wake, printer, channel) = (runtime.clone(), wake.clone(), printer, channel.clone());
            let name = channel.record.name.clone();
            polling.0.insert(
                name,
                tokio::spawn(async move {
                    match runtime.channel_poll(&channel).await {
                        Ok(0) => {}
                        Ok(_) => wake.notify_waiters(),
                        Err(e) => printer.note(format!("warning: polling channel {} failed: {e}", channel.record.name)),
                    }
                }),
            );
        }
        tokio::time::sleep(TICK).await;
    }
}

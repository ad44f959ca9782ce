//! A turn's reply going back out through the channel its message came in
//! on: while the reply streams, as drafts (with `[inbox] drafts` in the
//! channel's grant: the text so far every interval, "typing" while there
//! is none), then whole. Every part carries the turn's key, so a channel
//! can edit one message in place — also when the job is retried.

use crate::agent::events::{self, Event};
use crate::components::LoadedComponent;
use crate::runtime::Runtime;
use crate::wit::channel::claw::runtime::channel_types::{Outbound, ReplyPart};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};

/// How often "typing" is said again while no text has come (providers
/// show it for about five seconds).
const TYPING_EVERY: Duration = Duration::from_secs(4);

/// Drafts being delivered for one turn; [`Drafts::finish`] stops them.
pub struct Drafts {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// One delivery of `text` for `turn` on `conversation`.
pub fn part(conversation: &str, turn: &str, text: &str, draft: bool, notice: bool) -> Outbound {
    Outbound {
        conversation: conversation.to_string(),
        text: text.to_string(),
        notice,
        reply: Some(ReplyPart { id: turn.to_string(), draft }),
    }
}

/// What a reply's drafts look like as its events arrive: the text of the
/// current round (a new round after tool calls starts over).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Draft {
    text: String,
    /// The text last delivered (none: nothing yet).
    shown: Option<String>,
}

impl Draft {
    /// Take in one event of the turn; false once the turn has ended.
    pub fn take(&mut self, event: &Event) -> bool {
        match event {
            Event::Text { delta } => self.text.push_str(delta),
            Event::Round { .. } => self.text.clear(),
            Event::Done { .. } | Event::Failed { .. } => return false,
            Event::Started | Event::ToolStarted { .. } | Event::ToolFinished { .. } => {}
        }
        true
    }

    /// The text to deliver now, if it changed since the last delivery.
    pub fn due(&mut self) -> Option<String> {
        if self.shown.as_deref() == Some(self.text.as_str()) || self.text.trim().is_empty() {
            return None;
        }
        self.shown = Some(self.text.clone());
        self.shown.clone()
    }

    /// Nothing has been written yet: a person sees "typing".
    pub fn typing(&self) -> bool {
        self.text.trim().is_empty()
    }
}

impl Drafts {
    /// Start delivering drafts of turn `turn` (its key) on `channel`'s
    /// `conversation` every `every`. Listens before the turn starts, so
    /// nothing it writes is missed.
    pub fn start(
        runtime: Arc<Runtime>,
        channel: Arc<LoadedComponent>,
        conversation: &str,
        turn: &str,
        every: Duration,
    ) -> Drafts {
        let mut live = runtime.feeds().subscribe(&events::key(&channel.record.name, conversation), None).live;
        let (stop, mut stopped) = oneshot::channel();
        let (conversation, turn) = (conversation.to_string(), turn.to_string());
        let task = tokio::spawn(async move {
            let mut draft = Draft::default();
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut typed: Option<tokio::time::Instant> = None;
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    got = live.recv() => match got {
                        Ok(e) if e.turn == turn => {
                            if !draft.take(&e.event) {
                                return;
                            }
                        }
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = tick.tick() => {
                        let text = if draft.typing() {
                            if typed.is_some_and(|t| t.elapsed() < TYPING_EVERY) {
                                continue;
                            }
                            typed = Some(tokio::time::Instant::now());
                            String::new()
                        } else {
                            match draft.due() {
                                Some(text) => text,
                                None => continue,
                            }
                        };
                        // Drafts are a courtesy: one that fails is logged,
                        // and the whole reply still follows.
                        let out = part(&conversation, &turn, &text, true, false);
                        if let Err(e) = runtime.channel_deliver(&channel, &out).await {
                            tracing::warn!("a draft on {} was not delivered: {e}", channel.record.name);
                        }
                    }
                }
            }
        });
        Drafts { stop, task }
    }

    /// Stop, and wait until no draft is being delivered: the whole reply
    /// then comes last.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(d: &str) -> Event {
        Event::Text { delta: d.into() }
    }

    #[test]
    fn a_draft_is_due_when_its_text_changed_and_a_new_round_starts_over() {
        let mut d = Draft::default();
        assert!(d.take(&Event::Started));
        assert!(d.typing());
        assert_eq!(d.due(), None, "no text: typing, not an empty draft");
        d.take(&text("Hel"));
        d.take(&text("lo"));
        assert!(!d.typing());
        assert_eq!(d.due().as_deref(), Some("Hello"));
        assert_eq!(d.due(), None, "unchanged: not delivered again");
        d.take(&Event::ToolStarted { id: "c".into(), name: "echo".into(), arguments: "{}".into() });
        d.take(&Event::Round { n: 1 });
        assert!(d.typing(), "the next round's text replaces the last");
        d.take(&text("Done."));
        assert_eq!(d.due().as_deref(), Some("Done."));
        assert!(!d.take(&Event::Done { text: "Done.".into() }), "the end stops the drafts");
        assert!(!Draft::default().take(&Event::Failed { error: "x".into() }));
    }
}

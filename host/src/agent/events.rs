//! What a person waiting on a turn sees happen, as it happens: the reply's
//! text token by token, tool calls starting and finishing, the end. Each
//! conversation has a feed; an event has a number that grows across turns
//! and restarts (it starts from the clock), so a client that reconnects
//! says the last number it saw and gets what followed — or, when that is
//! no longer held, is told to reload the history since its last message.
//!
//! Feeds live in the process that runs the turn. A turn run by another
//! process (PostgreSQL, several `claw run`) streams nothing here; its
//! reply still arrives whole from the store.

use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// Events one feed holds for a client that reconnects (grown as needed).
const BACKLOG: usize = 4096;
/// Events a listener may fall behind before it is told to reload: the
/// ring is allocated whole for every conversation watched, so it is kept
/// small (a listener forwards at once into its own client's buffer).
const LIVE: usize = 128;
/// A feed nobody listens to is dropped this long after its last event.
const IDLE: Duration = Duration::from_secs(300);

/// One thing that happened in a turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A turn began (a worker took the message up).
    Started,
    /// Another request to the LLM begins, after tool results.
    Round {
        /// 1 for the second request of the turn, and so on.
        n: usize,
    },
    /// The next piece of the reply's text.
    Text {
        /// The piece.
        delta: String,
    },
    /// A tool call began.
    ToolStarted {
        /// The LLM's id for the call.
        id: String,
        /// The tool.
        name: String,
        /// Its arguments, cut to a line.
        arguments: String,
    },
    /// A tool call ended.
    ToolFinished {
        /// The LLM's id for the call.
        id: String,
        /// The tool.
        name: String,
        /// False when it failed (its result starts with `error:`).
        ok: bool,
    },
    /// The reply, whole, as stored.
    Done {
        /// The reply.
        text: String,
    },
    /// The turn failed: what the person is told.
    Failed {
        /// The error, with its hint.
        error: String,
    },
}

/// An event as sent: its number and the turn it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Numbered {
    /// Grows by one per event of the conversation.
    pub seq: u64,
    /// The turn's key (`job:ID`), or empty for a turn without one.
    pub turn: String,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

struct Feed {
    next: u64,
    backlog: VecDeque<Numbered>,
    tx: broadcast::Sender<Numbered>,
    touched: Instant,
}

impl Feed {
    fn new() -> Feed {
        // Numbers start from the clock, so they keep growing after a restart.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let next = u64::try_from(now.as_micros()).unwrap_or(u64::MAX / 2);
        Feed { next, backlog: VecDeque::new(), tx: broadcast::channel(LIVE).0, touched: Instant::now() }
    }
}

/// What a subscriber gets: what it missed, then what follows.
#[derive(Debug)]
pub struct Subscription {
    /// Events after the number asked for, still held.
    pub missed: Vec<Numbered>,
    /// True when events after the number asked for were already dropped:
    /// the client must reload the history (since its last message).
    pub gap: bool,
    /// Everything from now on.
    pub live: broadcast::Receiver<Numbered>,
}

/// Every conversation's feed.
#[derive(Default)]
pub struct Feeds {
    feeds: Mutex<Table>,
}

/// The feeds, and when to next sweep out idle ones.
#[derive(Default)]
struct Table {
    map: HashMap<String, Feed>,
    /// Sweep when the table grows past this: twice what the last sweep
    /// kept, so a publish costs amortised O(1) however many are open.
    sweep_at: usize,
}

/// The fewest feeds worth sweeping.
const SWEEP_MIN: usize = 64;

impl std::fmt::Debug for Feeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.feeds.lock().map(|t| t.map.len()).unwrap_or(0);
        f.debug_struct("Feeds").field("feeds", &n).finish()
    }
}

/// The feed key of a conversation.
pub fn key(channel: &str, conversation: &str) -> String {
    format!("{channel}\u{0}{conversation}")
}

impl Feeds {
    /// Record `event` of `turn` in `feed` (see [`key`]) and pass it to its
    /// listeners; its number.
    pub fn publish(&self, feed: &str, turn: &str, event: Event) -> u64 {
        let Ok(mut table) = self.feeds.lock() else { return 0 };
        if table.map.len() > table.sweep_at.max(SWEEP_MIN) {
            let now = Instant::now();
            table.map.retain(|_, f| f.tx.receiver_count() > 0 || now.duration_since(f.touched) < IDLE);
            table.sweep_at = table.map.len() * 2;
        }
        let f = table.map.entry(feed.to_string()).or_insert_with(Feed::new);
        let seq = f.next;
        f.next += 1;
        f.touched = Instant::now();
        let numbered = Numbered { seq, turn: turn.to_string(), event };
        if f.backlog.len() == BACKLOG {
            f.backlog.pop_front();
        }
        f.backlog.push_back(numbered.clone());
        // No listener is fine: the backlog keeps it for one that comes.
        let _ = f.tx.send(numbered);
        seq
    }

    /// Listen to `feed`; `after` is the last number the client saw (none:
    /// a fresh client, which needs nothing from before).
    pub fn subscribe(&self, feed: &str, after: Option<u64>) -> Subscription {
        let mut table = self.feeds.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let f = table.map.entry(feed.to_string()).or_insert_with(Feed::new);
        f.touched = Instant::now();
        let live = f.tx.subscribe();
        let Some(after) = after else { return Subscription { missed: Vec::new(), gap: false, live } };
        let missed: Vec<Numbered> = f.backlog.iter().filter(|e| e.seq > after).cloned().collect();
        // A gap: the client saw a number this feed never gave out or no
        // longer holds the events after (a restart, an evicted backlog).
        let oldest = f.backlog.front().map_or(f.next, |e| e.seq);
        let gap = after + 1 < oldest || after >= f.next;
        Subscription { missed, gap, live }
    }
}

/// One turn's way into its conversation's feed.
#[derive(Clone)]
pub struct TurnFeed {
    feeds: std::sync::Arc<Feeds>,
    feed: String,
    turn: String,
}

impl TurnFeed {
    /// The feed of `channel`/`conversation`, for the turn keyed `turn`.
    pub fn new(feeds: &std::sync::Arc<Feeds>, channel: &str, conversation: &str, turn: Option<&str>) -> TurnFeed {
        TurnFeed { feeds: feeds.clone(), feed: key(channel, conversation), turn: turn.unwrap_or_default().to_string() }
    }

    /// Tell whoever waits.
    pub fn send(&self, event: Event) {
        self.feeds.publish(&self.feed, &self.turn, event);
    }

    /// Where the LLM's streamed text goes: this feed, as `text` events.
    pub fn text_sink(&self) -> crate::capabilities::reply_stream::Sink {
        let me = self.clone();
        crate::capabilities::reply_stream::Sink::new(move |delta| me.send(Event::Text { delta: delta.to_string() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(d: &str) -> Event {
        Event::Text { delta: d.into() }
    }

    #[tokio::test]
    async fn a_listener_gets_events_in_order_and_a_late_one_what_it_missed() {
        let feeds = Feeds::default();
        let k = key("web", "u1:c1");
        let mut early = feeds.subscribe(&k, None);
        let a = feeds.publish(&k, "job:1", Event::Started);
        let b = feeds.publish(&k, "job:1", text("Hel"));
        let c = feeds.publish(&k, "job:1", text("lo"));
        assert!(a < b && b < c);
        for want in [a, b, c] {
            assert_eq!(early.live.recv().await.unwrap().seq, want);
        }
        let late = feeds.subscribe(&k, Some(a));
        assert!(!late.gap);
        assert_eq!(late.missed.iter().map(|e| e.event.clone()).collect::<Vec<_>>(), vec![text("Hel"), text("lo")]);
        // Another conversation's feed is its own.
        let other = feeds.subscribe(&key("web", "u2:c1"), Some(a));
        assert!(other.missed.is_empty());
    }

    #[test]
    fn a_number_the_feed_no_longer_holds_is_a_gap() {
        let feeds = Feeds::default();
        let k = key("web", "c");
        let first = feeds.publish(&k, "", Event::Started);
        for i in 0..=BACKLOG {
            feeds.publish(&k, "", text(&i.to_string()));
        }
        assert!(feeds.subscribe(&k, Some(first)).gap, "the event after `first` was evicted");
        let held = feeds.subscribe(&k, Some(first + 1));
        assert!(!held.gap);
        assert_eq!(held.missed.len(), BACKLOG);
        // A number from before a restart (another feed's), or from the future.
        assert!(feeds.subscribe(&key("web", "fresh"), Some(5)).gap);
        assert!(feeds.subscribe(&k, Some(u64::MAX - 1)).gap);
        // Nothing asked for, nothing missed.
        let none = feeds.subscribe(&k, None);
        assert!(none.missed.is_empty() && !none.gap);
    }

    #[test]
    fn sweeps_come_at_doubling_sizes_and_keep_what_is_in_use() {
        let feeds = Feeds::default();
        for i in 0..500 {
            feeds.publish(&key("api", &i.to_string()), "", Event::Started);
        }
        let table = feeds.feeds.lock().unwrap();
        // Nothing is idle yet: every feed is kept, and the next sweep waits
        // until the table has doubled since the last one.
        assert_eq!(table.map.len(), 500);
        assert!(table.sweep_at >= 256 && table.sweep_at <= 1000, "{}", table.sweep_at);
        drop(table);
        let again = feeds.subscribe(&key("api", "3"), Some(0));
        assert!(!again.missed.is_empty(), "a kept feed still holds its backlog");
    }

    #[test]
    fn events_serialise_with_their_number_and_turn() {
        let n = Numbered {
            seq: 7,
            turn: "job:3".into(),
            event: Event::ToolFinished { id: "c1".into(), name: "echo".into(), ok: true },
        };
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"seq": 7, "turn": "job:3", "type": "tool_finished", "id": "c1", "name": "echo", "ok": true})
        );
    }
}

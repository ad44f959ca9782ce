//! `claw:runtime/inbox`: a channel hands a message to the agent. It is
//! queued as a durable job under the channel's name (the component's), one
//! at a time per conversation, its reply delivered back through the
//! channel's `deliver`; the provider's id makes a redelivery a no-op. A
//! sender the operator has not paired with (`pair`, then `claw pairing
//! approve`) is someone outside: the agent reads their text as external
//! content, never as the operator's.

use super::{CallState, HostServices};
use crate::grant::Grant;
use crate::jobs::Message as Queued;
use crate::store::LazyStore;
use crate::wit::channel::claw::runtime::inbox::{Answer, Host, Message, add_to_linker};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// The longest message text, in bytes.
pub const MAX_TEXT: usize = 64 << 10;
/// The longest conversation or sender id, in bytes.
pub const MAX_ID: usize = 200;
/// The longest a channel may wait for an answer in one call.
pub const MAX_WAIT_MS: u32 = 60_000;

/// Link `claw:runtime/inbox`.
///
/// # Errors
///
/// When wasmtime refuses a definition.
pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    add_to_linker::<CallState, HasSelf<Instance>>(linker, |s| &mut s.inbox)
}

/// The channel's name, and whether its grant has `[inbox]`.
#[derive(Debug)]
pub struct Config {
    channel: String,
    granted: bool,
}

impl Config {
    pub(super) fn from_grant(component: &str, grant: &Grant) -> Config {
        Config { channel: component.to_string(), granted: grant.inbox.is_some() }
    }
}

/// One instance's inbox.
pub struct Instance {
    config: Arc<Config>,
    store: Arc<LazyStore>,
    /// Messages queued during this call (the caller wakes the pool).
    queued: usize,
}

impl Instance {
    pub(super) fn prepare(config: &Arc<Config>, host: &HostServices) -> Instance {
        Instance { config: config.clone(), store: host.store.clone(), queued: 0 }
    }

    /// How many new messages this call queued.
    pub fn queued(&self) -> usize {
        self.queued
    }
}

/// Why `m` cannot be queued, if it cannot.
fn refusal(m: &Message) -> Option<String> {
    let id_ok = |s: &str| !s.is_empty() && s.len() <= MAX_ID && !s.chars().any(char::is_control);
    if !id_ok(&m.conversation) {
        return Some(format!("the conversation must be 1 to {MAX_ID} bytes without control characters"));
    }
    if !id_ok(&m.sender) {
        return Some(format!("the sender must be 1 to {MAX_ID} bytes without control characters"));
    }
    if m.id.as_deref().is_some_and(|i| !id_ok(i)) {
        return Some(format!("the message id must be 1 to {MAX_ID} bytes without control characters"));
    }
    if m.text.trim().is_empty() {
        return Some("the message has no text".into());
    }
    (m.text.len() > MAX_TEXT).then(|| format!("the message is over {} KiB", MAX_TEXT >> 10))
}

impl Host for Instance {
    async fn send(&mut self, message: Message) -> wasmtime::Result<Result<bool, String>> {
        if !self.config.granted {
            return Ok(Err("the grant has no [inbox] section".into()));
        }
        if let Some(why) = refusal(&message) {
            return Ok(Err(why));
        }
        let store = match self.store.get().await {
            Ok(s) => s,
            Err(e) => return Ok(Err(format!("the store is unavailable: {e}"))),
        };
        let channel = self.config.channel.as_str();
        let paired = match store.pairings().is_paired(channel, &message.sender).await {
            Ok(p) => p,
            Err(e) => return Ok(Err(format!("the store failed: {e}"))),
        };
        let queued = Queued {
            channel,
            conversation: &message.conversation,
            text: &message.text,
            idempotency_key: message.id.as_ref().map(|id| format!("{channel}:{id}")),
            origin: None,
            deliver: true,
            stranger: (!paired).then_some(message.sender.as_str()),
        };
        Ok(match store.enqueue_message(&queued).await {
            Ok(q) => {
                self.queued += usize::from(q.created);
                Ok(q.created)
            }
            Err(e) => Err(e.to_string()),
        })
    }

    async fn wait(&mut self, id: String, timeout_ms: u32) -> wasmtime::Result<Result<Option<Answer>, String>> {
        if !self.config.granted {
            return Ok(Err("the grant has no [inbox] section".into()));
        }
        let store = match self.store.get().await {
            Ok(s) => s,
            Err(e) => return Ok(Err(format!("the store is unavailable: {e}"))),
        };
        // Only this channel's own messages: the key is under its name.
        let key = format!("{}:{id}", self.config.channel);
        let job = match store.jobs().by_key(&key).await {
            Ok(Some(job)) => job,
            Ok(None) => return Ok(Err(format!("no message with id `{id}` was sent on this channel"))),
            Err(e) => return Ok(Err(format!("the store failed: {e}"))),
        };
        // Long enough for one look at the store, even when asked for 0.
        let wait = std::time::Duration::from_millis(u64::from(timeout_ms.clamp(100, MAX_WAIT_MS)));
        Ok(Ok(tokio::time::timeout(wait, store.wait_reply(job))
            .await
            .ok()
            .map(|r| Answer { text: r.text, notice: r.notice })))
    }

    async fn pair(&mut self, sender: String) -> wasmtime::Result<Result<String, String>> {
        if !self.config.granted {
            return Ok(Err("the grant has no [inbox] section".into()));
        }
        if sender.is_empty() || sender.len() > MAX_ID || sender.chars().any(char::is_control) {
            return Ok(Err(format!("the sender must be 1 to {MAX_ID} bytes without control characters")));
        }
        let store = match self.store.get().await {
            Ok(s) => s,
            Err(e) => return Ok(Err(format!("the store is unavailable: {e}"))),
        };
        let channel = self.config.channel.as_str();
        Ok(match store.pairings().request(channel, &sender).await {
            Ok(code) => {
                // Not the code: the operator gets it from the person, which
                // is what proves the person holds that chat.
                tracing::info!(channel, sender = %sender, "a pairing was requested: see `claw pairing list`");
                Ok(code)
            }
            Err(e) => Err(e.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(conversation: &str, text: &str, id: Option<&str>) -> Message {
        Message { conversation: conversation.into(), sender: "u1".into(), text: text.into(), id: id.map(Into::into) }
    }

    #[test]
    fn messages_are_checked_before_anything_is_queued() {
        assert_eq!(refusal(&message("chat-1", "hello", Some("update-9"))), None);
        assert!(refusal(&message("", "hello", None)).unwrap().contains("conversation"));
        assert!(refusal(&message("a\nb", "hello", None)).unwrap().contains("conversation"));
        assert!(refusal(&message("c", "  ", None)).unwrap().contains("no text"));
        assert!(refusal(&message("c", &"x".repeat(MAX_TEXT + 1), None)).unwrap().contains("64 KiB"));
        assert!(refusal(&message("c", "hi", Some(&"i".repeat(MAX_ID + 1)))).unwrap().contains("message id"));
    }
}

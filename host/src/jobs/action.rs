//! What a routine does when it fires, as plain data: an agent turn with
//! the routine's prompt, the tools it may use, its limits, and where the
//! result (or the failure) goes.

use serde::{Deserialize, Serialize};

/// The job kind of a routine's run.
pub const ROUTINE_RUN: &str = "routine.run";

/// The job kind of the agent's heartbeat (a routine whose prompt is the
/// workspace's HEARTBEAT.md).
pub const HEARTBEAT: &str = "heartbeat";

/// The job kind of one inbound message's agent turn.
pub const AGENT_TURN: &str = "agent.turn";

/// A routine's action, stored as its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// What the agent is asked to do.
    pub prompt: String,
    /// The tools it may call; `None`: the read-only ones (see
    /// `Grant::is_read_only`).
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    /// A run that takes longer fails (s).
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
    /// Rounds of tool calls before the run stops.
    #[serde(default = "default_iterations")]
    pub max_iterations: usize,
    /// After a fire, fires within this many seconds are skipped (events
    /// arriving in bursts run once).
    #[serde(default)]
    pub cooldown_s: u64,
    /// Runs may overlap; by default one runs at a time, the next waits.
    #[serde(default)]
    pub concurrent: bool,
    /// Where the result goes.
    #[serde(default)]
    pub deliver: Deliver,
}

/// Where a run's result goes: a channel conversation, a workspace
/// document, or both. With neither, the document `routines/NAME.md`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deliver {
    /// A channel's name (an installed channel component).
    #[serde(default)]
    pub channel: Option<String>,
    /// The conversation on that channel (default: `routine:NAME`).
    #[serde(default)]
    pub conversation: Option<String>,
    /// A workspace document the latest result is written to.
    #[serde(default)]
    pub document: Option<String>,
}

fn default_timeout() -> u64 {
    300
}

fn default_iterations() -> usize {
    10
}

impl Action {
    /// An action with `prompt` and the defaults.
    pub fn new(prompt: &str) -> Action {
        Action {
            prompt: prompt.to_string(),
            tools: None,
            timeout_s: default_timeout(),
            max_iterations: default_iterations(),
            cooldown_s: 0,
            concurrent: false,
            deliver: Deliver::default(),
        }
    }

    /// The document a run's result goes to, if any.
    pub fn document(&self, routine: &str) -> Option<String> {
        match (&self.deliver.channel, &self.deliver.document) {
            (_, Some(d)) => Some(d.clone()),
            (None, None) => Some(format!("routines/{routine}.md")),
            (Some(_), None) => None,
        }
    }

    /// The channel conversation a run's result goes to, if any.
    pub fn conversation(&self, routine: &str) -> Option<(String, String)> {
        let channel = self.deliver.channel.clone()?;
        Some((channel, self.deliver.conversation.clone().unwrap_or_else(|| format!("routine:{routine}"))))
    }
}

/// The payload of a routine's job: which routine, which fire, and what
/// the trigger brought (a webhook's body, a message, a document's path),
/// which the turn reads as untrusted content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fire {
    /// The routine.
    pub routine: String,
    /// The fire's identity within the routine (a tick, `manual:…`,
    /// `message:…`, `document:…`, `after:…`, `webhook:…`).
    pub slot: String,
    /// What fired it, in words.
    pub cause: String,
    /// The trigger's payload, if any.
    #[serde(default)]
    pub input: Option<String>,
}

/// The payload of an inbound message's turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// The channel it came in on.
    pub channel: String,
    /// The conversation on it.
    pub conversation: String,
    /// The message.
    pub text: String,
    /// The `claw run` process (`host:pid`) whose terminal waits for the
    /// reply, for a terminal's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The reply goes back through the channel component's `deliver` (a
    /// message its inbox handed over), not to a waiting terminal or request.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deliver: bool,
    /// Who said it, when they are not one of the operator's own (a
    /// channel's unpaired sender): the text is wrapped as external content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stranger: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_defaults_to_read_only_tools_one_run_at_a_time_and_a_document() {
        let a: Action = serde_json::from_str(r#"{"prompt":"summarise my inbox"}"#).unwrap();
        assert_eq!(a, Action::new("summarise my inbox"));
        assert_eq!((a.tools, a.concurrent, a.timeout_s), (None, false, 300));
        let a = Action::new("x");
        assert_eq!(a.document("digest").as_deref(), Some("routines/digest.md"));
        assert_eq!(a.conversation("digest"), None);
    }

    #[test]
    fn a_channel_target_replaces_the_default_document_unless_both_are_named() {
        let mut a = Action::new("x");
        a.deliver.channel = Some("repl".into());
        assert_eq!(a.document("d"), None);
        assert_eq!(a.conversation("d"), Some(("repl".into(), "routine:d".into())));
        a.deliver.document = Some("reports/d.md".into());
        a.deliver.conversation = Some("ops".into());
        assert_eq!(a.document("d").as_deref(), Some("reports/d.md"));
        assert_eq!(a.conversation("d"), Some(("repl".into(), "ops".into())));
    }

    #[test]
    fn a_stored_action_with_an_unknown_field_is_refused() {
        let e = serde_json::from_str::<Action>(r#"{"prompt":"x","tool":["echo"]}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `tool`"), "{e}");
    }
}

//! The agent: a turn takes a person's message, assembles the context
//! (identity files, memory recall, history within its budget), and loops —
//! ask the LLM, run the tool calls it makes (in parallel), feed back the
//! results wrapped as untrusted — until the LLM answers or the iteration
//! cap is reached. Every message is persisted in the session as it happens.

mod context;
pub mod events;
pub mod injection;
pub mod provenance;
pub(crate) mod redact;
mod resume;
mod tools;
pub mod untrusted;

use crate::config::AgentConfig;
use crate::llm::{ChatRequest, Message, Providers, Role, ToolCall};
use crate::problem::Problem;
use crate::runtime::{LlmFailure, Runtime};
use crate::store::sessions::{StoredCall, StoredMessage};
use std::sync::Arc;

/// The agent over a runtime.
#[derive(Debug, Clone)]
pub struct Agent {
    runtime: Arc<Runtime>,
    settings: AgentConfig,
}

/// What a turn produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The final answer.
    pub text: String,
    /// Tool calls made during the turn.
    pub tool_calls: usize,
    /// LLM requests made (including a summary, if one was written).
    pub llm_requests: usize,
    /// Tokens in and out, as the providers reported them.
    pub usage: (u64, u64),
    /// What was redacted from the LLM's context (`NAME in SOURCE`).
    pub redacted: Vec<String>,
}

/// How one turn may run, beyond the agent's settings.
#[derive(Debug, Clone, Default)]
pub struct TurnOptions {
    /// Only these tools are offered and may be called (`None`: every
    /// tool). A routine runs with the ones it names.
    pub tools: Option<Vec<String>>,
    /// Rounds of tool calls (`None`: `agent.max_iterations`).
    pub max_iterations: Option<usize>,
    /// The turn's identity (its job). Every message it stores carries it,
    /// so a retry after a crash resumes from the stored steps: the message
    /// is not appended again, an answer already stored is returned, and a
    /// tool call that started but left no result is not run again — its
    /// result says it was interrupted and may or may not have taken
    /// effect, and the LLM decides.
    pub turn_key: Option<String>,
}

/// The result a tool call gets when claw stopped while it ran.
pub const INTERRUPTED: &str = "error: interrupted: claw stopped while this call ran, so it may or may not have taken effect. It was not run again; check its effect before calling it again.";

/// Why a turn has no reply.
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    /// The LLM could not be reached (no router, every provider failed).
    #[error("{0}")]
    Llm(#[from] LlmFailure),
    /// The store failed.
    #[error("the session store failed: {0}")]
    Store(String),
    /// The configuration is broken.
    #[error("{0}")]
    Config(String),
}

impl TurnError {
    /// How to fix it.
    pub fn hint(&self) -> Option<String> {
        match self {
            TurnError::Llm(e) => e.hint(),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for TurnError {
    fn from(e: sqlx::Error) -> Self {
        TurnError::Store(e.to_string())
    }
}

impl Agent {
    /// An agent with the settings of the home's config.toml.
    ///
    /// # Errors
    ///
    /// When config.toml does not parse.
    pub fn new(runtime: Arc<Runtime>) -> Result<Agent, Problem> {
        let settings = crate::config::Config::load(runtime.home())?.agent;
        Ok(Agent { runtime, settings })
    }

    /// Start a new session in a conversation (the old one stays stored).
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn new_session(&self, channel: &str, conversation: &str) -> Result<(), TurnError> {
        let store = self.runtime.services().store.get().await.map_err(TurnError::Store)?;
        store.sessions().start_new(channel, conversation).await?;
        Ok(())
    }

    /// Handle one message and return the agent's reply.
    ///
    /// # Errors
    ///
    /// A [`TurnError`]; what happened before it is already persisted.
    pub async fn turn(&self, channel: &str, conversation: &str, text: &str) -> Result<Reply, TurnError> {
        self.turn_with(channel, conversation, text, &|_| {}).await
    }

    /// [`Agent::turn`], telling `progress` about each tool call as it starts
    /// (so a person waiting sees what the agent is doing).
    ///
    /// # Errors
    ///
    /// As [`Agent::turn`].
    pub async fn turn_with(
        &self,
        channel: &str,
        conversation: &str,
        text: &str,
        progress: &(dyn Fn(&ToolCall) + Sync),
    ) -> Result<Reply, TurnError> {
        self.turn_as(channel, conversation, text, &TurnOptions::default(), progress).await
    }

    /// [`Agent::turn_with`] under `options` (a routine's tools and limits,
    /// a job's turn key).
    ///
    /// # Errors
    ///
    /// As [`Agent::turn`].
    pub async fn turn_as(
        &self,
        channel: &str,
        conversation: &str,
        text: &str,
        options: &TurnOptions,
        progress: &(dyn Fn(&ToolCall) + Sync),
    ) -> Result<Reply, TurnError> {
        let feed = events::TurnFeed::new(self.runtime.feeds(), channel, conversation, options.turn_key.as_deref());
        feed.send(events::Event::Started);
        let result = self.run_turn(channel, conversation, text, options, progress, &feed).await;
        feed.send(match &result {
            Ok(reply) => events::Event::Done { text: reply.text.clone() },
            Err(e) => {
                let hint = e.hint().map(|h| format!("\nhint: {h}")).unwrap_or_default();
                events::Event::Failed { error: format!("{e}{hint}") }
            }
        });
        result
    }

    async fn run_turn(
        &self,
        channel: &str,
        conversation: &str,
        text: &str,
        options: &TurnOptions,
        progress: &(dyn Fn(&ToolCall) + Sync),
        feed: &events::TurnFeed,
    ) -> Result<Reply, TurnError> {
        let store = self.runtime.services().store.get().await.map_err(TurnError::Store)?.clone();
        let sessions = store.sessions();
        let mut session = sessions.active(channel, conversation).await?;
        let boundary = self.runtime.services().boundary.clone();
        let mut redactions = redact::Redactions::default();
        let mut reply =
            Reply { text: String::new(), tool_calls: 0, llm_requests: 0, usage: (0, 0), redacted: Vec::new() };
        let key = options.turn_key.clone();
        let mark = |mut m: StoredMessage| {
            m.turn.clone_from(&key);
            m
        };
        let text = &match resume::resume(&sessions, &session.id, key.as_deref()).await? {
            resume::Resumed::Fresh => {
                let text = redactions.text(&boundary, "your message", text).await;
                sessions.append(&session.id, vec![mark(StoredMessage::new("user", text.as_str()))]).await?;
                text
            }
            resume::Resumed::Answered(answer) => {
                reply.text = answer;
                return Ok(reply);
            }
            resume::Resumed::Continue(message) => message,
        };
        let providers: Vec<_> = Providers::load(self.runtime.home())
            .map_err(|e| TurnError::Config(format!("{e:#}")))?
            .list
            .iter()
            .map(|p| p.to_wire())
            .collect();

        // What is not the operator's word, as it enters the context: a
        // stranger's message and earlier tool results arrive wrapped.
        let mut provenance = provenance::Provenance::trusted();
        let system = context::system_prompt(&self.runtime, &store, text, self.settings.recall, &mut provenance).await;
        let system = redactions.text(&boundary, "the identity files and recalled memory", &system).await;
        let history =
            context::history(&self.runtime, &store, &mut session, &providers, &self.settings, &mut reply).await?;
        for m in &history {
            provenance.from_result(&m.content);
        }
        let mut messages = vec![Message::text(Role::System, system)];
        messages.extend(history);
        let allowed = options.tools.as_deref();
        let specs = tools::specs(&self.runtime, allowed).await;
        let max_iterations = options.max_iterations.unwrap_or(self.settings.max_iterations);

        for round in 0..max_iterations {
            let mut request = ChatRequest {
                messages: messages.clone(),
                tools: specs.clone(),
                providers: providers.clone(),
                model: None,
                max_tokens: None,
                stream: true,
            };
            redact::Redactions::request(&boundary, &mut request.messages);
            if round > 0 {
                feed.send(events::Event::Round { n: round });
            }
            let answer = self.runtime.complete_streaming(&request, Some(feed.text_sink())).await?;
            reply.llm_requests += 1;
            reply.usage.0 += u64::from(answer.usage.input_tokens);
            reply.usage.1 += u64::from(answer.usage.output_tokens);
            let assistant = Message {
                role: Role::Assistant,
                content: answer.text.clone(),
                tool_calls: answer.tool_calls.clone(),
                tool_call_id: None,
            };
            let mut stored = StoredMessage::new("assistant", answer.text.clone());
            stored.tool_calls = answer.tool_calls.iter().map(stored_call).collect();
            if answer.tool_calls.is_empty() {
                sessions.append(&session.id, vec![mark(stored)]).await?;
                reply.text = answer.text;
                reply.redacted = redactions.notes;
                return Ok(reply);
            }
            reply.tool_calls += answer.tool_calls.len();
            // The calls are stored before they start: a crash from here on
            // leaves calls without results, which a retry marks
            // interrupted instead of running them again.
            sessions.append(&session.id, vec![mark(stored)]).await?;
            for call in answer.tool_calls.iter().take(self.settings.max_tool_calls) {
                progress(call);
                let arguments = arguments_line(call);
                feed.send(events::Event::ToolStarted { id: call.id.clone(), name: call.name.clone(), arguments });
            }
            // One reply may not fan out without bound: the first
            // `max_tool_calls` run, the rest are told why they did not.
            let cap = self.settings.max_tool_calls.min(answer.tool_calls.len());
            let finished = |call: &ToolCall, result: &str| {
                let ok = !result.starts_with("error:");
                feed.send(events::Event::ToolFinished { id: call.id.clone(), name: call.name.clone(), ok });
            };
            let tainted_by = match self.settings.untrusted_sinks {
                crate::config::UntrustedSinks::Ask => provenance.describe(),
                crate::config::UntrustedSinks::Allow => None,
            };
            let calls = &answer.tool_calls[..cap];
            let mut results = tools::run_all(&self.runtime, calls, allowed, tainted_by.as_deref(), &finished).await;
            results.extend(answer.tool_calls[cap..].iter().map(|_| {
                format!(
                    "error: not run: one reply may ask for at most {} tool calls (agent.max_tool_calls); ask for the rest in the next reply",
                    self.settings.max_tool_calls
                )
            }));
            let mut batch = Vec::new();
            messages.push(assistant);
            for (call, content) in answer.tool_calls.iter().zip(results) {
                let content = redactions.text(&boundary, &format!("tool {}", call.name), &content).await;
                provenance.from_result(&content);
                let mut m = StoredMessage::new("tool", content.clone());
                m.tool_call_id = Some(call.id.clone());
                batch.push(mark(m));
                messages.push(Message {
                    role: Role::Tool,
                    content,
                    tool_calls: Vec::new(),
                    tool_call_id: Some(call.id.clone()),
                });
            }
            sessions.append(&session.id, batch).await?;
        }
        let text = format!(
            "I stopped after {max_iterations} rounds of tool calls without reaching an answer (agent.max_iterations in config.toml, or the routine's --max-iterations)."
        );
        sessions.append(&session.id, vec![mark(StoredMessage::new("assistant", text.clone()))]).await?;
        reply.text = text;
        reply.redacted = redactions.notes;
        Ok(reply)
    }
}

/// A tool call in one line for a person: the name and the arguments, cut.
pub fn describe_call(call: &ToolCall) -> String {
    format!("calling {} {}", call.name, arguments_line(call))
}

/// A call's arguments on one line, cut to 120 characters.
fn arguments_line(call: &ToolCall) -> String {
    let mut args: String = call.arguments_json.chars().filter(|c| !c.is_control()).take(120).collect();
    if call.arguments_json.chars().count() > 120 {
        args.push('…');
    }
    args
}

fn stored_call(c: &ToolCall) -> StoredCall {
    StoredCall { id: c.id.clone(), name: c.name.clone(), arguments: c.arguments_json.clone() }
}

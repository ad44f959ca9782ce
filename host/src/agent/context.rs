//! Context assembly: the system prompt (the agent's rules, its identity
//! files, memory recalled for this message) and the session's history
//! within its token budget, older turns summarised when over it.

use super::provenance::Provenance;
use super::{Reply, TurnError, untrusted};
use crate::config::AgentConfig;
use crate::llm::{ChatRequest, Message, Role, ToolCall, WireProvider};
use crate::runtime::Runtime;
use crate::store::Store;
use crate::store::sessions::{Session, StoredMessage};

/// The identity files, in the order they are put in the prompt.
pub const IDENTITY_FILES: &[&str] = &["IDENTITY.md", "SOUL.md", "AGENTS.md", "USER.md"];

/// The most of one identity file that goes into the prompt.
const IDENTITY_CAP: usize = 16 << 10;

const BASE: &str = "You are claw, a helpful assistant with tools. Use a tool when it helps; answer directly when it does not. Credentials are never available to you: the host adds them to outbound requests itself.";

/// About 4 bytes a token: close enough for budgeting, never sent anywhere.
pub fn estimate_tokens(text: &str) -> usize {
    text.len().div_ceil(4)
}

/// The system prompt for a message; what in it is not the operator's
/// word is recorded in `provenance`.
pub(super) async fn system_prompt(
    runtime: &Runtime,
    store: &Store,
    text: &str,
    recall: usize,
    provenance: &mut Provenance,
) -> String {
    let mut prompt = format!("{BASE}\n\n{}", untrusted::RULE);
    for file in IDENTITY_FILES {
        let Ok(Some(doc)) = store.workspace().read(file).await else { continue };
        let trusted = doc.by_operator() && doc.flagged.is_none();
        let mut content = doc.content;
        if content.len() > IDENTITY_CAP {
            let mut cut = IDENTITY_CAP;
            while !content.is_char_boundary(cut) {
                cut -= 1;
            }
            content.truncate(cut);
        }
        // A file a component wrote last is not the operator's word,
        // whatever its text: trust follows provenance, not markers.
        let body = if !trusted {
            let source = format!("workspace {file} (written by {})", doc.written_by);
            provenance.untrusted(source.clone());
            untrusted::wrap(&source, &content)
        } else {
            content
        };
        prompt.push_str(&format!("\n\n# {file}\n{}", body.trim_end()));
    }
    if recall > 0
        && let Ok(memory) = runtime.services().memory.get().await
        && let Ok(found) = memory.search(text, recall, "").await
        && !found.hits.is_empty()
    {
        prompt.push_str("\n\n# Recalled from memory (may be relevant)");
        for hit in found.hits {
            // Every recalled chunk is data to the LLM; only what a
            // component wrote is untrusted to the policy.
            let by_operator = matches!(store.workspace().read(&hit.path).await, Ok(Some(d)) if d.by_operator());
            if !by_operator {
                provenance.untrusted(format!("memory {}", hit.path));
            }
            prompt.push_str(&format!("\n{}", untrusted::wrap(&format!("memory {}", hit.path), &hit.chunk)));
        }
    }
    prompt
}

/// The history to send: the summary of older turns, then the messages
/// after it, summarising first when they exceed the budget.
pub(super) async fn history(
    runtime: &Runtime,
    store: &Store,
    session: &mut Session,
    providers: &[WireProvider],
    settings: &AgentConfig,
    reply: &mut Reply,
) -> Result<Vec<Message>, TurnError> {
    let sessions = store.sessions();
    let mut stored = sessions.messages(&session.id, session.summarised_through).await?;
    let total: usize = stored.iter().map(|m| estimate_tokens(&m.content)).sum();
    if total > settings.history_tokens
        && let Some(split) = split_point(&stored, settings.history_tokens / 2)
    {
        let (older, _) = stored.split_at(split);
        let through = older.last().map_or(session.summarised_through, |m| m.seq);
        match summarise(runtime, session.summary.as_deref(), older, providers).await {
            Ok(summary) => {
                reply.llm_requests += 1;
                sessions.summarise(&session.id, &summary, through).await?;
                session.summary = Some(summary);
                session.summarised_through = through;
                stored.drain(..split);
            }
            // Without a summary the older turns are left out of this
            // request (they stay stored); the turn goes on.
            Err(e) => {
                tracing::warn!("summarising the older turns failed, leaving them out: {e}");
                stored.drain(..split);
            }
        }
    }
    let mut out = Vec::new();
    if let Some(summary) = &session.summary {
        out.push(Message::text(Role::System, format!("Summary of the earlier conversation:\n{summary}")));
    }
    out.extend(stored.into_iter().map(to_message));
    Ok(out)
}

/// Where to cut so that the kept tail fits `keep_tokens` and starts at a
/// user message (never between a tool call and its result). `None` when
/// no such cut leaves anything to summarise.
pub fn split_point(messages: &[StoredMessage], keep_tokens: usize) -> Option<usize> {
    let mut kept = 0;
    let mut cut = None;
    for (i, m) in messages.iter().enumerate().rev() {
        kept += estimate_tokens(&m.content);
        if kept > keep_tokens {
            break;
        }
        if m.role == "user" {
            cut = Some(i);
        }
    }
    // Always keep the newest user message, even when it alone is over.
    let cut = cut.or_else(|| messages.iter().rposition(|m| m.role == "user"))?;
    (cut > 0).then_some(cut)
}

async fn summarise(
    runtime: &Runtime,
    previous: Option<&str>,
    older: &[StoredMessage],
    providers: &[WireProvider],
) -> Result<String, String> {
    let mut transcript = String::new();
    if let Some(p) = previous {
        transcript.push_str(&format!("Earlier summary:\n{p}\n\n"));
    }
    for m in older {
        transcript.push_str(&format!("{}: {}\n", m.role, m.content));
        for c in &m.tool_calls {
            transcript.push_str(&format!("  (called {} with {})\n", c.name, c.arguments));
        }
    }
    let mut read = Provenance::trusted();
    read.from_result(&transcript);
    let request = ChatRequest {
        messages: vec![
            Message::text(
                Role::System,
                format!(
                    "Summarise this conversation for your own later reference: the facts learned, decisions made and tasks still open, in a few short paragraphs. {}",
                    untrusted::RULE
                ),
            ),
            Message::text(Role::User, transcript),
        ],
        tools: Vec::new(),
        providers: providers.to_vec(),
        model: None,
        max_tokens: Some(1024),
        stream: false,
    };
    let answer = runtime.complete(&request).await.map_err(|e| e.to_string())?;
    if answer.text.trim().is_empty() {
        return Err("the LLM returned an empty summary".into());
    }
    // A summary of content from outside carries that provenance on, in
    // claw's own wrapper (which the summarised text cannot close).
    Ok(match read.describe() {
        Some(from) => {
            untrusted::wrap(&format!("summary of earlier turns, which held content from {from}"), &answer.text)
        }
        None => answer.text,
    })
}

fn to_message(m: StoredMessage) -> Message {
    let role = match m.role.as_str() {
        "system" => Role::System,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        _ => Role::User,
    };
    Message {
        role,
        content: m.content,
        tool_calls: m
            .tool_calls
            .into_iter()
            .map(|c| ToolCall { id: c.id, name: c.name, arguments_json: c.arguments })
            .collect(),
        tool_call_id: m.tool_call_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(role: &str, len: usize) -> StoredMessage {
        StoredMessage::new(role, "x".repeat(len))
    }

    #[test]
    fn the_cut_keeps_a_tail_within_budget_starting_at_a_user_message() {
        // user, assistant(tool call), tool, assistant, user, assistant
        let ms = vec![
            m("user", 400),
            m("assistant", 40),
            m("tool", 800),
            m("assistant", 200),
            m("user", 40),
            m("assistant", 80),
        ];
        // 30 tokens kept: the last user + assistant (10 + 20).
        assert_eq!(split_point(&ms, 30), Some(4));
        // Everything fits: nothing to summarise.
        assert_eq!(split_point(&ms, 10_000), None);
        // A tiny budget still keeps the newest user message.
        assert_eq!(split_point(&ms, 1), Some(4));
        // Never cut between a tool call and its result.
        // The tool result (index 2) would fit, its call would not: cut at the user message.
        let ms = vec![m("user", 4), m("assistant", 4000), m("tool", 40), m("user", 4)];
        assert_eq!(split_point(&ms, 100), Some(3));
    }
}

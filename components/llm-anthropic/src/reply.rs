//! Reading a Messages reply: its text blocks make the text, its
//! `tool_use` blocks the tool calls; other blocks (thinking, ...) are
//! skipped.

use llm_common as common;
use llm_common::bindings::claw::runtime::llm_types::{ChatReply, ProviderError, ToolCall, Usage};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct WireReply {
    model: Option<String>,
    content: Vec<Block>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct WireUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

/// The reply in `body`, from `provider`, which was asked for `model`.
///
/// # Errors
///
/// `invalid-reply` when the body is not a message with content blocks.
pub fn parse(body: &[u8], provider: &str, model: &str) -> Result<ChatReply, ProviderError> {
    let reply: WireReply = serde_json::from_slice(body)
        .map_err(|e| common::invalid_reply(provider, format_args!("not a message: {e}")))?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in reply.content {
        match block {
            Block::Text { text: t } => text.push_str(&t),
            Block::ToolUse { id, name, input } => {
                let arguments_json = if input.is_null() { "{}".to_string() } else { input.to_string() };
                tool_calls.push(ToolCall { id, name, arguments_json });
            }
            Block::Other => {}
        }
    }
    let usage = reply.usage.map_or(Usage { input_tokens: 0, output_tokens: 0 }, |u| Usage {
        input_tokens: common::tokens(u.input_tokens.unwrap_or(0)),
        output_tokens: common::tokens(u.output_tokens.unwrap_or(0)),
    });
    Ok(ChatReply {
        text,
        tool_calls,
        usage,
        provider: provider.to_string(),
        model: reply.model.filter(|m| !m.is_empty()).unwrap_or_else(|| model.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use llm_common::bindings::claw::runtime::llm_types::Failure;

    #[test]
    fn text_blocks_join_and_tool_use_becomes_calls() {
        let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
            "content":[{"type":"thinking","thinking":"..."},{"type":"text","text":"Let me "},{"type":"text","text":"check."},
                {"type":"tool_use","id":"toolu_1","name":"clock","input":{"tz":"UTC"}}],
            "stop_reason":"tool_use","usage":{"input_tokens":20,"output_tokens":7}}"#;
        let r = parse(body, "anthropic", "claude-sonnet-4-5").unwrap();
        assert_eq!(r.text, "Let me check.");
        assert_eq!(r.tool_calls.len(), 1);
        let c = &r.tool_calls[0];
        assert_eq!(
            (c.id.as_str(), c.name.as_str(), c.arguments_json.as_str()),
            ("toolu_1", "clock", r#"{"tz":"UTC"}"#)
        );
        assert_eq!((r.usage.input_tokens, r.usage.output_tokens), (20, 7));
        assert_eq!((r.provider.as_str(), r.model.as_str()), ("anthropic", "claude-sonnet-4-5-20250929"));
    }

    #[test]
    fn the_requested_model_when_the_reply_names_none() {
        let r = parse(br#"{"content":[]}"#, "a", "claude").unwrap();
        assert_eq!((r.model.as_str(), r.text.as_str(), r.usage.input_tokens), ("claude", "", 0));
    }

    #[test]
    fn a_body_that_is_not_a_message_is_an_invalid_reply() {
        for body in [&b"not json"[..], b"{}", br#"{"content":"text"}"#, br#"{"content":[{"type":"tool_use"}]}"#] {
            let e = parse(body, "a", "m").unwrap_err();
            assert_eq!(e.failure, Failure::InvalidReply, "{}", e.message);
            assert!(e.message.starts_with("a: invalid reply"), "{}", e.message);
        }
    }
}

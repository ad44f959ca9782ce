//! Reading a Chat Completions reply. Lenient where the servers that copy
//! OpenAI's API differ (content as a list of parts, arguments as an object,
//! a missing call id or usage); strict only where nothing usable is left.

use llm_common as common;
use llm_common::bindings::claw::runtime::llm_types::{ChatReply, ProviderError, ToolCall, Usage};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Completion {
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
    /// OpenRouter reports some failures in a 200.
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    message: WireMessage,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Value,
    tool_calls: Option<Vec<WireCall>>,
}

#[derive(Deserialize)]
struct WireCall {
    id: Option<String>,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: Value,
}

/// Token counts as Chat Completions reports them (whole or streamed).
#[derive(Deserialize)]
pub(crate) struct WireUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

impl WireUsage {
    /// As the WIT wants them (a missing count is 0).
    pub(crate) fn usage(&self) -> Usage {
        Usage {
            input_tokens: common::tokens(self.prompt_tokens.unwrap_or(0)),
            output_tokens: common::tokens(self.completion_tokens.unwrap_or(0)),
        }
    }
}

/// The reply in `body`, from `provider`, which was asked for `model`.
///
/// # Errors
///
/// `invalid-reply` when the body is not a completion with a message.
pub fn parse(body: &[u8], provider: &str, model: &str) -> Result<ChatReply, ProviderError> {
    let reply: Completion = serde_json::from_slice(body)
        .map_err(|e| common::invalid_reply(provider, format_args!("not a completion: {e}")))?;
    let Some(choice) = reply.choices.into_iter().next() else {
        let why = match reply.error.as_ref().and_then(|e| e.get("message")).and_then(Value::as_str) {
            Some(said) => format!("no choices; the provider said: {said}"),
            None => "no choices".to_string(),
        };
        return Err(common::invalid_reply(provider, why));
    };
    let message = choice.message;
    let tool_calls = message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| ToolCall {
            // A tool result quotes the id back; make one up when missing.
            id: c.id.filter(|id| !id.is_empty()).unwrap_or_else(|| format!("claw_call_{i}")),
            name: c.function.name,
            arguments_json: match c.function.arguments {
                Value::String(s) => s,
                Value::Null => "{}".to_string(),
                other => other.to_string(),
            },
        })
        .collect();
    let usage = reply.usage.map_or(Usage { input_tokens: 0, output_tokens: 0 }, |u| u.usage());
    Ok(ChatReply {
        text: text(&message.content),
        tool_calls,
        usage,
        provider: provider.to_string(),
        model: reply.model.filter(|m| !m.is_empty()).unwrap_or_else(|| model.to_string()),
    })
}

/// The message text (or a streamed delta's): a string, null, or (some
/// servers) a list of parts.
pub(crate) fn text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llm_common::bindings::claw::runtime::llm_types::Failure;

    #[test]
    fn text_usage_and_model() {
        let body = br#"{"model":"gpt-4o-2024-08-06","choices":[{"message":{"role":"assistant","content":"Hi."}}],
            "usage":{"prompt_tokens":12,"completion_tokens":3}}"#;
        let r = parse(body, "openai", "gpt-4o").unwrap();
        assert_eq!((r.text.as_str(), r.tool_calls.len()), ("Hi.", 0));
        assert_eq!((r.usage.input_tokens, r.usage.output_tokens), (12, 3));
        assert_eq!((r.provider.as_str(), r.model.as_str()), ("openai", "gpt-4o-2024-08-06"));
    }

    #[test]
    fn tool_calls_with_null_content_and_no_usage() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[
            {"id":"call_1","type":"function","function":{"name":"clock","arguments":"{\"tz\":\"UTC\"}"}},
            {"type":"function","function":{"name":"echo","arguments":{"text":"x"}}}]}}]}"#;
        let r = parse(body, "ollama", "llama3.1").unwrap();
        assert_eq!(r.text, "");
        assert_eq!(r.model, "llama3.1");
        assert_eq!((r.usage.input_tokens, r.usage.output_tokens), (0, 0));
        let calls: Vec<_> =
            r.tool_calls.iter().map(|c| (c.id.as_str(), c.name.as_str(), c.arguments_json.as_str())).collect();
        assert_eq!(calls, [("call_1", "clock", r#"{"tz":"UTC"}"#), ("claw_call_1", "echo", r#"{"text":"x"}"#)]);
    }

    #[test]
    fn a_body_that_is_not_a_completion_is_an_invalid_reply() {
        for body in [&b"<html>"[..], b"[]", br#"{"choices":[]}"#, br#"{"choices":[{"text":"legacy"}]}"#] {
            let e = parse(body, "p", "m").unwrap_err();
            assert_eq!(e.failure, Failure::InvalidReply, "{}", e.message);
            assert!(e.message.starts_with("p: invalid reply"), "{}", e.message);
        }
        let e = parse(br#"{"error":{"message":"upstream overloaded"}}"#, "p", "m").unwrap_err();
        assert!(e.message.contains("upstream overloaded"), "{}", e.message);
    }
}

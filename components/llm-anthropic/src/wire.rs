//! The Messages request: the agent's conversation reshaped to Anthropic's
//! rules. System prompts go to a top-level `system`; tool calls and tool
//! results are content blocks; tool results travel in a user turn; and
//! turns alternate user/assistant, so consecutive turns of one role merge.

use llm_common as common;
use llm_common::bindings::claw::runtime::llm_types::{ChatRequest, Message, Role, ToolCall, ToolSpec};
use serde_json::{Map, Value, json};

/// The API version this adapter speaks (the `anthropic-version` header).
pub const API_VERSION: &str = "2023-06-01";

/// Anthropic requires `max_tokens`; this when the request sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The endpoint under the provider's base URL (`https://api.anthropic.com/v1`).
pub fn endpoint(base_url: &str) -> String {
    format!("{}/messages", base_url.trim_end_matches('/'))
}

/// The JSON body for `request` sent to `model`.
pub fn body(model: &str, request: &ChatRequest) -> Value {
    let mut body = json!({
        "model": model,
        "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": turns(&request.messages),
    });
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System && !m.content.is_empty())
        .map(|m| m.content.as_str())
        .collect();
    if !system.is_empty() {
        body["system"] = system.join("\n\n").into();
    }
    if !request.tools.is_empty() {
        body["tools"] = request.tools.iter().map(tool).collect();
    }
    if request.stream {
        body["stream"] = true.into();
    }
    body
}

/// The conversation as alternating turns of content blocks. A message with
/// nothing to say (empty text, no calls) is dropped: Anthropic refuses
/// empty text blocks. Merging keeps the order, so tool results answering
/// one assistant turn stay first in the user turn that carries them.
fn turns(messages: &[Message]) -> Vec<Value> {
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    for m in messages {
        let (role, blocks) = match m.role {
            Role::System => continue,
            Role::User => ("user", text_block(&m.content).into_iter().collect()),
            Role::Assistant => {
                let mut blocks: Vec<Value> = text_block(&m.content).into_iter().collect();
                blocks.extend(m.tool_calls.iter().map(tool_use));
                ("assistant", blocks)
            }
            Role::Tool => ("user", vec![tool_result(m)]),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    turns.into_iter().map(|(role, content)| json!({ "role": role, "content": content })).collect()
}

fn text_block(text: &str) -> Option<Value> {
    (!text.trim().is_empty()).then(|| json!({ "type": "text", "text": text }))
}

fn tool_use(c: &ToolCall) -> Value {
    json!({ "type": "tool_use", "id": c.id, "name": c.name, "input": tool_input(&c.arguments_json) })
}

/// A call's arguments as Anthropic wants them: a JSON object. Empty
/// arguments are a call without any (`{}`). Arguments that are not a JSON
/// object (an LLM can write anything) are kept verbatim as
/// `{"_raw": "<what it wrote>"}` rather than dropped, so the model still
/// sees its own mistake when the tool result says the arguments were
/// invalid; sending them unchanged would get the whole request refused.
pub fn tool_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({ "_raw": arguments }),
    }
}

fn tool_result(m: &Message) -> Value {
    let mut block = json!({ "type": "tool_result", "tool_use_id": m.tool_call_id.as_deref().unwrap_or_default() });
    // An empty result is sent without content: Anthropic refuses empty text.
    if !m.content.is_empty() {
        block["content"] = m.content.as_str().into();
    }
    block
}

fn tool(t: &ToolSpec) -> Value {
    json!({ "name": t.name, "description": t.description, "input_schema": common::schema(&t.parameters_schema) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: Role, content: &str) -> Message {
        Message { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }

    fn result(id: &str, content: &str) -> Message {
        Message { tool_call_id: Some(id.into()), ..msg(Role::Tool, content) }
    }

    fn call(id: &str, arguments: &str) -> ToolCall {
        ToolCall { id: id.into(), name: "clock".into(), arguments_json: arguments.into() }
    }

    fn request(messages: Vec<Message>) -> ChatRequest {
        ChatRequest { messages, tools: Vec::new(), providers: Vec::new(), model: None, max_tokens: None, stream: false }
    }

    #[test]
    fn system_messages_join_the_top_level_system_and_max_tokens_defaults() {
        let b = body(
            "claude",
            &request(vec![msg(Role::System, "be brief"), msg(Role::User, "hi"), msg(Role::System, "use UTC")]),
        );
        assert_eq!(
            b,
            json!({
                "model": "claude",
                "max_tokens": 4096,
                "system": "be brief\n\nuse UTC",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            })
        );
        let mut r = request(vec![msg(Role::User, "hi")]);
        r.max_tokens = Some(50);
        let b = body("claude", &r);
        assert_eq!(b["max_tokens"], 50);
        assert!(b.get("system").is_none() && b.get("tools").is_none());
    }

    #[test]
    fn tools_become_input_schemas() {
        let mut r = request(vec![msg(Role::User, "time?")]);
        r.tools = vec![ToolSpec {
            name: "clock".into(),
            description: "The time.".into(),
            parameters_schema: r#"{"type":"object","properties":{}}"#.into(),
        }];
        assert_eq!(
            body("m", &r)["tools"],
            json!([{"name": "clock", "description": "The time.", "input_schema": {"type": "object", "properties": {}}}])
        );
    }

    #[test]
    fn tool_calls_and_consecutive_results_make_alternating_turns() {
        let mut asks = msg(Role::Assistant, "Checking.");
        asks.tool_calls = vec![call("t1", r#"{"tz":"UTC"}"#), call("t2", "")];
        let messages = vec![
            msg(Role::User, "time?"),
            msg(Role::User, "and in Paris?"),
            asks,
            result("t1", "12:00"),
            result("t2", ""),
            msg(Role::User, "thanks"),
        ];
        assert_eq!(
            body("m", &request(messages))["messages"],
            json!([
                {"role": "user", "content": [
                    {"type": "text", "text": "time?"},
                    {"type": "text", "text": "and in Paris?"},
                ]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "t1", "name": "clock", "input": {"tz": "UTC"}},
                    {"type": "tool_use", "id": "t2", "name": "clock", "input": {}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "12:00"},
                    {"type": "tool_result", "tool_use_id": "t2"},
                    {"type": "text", "text": "thanks"},
                ]},
            ])
        );
    }

    #[test]
    fn an_assistant_message_that_only_calls_has_no_text_block() {
        let mut asks = msg(Role::Assistant, "");
        asks.tool_calls = vec![call("t1", "{}")];
        let b = body("m", &request(vec![msg(Role::User, "time?"), asks]));
        assert_eq!(
            b["messages"][1]["content"],
            json!([{"type": "tool_use", "id": "t1", "name": "clock", "input": {}}])
        );
    }

    #[test]
    fn arguments_that_are_not_an_object_are_kept_raw() {
        assert_eq!(tool_input(r#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(tool_input("  "), json!({}));
        assert_eq!(tool_input("{not json"), json!({"_raw": "{not json"}));
        assert_eq!(tool_input("[1,2]"), json!({"_raw": "[1,2]"}));
    }
}

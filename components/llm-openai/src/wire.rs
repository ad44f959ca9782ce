//! The Chat Completions request: the agent's messages and tools in the
//! shape OpenAI, and the servers that copy its API, accept.

use llm_common as common;
use llm_common::bindings::claw::runtime::llm_types::{ChatRequest, Message, Role, ToolCall, ToolSpec};
use serde_json::{Value, json};

/// The endpoint under the provider's base URL (`…/v1`).
pub fn endpoint(base_url: &str) -> String {
    format!("{}/chat/completions", base_url.trim_end_matches('/'))
}

/// The JSON body for `request` sent to `model`.
pub fn body(model: &str, request: &ChatRequest) -> Value {
    let messages: Vec<Value> = request.messages.iter().map(message).collect();
    let mut body = json!({ "model": model, "messages": messages });
    // Some servers refuse an empty `tools` list: leave it out instead.
    if !request.tools.is_empty() {
        body["tools"] = request.tools.iter().map(tool).collect();
    }
    if let Some(max) = request.max_tokens {
        body["max_tokens"] = max.into();
    }
    if request.stream {
        // Usage comes in a last chunk only when asked for.
        body["stream"] = true.into();
        body["stream_options"] = json!({ "include_usage": true });
    }
    body
}

fn message(m: &Message) -> Value {
    match m.role {
        Role::System => json!({ "role": "system", "content": m.content }),
        Role::User => json!({ "role": "user", "content": m.content }),
        Role::Assistant if m.tool_calls.is_empty() => json!({ "role": "assistant", "content": m.content }),
        Role::Assistant => {
            // A message that only calls tools has null content: some
            // servers refuse an empty string next to tool calls.
            let content = if m.content.is_empty() { Value::Null } else { m.content.as_str().into() };
            let calls: Vec<Value> = m.tool_calls.iter().map(tool_call).collect();
            json!({ "role": "assistant", "content": content, "tool_calls": calls })
        }
        Role::Tool => json!({
            "role": "tool",
            "tool_call_id": m.tool_call_id.as_deref().unwrap_or_default(),
            "content": m.content,
        }),
    }
}

fn tool_call(c: &ToolCall) -> Value {
    // `arguments` is a string of JSON; a call without arguments may come
    // back from another provider as "", which some servers refuse.
    let arguments = if c.arguments_json.trim().is_empty() { "{}" } else { c.arguments_json.as_str() };
    json!({ "id": c.id, "type": "function", "function": { "name": c.name, "arguments": arguments } })
}

fn tool(t: &ToolSpec) -> Value {
    json!({
        "type": "function",
        "function": { "name": t.name, "description": t.description, "parameters": common::schema(&t.parameters_schema) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: Role, content: &str) -> Message {
        Message { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }

    fn request(messages: Vec<Message>, tools: Vec<ToolSpec>) -> ChatRequest {
        ChatRequest { messages, tools, providers: Vec::new(), model: None, max_tokens: None, stream: false }
    }

    #[test]
    fn the_endpoint_ignores_a_trailing_slash() {
        assert_eq!(endpoint("http://127.0.0.1:11434/v1/"), "http://127.0.0.1:11434/v1/chat/completions");
        assert_eq!(endpoint("https://api.openai.com/v1"), "https://api.openai.com/v1/chat/completions");
    }

    #[test]
    fn tools_and_max_tokens_only_when_set() {
        let b = body("m", &request(vec![msg(Role::System, "be brief"), msg(Role::User, "hi")], Vec::new()));
        assert_eq!(
            b,
            json!({"model": "m", "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi"},
            ]})
        );
        let spec = ToolSpec {
            name: "clock".into(),
            description: "The time.".into(),
            parameters_schema: r#"{"type":"object","properties":{"tz":{"type":"string"}}}"#.into(),
        };
        let mut r = request(vec![msg(Role::User, "time?")], vec![spec]);
        r.max_tokens = Some(100);
        let b = body("m", &r);
        assert_eq!(b["max_tokens"], 100);
        assert_eq!(
            b["tools"],
            json!([{"type": "function", "function": {
                "name": "clock",
                "description": "The time.",
                "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
            }}])
        );
    }

    #[test]
    fn tool_calls_and_results_round_trip() {
        let mut call = msg(Role::Assistant, "");
        call.tool_calls =
            vec![ToolCall { id: "call_1".into(), name: "clock".into(), arguments_json: r#"{"tz":"UTC"}"#.into() }];
        let mut result = msg(Role::Tool, r#"{"now":"12:00"}"#);
        result.tool_call_id = Some("call_1".into());
        let b = body("m", &request(vec![msg(Role::User, "time?"), call, result], Vec::new()));
        assert_eq!(
            b["messages"][1],
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "clock", "arguments": "{\"tz\":\"UTC\"}"}},
            ]})
        );
        assert_eq!(
            b["messages"][2],
            json!({"role": "tool", "tool_call_id": "call_1", "content": "{\"now\":\"12:00\"}"})
        );
    }
}

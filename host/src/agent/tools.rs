//! The tools the LLM may call, and running its calls: every call is a
//! sandboxed component; calls from one reply run in parallel; anything
//! wrong with a call becomes a clear error the LLM reads as the result.

use super::untrusted;
use crate::llm::{ToolCall, ToolSpec};
use crate::runtime::{CallError, Runtime};

/// The most of one tool output the LLM reads: enough for a page of text,
/// small enough that one call cannot crowd everything else out of the
/// context. The whole output is still the tool's result; the LLM is told
/// it was cut.
pub const MAX_RESULT_BYTES: usize = 64 << 10;

/// The most of a tool's description the LLM reads.
const MAX_DESCRIPTION_BYTES: usize = 1024;

/// The largest parameters schema passed on as it is.
const MAX_SCHEMA_BYTES: usize = 16 << 10;

/// Every tool the turn may use (`allowed`; `None`: all) as the LLM sees
/// it: the loaded tool components, then the MCP servers' tools. A
/// description and a schema are their author's text: sanitised like other
/// outside content.
pub(super) async fn specs(runtime: &Runtime, allowed: Option<&[String]>) -> Vec<ToolSpec> {
    let mut specs: Vec<ToolSpec> = runtime
        .tools()
        .iter()
        .filter(|t| may_use(allowed, &t.record.name))
        .map(|t| spec(&t.record.name, &t.record.description, &t.record.schema))
        .collect();
    if runtime.mcp().any() {
        let mcp = runtime.mcp().tools().await;
        specs
            .extend(mcp.iter().filter(|t| may_use(allowed, &t.name)).map(|t| spec(&t.name, &t.description, &t.schema)));
    }
    specs
}

fn spec(name: &str, description: &str, schema: &str) -> ToolSpec {
    let schema = untrusted::strip_tokens(schema);
    let schema = if schema.len() > MAX_SCHEMA_BYTES || serde_json::from_str::<serde_json::Value>(&schema).is_err() {
        r#"{"type":"object"}"#.to_string()
    } else {
        schema
    };
    ToolSpec {
        name: name.to_string(),
        description: untrusted::sanitize_meta(description, MAX_DESCRIPTION_BYTES),
        parameters_schema: schema,
    }
}

fn may_use(allowed: Option<&[String]>, name: &str) -> bool {
    allowed.is_none_or(|names| names.iter().any(|n| n == name))
}

/// Run `calls` in parallel, results in the calls' order; `finished`
/// hears of each as it ends. `tainted_by` names the untrusted content
/// already in the turn (the data-flow policy guards sinks then).
pub(super) async fn run_all(
    runtime: &Runtime,
    calls: &[ToolCall],
    allowed: Option<&[String]>,
    tainted_by: Option<&str>,
    finished: &(dyn Fn(&ToolCall, &str) + Sync),
) -> Vec<String> {
    futures::future::join_all(calls.iter().map(|c| async move {
        let result = run(runtime, c, allowed, tainted_by).await;
        finished(c, &result);
        result
    }))
    .await
}

/// One call's result as the LLM will read it. The runtime checks the name
/// and that the arguments are a JSON object; its errors become text the
/// LLM can act on. A tool outside the turn's set is not run.
async fn run(runtime: &Runtime, call: &ToolCall, allowed: Option<&[String]>, tainted_by: Option<&str>) -> String {
    if !may_use(allowed, &call.name) {
        let names = allowed.unwrap_or_default().join(", ");
        return format!(
            "error: the tool `{}` is not available in this run; the tools are: {}. Call one of those, or answer without a tool.",
            call.name,
            if names.is_empty() { "(none)" } else { &names }
        );
    }
    let args = if call.arguments_json.trim().is_empty() { "{}" } else { call.arguments_json.as_str() };
    if runtime.named(&call.name).is_none()
        && let Some((server, _)) = crate::mcp::result::split(&call.name)
        && runtime.mcp().any()
    {
        // An unknown tool is the call's own error, below.
        let listed = runtime.mcp().server_tools(server).await.ok();
        if let Some(tool) = listed.and_then(|(tools, _)| tools.into_iter().find(|t| t.name == call.name))
            && let Err(e) = runtime.approved_mcp(&tool, args, tainted_by).await
        {
            return format!("error: {e}");
        }
        // Every MCP result is outside content, its error text included.
        return match runtime.mcp().call(&call.name, args).await {
            Ok((text, false)) => {
                untrusted::wrap(&format!("MCP server {server} tool {}", call.name), &cut(&text, MAX_RESULT_BYTES))
            }
            Ok((text, true)) => format!(
                "error: {}",
                untrusted::wrap(
                    &format!("MCP server {server} tool {} error", call.name),
                    &cut(&text, MAX_RESULT_BYTES)
                )
            ),
            Err(e) => format!("error: {}", untrusted::wrap(&format!("MCP server {server}"), &e.to_string())),
        };
    }
    if let Err(e) = runtime.approved(&call.name, args, tainted_by).await {
        return format!("error: {e}");
    }
    match runtime.call_as(&call.name, args, None, 0, tainted_by).await {
        Ok(output) => untrusted::wrap(&format!("tool {}", call.name), &cut(&output, MAX_RESULT_BYTES)),
        Err(CallError::NotFound { .. } | CallError::NotATool { .. }) => {
            let names: Vec<String> = runtime.tools().iter().map(|t| t.record.name.clone()).collect();
            format!(
                "error: there is no tool named `{}`. The tools are: {}. Call one of those, or answer without a tool.",
                call.name,
                if names.is_empty() { "(none)".to_string() } else { names.join(", ") }
            )
        }
        Err(e @ CallError::BadParams { .. }) => {
            format!("error: {e}; call it again with a JSON object matching its parameters schema.")
        }
        // A tool's own error message, or what it printed before it
        // trapped, is the tool's text: wrap it too.
        Err(e @ (CallError::Tool { .. } | CallError::Trap { .. })) => {
            format!("error: {}", untrusted::wrap(&format!("tool {} error", call.name), &e.to_string()))
        }
        Err(e) => format!("error: {e}"),
    }
}

/// `text` cut to at most `max` bytes (at a character boundary), with a
/// note saying how much there was.
fn cut(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[claw: output cut at {end} of {} bytes]", &text[..end], text.len()).into()
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn long_outputs_are_cut_at_a_character_boundary_and_say_so() {
        assert_eq!(cut("short", 10), "short");
        let long = "é".repeat(10); // 20 bytes
        let c = cut(&long, 5);
        assert!(c.starts_with("éé\n[claw: output cut at 4 of 20 bytes]"), "{c}");
    }
}

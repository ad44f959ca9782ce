//! `claw mcp conformance URL` (hidden): the client side of the official
//! MCP conformance suite (`@modelcontextprotocol/conformance client
//! --command "claw mcp conformance"`). It takes the product's own path — the
//! server is configured as `claw mcp add --url` would, reached through the
//! boundary under the default grant, and each of its tools is called as
//! the agent would call it, with arguments made from the tool's schema.

use super::Printer;
use crate::home::Home;
use crate::mcp::{Mcp, Server, Servers, remote};
use crate::problem::Problem;
use anyhow::Result;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The name the suite's server is configured under.
const NAME: &str = "conformance";

pub(super) async fn run(url: &str, printer: &Printer) -> Result<()> {
    // The suite runs scenarios side by side: each run keeps its own home
    // inside the given one, so their configurations cannot mix.
    let base = Home::from_env()?;
    let home = Home::at(&base.data.join(format!("conformance-{}", std::process::id())));
    let mut server = Server::http(NAME, url);
    server.timeout_ms = 20_000;
    let mut servers = Servers::load(&home)?;
    let _ = servers.remove(NAME);
    servers.add(server.clone())?;
    remote::save(&home, NAME, &remote::default_grant(&server, None)?)?;
    servers.save(&home)?;

    let boundary = Arc::new(crate::boundary::Boundary::for_home(&home)?);
    let mcp = Mcp::for_this_binary(&home, boundary)?;
    let (tools, _) = mcp.server_tools(NAME).await.map_err(Problem::from)?;
    let mut failed = 0;
    for tool in &tools {
        let schema: Value = serde_json::from_str(&tool.schema).unwrap_or(Value::Null);
        let arguments = example(&schema).to_string();
        match mcp.call(&tool.name, &arguments).await {
            Ok((text, is_error)) => {
                printer.line(format!("{} {arguments}: {}{text}", tool.tool, if is_error { "error: " } else { "" }))
            }
            Err(e) => {
                failed += 1;
                printer.line(format!("{} {arguments}: failed: {e}", tool.tool));
            }
        }
    }
    if failed > 0 {
        return Err(Problem::new(format!("{failed} of {} tool calls failed", tools.len())).into());
    }
    Ok(())
}

/// Arguments a schema accepts: each property's default or first enum
/// value, else a plain value of its type.
fn example(schema: &Value) -> Value {
    if let Some(v) = schema.get("default").or_else(|| schema.get("enum").and_then(|e| e.get(0))) {
        return v.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") | None => {
            let mut out = Map::new();
            for (name, property) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
                out.insert(name.clone(), example(property));
            }
            Value::Object(out)
        }
        Some("integer") | Some("number") => json!(2),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("null") => Value::Null,
        _ => json!("conformance"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_follow_the_schema() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "number"}, "n": {"type": "integer", "default": 7},
            "s": {"type": "string"}, "e": {"type": "string", "enum": ["x", "y"]},
            "o": {"type": "object", "properties": {"b": {"type": "boolean"}}}
        }});
        assert_eq!(example(&schema), json!({"a": 2, "n": 7, "s": "conformance", "e": "x", "o": {"b": true}}));
        assert_eq!(example(&json!({"type": "object"})), json!({}));
    }
}

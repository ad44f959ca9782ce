//! Conformance: drives the workspace capability — read, write, append,
//! list, delete — and memory search, so the host's grant limits can be tested.

use claw_sdk::{Context, Error, Tool, export_tool, memory, schemars, serde, serde_json, workspace};

/// Parameters of `notes`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct Notes {
    /// read, write, append, list, delete or search (the query in `content`).
    op: String,
    /// The path (or prefix for list).
    path: String,
    /// Content for write and append.
    #[serde(default)]
    content: String,
}

impl Tool for Notes {
    const DESCRIPTION: &'static str = "Conformance: use the workspace.";
    type Output = serde_json::Value;

    fn execute(self, _ctx: &Context) -> Result<serde_json::Value, Error> {
        Ok(match self.op.as_str() {
            "read" => serde_json::json!(workspace::read(&self.path)?),
            "write" => {
                workspace::write(&self.path, &self.content)?;
                serde_json::json!("ok")
            }
            "append" => {
                workspace::append(&self.path, &self.content)?;
                serde_json::json!("ok")
            }
            "list" => serde_json::json!(workspace::list(&self.path)?.into_iter().map(|e| e.path).collect::<Vec<_>>()),
            "search" => serde_json::json!(
                memory::search(&self.content, 5)?
                    .into_iter()
                    .map(|h| serde_json::json!({"path": h.path, "score": h.score}))
                    .collect::<Vec<_>>()
            ),
            "delete" => {
                workspace::delete(&self.path)?;
                serde_json::json!("ok")
            }
            other => return Err(Error::invalid_params(format!("unknown op `{other}`"))),
        })
    }
}

export_tool!(Notes);

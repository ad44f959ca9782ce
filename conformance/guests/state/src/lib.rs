//! Conformance: drives the kv capability — get, set, delete, keys — so the
//! host's cap and the separation of components' states can be tested.

use claw_sdk::{Context, Error, Tool, export_tool, kv, schemars, serde, serde_json};

/// Parameters of `state`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct State {
    /// get, set, delete or keys (the prefix in `key`).
    op: String,
    /// The key (or prefix).
    key: String,
    /// The value for set.
    #[serde(default)]
    value: String,
}

impl Tool for State {
    const DESCRIPTION: &'static str = "Conformance: use the key-value state.";
    type Output = serde_json::Value;

    fn execute(self, _ctx: &Context) -> Result<serde_json::Value, Error> {
        Ok(match self.op.as_str() {
            "get" => serde_json::json!(kv::get(&self.key)?),
            "set" => {
                kv::set(&self.key, &self.value)?;
                serde_json::json!("ok")
            }
            "delete" => serde_json::json!(kv::delete(&self.key)?),
            "keys" => serde_json::json!(kv::keys(&self.key)?),
            other => return Err(Error::invalid_params(format!("unknown op `{other}`"))),
        })
    }
}

export_tool!(State);

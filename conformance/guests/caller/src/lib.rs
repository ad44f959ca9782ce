//! A tool that calls another tool through the `invoke` capability, so the
//! host's grant check and call-depth cap can be tested.

use claw_sdk::{Context, Error, Tool, export_tool, invoke, schemars, serde, serde_json};

/// Parameters of `caller`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct Caller {
    /// The alias (from the grant) of the tool to call.
    alias: String,
    /// The parameters to pass on.
    params: serde_json::Value,
}

impl Tool for Caller {
    const DESCRIPTION: &'static str = "Conformance: call another tool by alias.";
    type Output = serde_json::Value;

    fn execute(self, ctx: &Context) -> Result<serde_json::Value, Error> {
        let out: serde_json::Value = invoke::call(&self.alias, &self.params)?;
        Ok(serde_json::json!({ "depth": ctx.depth, "inner": out }))
    }
}

export_tool!(Caller);

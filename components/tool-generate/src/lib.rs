//! `tool-generate`: the agent's way to ask for a tool it lacks. The host
//! queues the request as a job; what it makes waits for the operator.

use claw_sdk::{Context, Error, Tool, export_tool, schemars, serde};

/// Ask for a new tool.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct ToolGenerate {
    /// The new tool's name: lowercase letters, digits and `-`.
    name: String,
    /// What the tool should do, its inputs and its output, in plain words;
    /// name any web service it must call.
    description: String,
}

impl Tool for ToolGenerate {
    const DESCRIPTION: &'static str = "Ask for a new tool when none of the tools can do what is needed: claw writes, builds and checks it, and the operator approves it before it can be used (not in this turn).";
    type Output = String;

    fn execute(self, _ctx: &Context) -> Result<String, Error> {
        claw_sdk::toolgen::request(&self.name, &self.description)
    }
}

export_tool!(ToolGenerate);

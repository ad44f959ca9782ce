//! `echo`: returns its input. The smallest useful tool, and the one the
//! benchmarks call.

use claw_sdk::{Context, Error, Tool, export_tool, schemars, serde};

/// Parameters of `echo`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct Echo {
    /// The text to send back unchanged.
    text: String,
}

impl Tool for Echo {
    const DESCRIPTION: &'static str = "Return the given text unchanged.";
    type Output = String;

    fn execute(self, _ctx: &Context) -> Result<String, Error> {
        Ok(self.text)
    }
}

export_tool!(Echo);

// Shared body of versioned-1 and versioned-2 (each defines VERSION).

use claw_sdk::{Context, Error, Tool, export_tool, schemars, serde};

/// Parameters of `versioned`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct Versioned {
    /// How long to sleep before answering, in milliseconds.
    #[serde(default)]
    sleep_ms: u64,
}

/// What it returns.
#[derive(serde::Serialize)]
#[serde(crate = "claw_sdk::serde")]
struct Out {
    version: u32,
}

impl Tool for Versioned {
    const DESCRIPTION: &'static str = "Conformance: sleep, then report the build's version.";
    type Output = Out;

    fn execute(self, _ctx: &Context) -> Result<Out, Error> {
        std::thread::sleep(std::time::Duration::from_millis(self.sleep_ms));
        Ok(Out { version: VERSION })
    }
}

export_tool!(Versioned);

//! The agent's way to a new tool: a `tool.generate` job, queued by the
//! `claw:runtime/toolgen` capability and run by `claw run`'s pool. It
//! ends where `claw tool generate` ends — a tool waiting for the
//! operator's approval; the agent never installs what it asked for.

use super::{Builder, Generator, generate::DEFAULT_ROUNDS};
use crate::jobs::NewJob;
use crate::runtime::Runtime;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::time::Duration;

/// The job kind.
pub const TOOL_GENERATE: &str = "tool.generate";

/// The longest description the agent may send.
pub const MAX_DESCRIPTION: usize = 4 << 10;

/// What a `tool.generate` job carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The tool's name.
    pub name: String,
    /// What it should do.
    pub description: String,
    /// Who asked (`tool:NAME`, the component that queued it).
    pub asked_by: String,
}

impl Request {
    /// Check a request as data: a valid name, a description within bounds.
    ///
    /// # Errors
    ///
    /// What is wrong, for the caller to fix.
    pub fn check(&self) -> Result<(), String> {
        if !crate::grant::valid_name(&self.name) {
            return Err(format!("`{}` is not a valid tool name (letters, digits, `-`, `_`)", self.name));
        }
        if self.description.trim().is_empty() {
            return Err("the description is empty: say what the tool should do".into());
        }
        if self.description.len() > MAX_DESCRIPTION {
            return Err(format!("the description is over {} KiB", MAX_DESCRIPTION >> 10));
        }
        Ok(())
    }

    /// The job: one attempt (a retry would only spend the LLM again), and
    /// the same request twice is one job.
    pub fn job(&self) -> NewJob {
        let digest = hex::encode(sha2::Sha256::digest(self.description.as_bytes()));
        let mut job = NewJob::new(TOOL_GENERATE, &serde_json::json!(self));
        job.idempotency_key = Some(format!("toolgen:{}:{}", self.name, &digest[..16]));
        job
    }
}

/// Run a generation job: the tool is kept for approval; the result says so.
///
/// # Errors
///
/// When the payload does not parse or no round passed.
pub async fn run(runtime: &Runtime, payload: &str) -> Result<String, String> {
    let request: Request =
        serde_json::from_str(payload).map_err(|e| format!("a tool.generate payload this claw cannot read: {e}"))?;
    request.check()?;
    let home = runtime.home();
    let sdk = super::sdk::locate(home).map_err(|e| format!("{e:#}"))?;
    let builder = Builder { sdk: sdk.sdk, target_dir: home.toolgen_target(), timeout: Duration::from_secs(600) };
    let generator = Generator { runtime, builder, rounds: DEFAULT_ROUNDS };
    let name = &request.name;
    let progress = |event: super::Event| tracing::info!(target: "claw::toolgen", tool = %name, "{event:?}");
    let waiting = generator
        .generate(name, &request.description, &request.asked_by, &progress)
        .await
        .map_err(|e| e.to_string())?;
    let r = &waiting.review;
    let rule = format!("{name} {} in {} round(s), waiting for approval; asked by {}", r.digest, r.rounds, r.asked_by);
    runtime.boundary().note(super::approve::AUDIT_NAME, "generate", &rule).await;
    Ok(format!(
        "{name} is written, built and checked; it waits for the operator: `claw tool approve {name}` installs it{}",
        if r.unjustified.is_empty() {
            String::new()
        } else {
            format!(" (it asks for {} thing(s) the request did not call for)", r.unjustified.len())
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_checked_and_the_same_one_twice_is_one_job() {
        let r = Request { name: "shout".into(), description: "capitals".into(), asked_by: "tool:tool-generate".into() };
        assert!(r.check().is_ok());
        assert_eq!(r.job().idempotency_key, r.job().idempotency_key);
        let other = Request { description: "lowercase".into(), ..r.clone() };
        assert_ne!(r.job().idempotency_key, other.job().idempotency_key);
        assert!(Request { name: "a b".into(), ..r.clone() }.check().unwrap_err().contains("not a valid tool name"));
        assert!(Request { description: " ".into(), ..r.clone() }.check().unwrap_err().contains("empty"));
        let long = "x".repeat(MAX_DESCRIPTION + 1);
        assert!(Request { description: long, ..r }.check().unwrap_err().contains("KiB"));
    }
}

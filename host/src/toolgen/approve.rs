//! Approving a waiting tool: its bytes checked against the digest the
//! operator reviewed, then the same add as `claw component add` under the
//! grant it asked for, and the approval audited.

use super::pending;
use crate::components::{Digest, Record};
use crate::problem::Problem;
use crate::runtime::Runtime;

/// Where the audit log names generation, approval and rejection.
pub const AUDIT_NAME: &str = "host:toolgen";

/// Install the waiting tool `name` (the operator has approved it).
///
/// # Errors
///
/// When none waits under that name, its files changed since the review,
/// or the add fails (then it stays waiting and nothing is installed).
pub async fn install(runtime: &Runtime, name: &str) -> anyhow::Result<Record> {
    let home = runtime.home();
    let waiting = pending::get(home, name)?;
    let wasm = waiting.wasm()?;
    if Digest::of(&wasm).to_string() != waiting.review.digest {
        return Err(Problem::new(format!("{} changed since it was reviewed: not installed", waiting.dir.display()))
            .hint(format!("`claw tool reject {name}` and generate it again"))
            .into());
    }
    let source = format!("{}/grant.toml", waiting.dir.display());
    let prepared = runtime.prepare(name, &source, wasm, waiting.grant()?, source.clone(), || {}).await?;
    let record = runtime.commit(prepared, false)?;
    pending::remove(home, name)?;
    let asked_by = &waiting.review.asked_by;
    runtime.boundary().note(AUDIT_NAME, "approve", &format!("{name} {} (asked by {asked_by})", record.digest)).await;
    Ok(record)
}

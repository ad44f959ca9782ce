//! `claw policy explain NAME`: a component's effective policy in plain words.

use super::Printer;
use crate::grant::{Injection, explain};
use crate::home::Home;
use crate::runtime::Runtime;
use anyhow::Result;

#[derive(Debug, clap::Subcommand)]
pub(super) enum PolicyCommand {
    /// Explain what a component may do, and warn about anything open or broken.
    Explain {
        /// The installed name.
        name: String,
    },
}

pub(super) fn run(cmd: PolicyCommand, printer: &Printer) -> Result<()> {
    let PolicyCommand::Explain { name } = cmd;
    let home = Home::from_env()?;
    let runtime = Runtime::open(&home)?;
    let index = runtime.store().index()?;
    let r = index.record(&name)?;
    let grant = runtime.effective_grant(&r.grant, &r.grant_source)?;
    let mut lines = explain(&grant, &r.imports);
    if let Some(hold) = runtime.boundary().quarantine().get(&name) {
        lines.insert(
            0,
            format!(
                "state: QUARANTINED since {} — a request tripped the leak scan ({}); every call is refused until `claw component release {name}`",
                super::secret::when(Some(hold.since_ms)),
                hold.reason
            ),
        );
    }
    // A grant naming a secret the vault lacks fails every call that needs it: say so now.
    let secrets = runtime.boundary().secrets();
    if let Some(reason) = secrets.locked_reason() {
        lines.push(format!("warning: the vault cannot be opened ({reason}): every outbound request is refused"));
    }
    for s in &grant.secrets {
        if !matches!(s.inject, Injection::None) && !secrets.contains(&s.name) && secrets.locked_reason().is_none() {
            lines.push(format!(
                "warning: secret `{}` is granted but not in the vault: set it with `claw secret set {}`",
                s.name, s.name
            ));
        }
    }
    if printer.json {
        printer.value(&serde_json::json!({ "name": name, "grant_source": r.grant_source, "policy": lines }));
        return Ok(());
    }
    printer.line(format!("{name} ({}, grant {}):", r.digest.short(), r.grant_source));
    for l in lines {
        printer.line(format!("  {l}"));
    }
    Ok(())
}

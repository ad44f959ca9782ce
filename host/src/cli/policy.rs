//! `claw policy explain NAME`: a component's effective policy in plain words.

use super::Printer;
use crate::grant::{Injection, explain};
use crate::home::Home;
use crate::mcp::{Servers, remote};
use crate::problem::Problem;
use crate::runtime::Runtime;
use anyhow::Result;

#[derive(Debug, clap::Subcommand)]
pub(super) enum PolicyCommand {
    /// Explain what a component may do, and warn about anything open or broken.
    Explain {
        /// The installed name, or mcp:NAME for an MCP server.
        name: String,
    },
}

pub(super) fn run(cmd: PolicyCommand, printer: &Printer) -> Result<()> {
    let PolicyCommand::Explain { name } = cmd;
    let home = Home::from_env()?;
    if let Some(server) = name.strip_prefix("mcp:") {
        return explain_mcp(&home, server, printer);
    }
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
    if grant.sinks().iter().any(|s| !s.untrusted_ok)
        && crate::config::Config::load(&home)?.agent.untrusted_sinks == crate::config::UntrustedSinks::Allow
    {
        lines.push(
            "warning: config.toml says [agent] untrusted_sinks = \"allow\": the data-flow policy is off, and content from outside may drive these sinks without a person".into(),
        );
    }
    // A secret also handed to a stdio MCP server leaves the boundary there.
    let servers = Servers::load(&home).unwrap_or_default();
    for s in &grant.secrets {
        for (server, var) in servers.given(&s.name) {
            lines.push(format!(
                "warning: secret `{}` also leaves the boundary: MCP server `{server}`, a native process, is given it as {var}",
                s.name
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

/// `claw policy explain mcp:NAME`: what an MCP server may reach, and
/// where a vault secret leaves the boundary for it.
fn explain_mcp(home: &Home, name: &str, printer: &Printer) -> Result<()> {
    let servers = Servers::load(home)?;
    let server = servers.get(name).ok_or_else(|| {
        Problem::new(format!("no MCP server named `{name}` is configured"))
            .hint("`claw mcp list` shows the configured servers")
    })?;
    let mut lines = Vec::new();
    if let Some(url) = &server.url {
        lines.push(format!("a Streamable HTTP server at {url}, reached only through the egress boundary"));
        let grant = remote::load(home, server).map_err(Problem::from)?;
        lines.extend(remote::describe(&grant));
    } else {
        let command = shlex::try_join(server.command.iter().map(String::as_str)).unwrap_or_default();
        lines.push(format!("a local program outside the WASM sandbox, run in claw's jail: {command}"));
        let plain: Vec<String> = server.env.iter().filter(|v| v.secret.is_none()).map(ToString::to_string).collect();
        lines.push(format!(
            "environment: PATH, HOME, TMPDIR{}",
            if plain.is_empty() { String::new() } else { format!(", {}", plain.join(" ")) }
        ));
        for (var, secret) in server.secrets() {
            lines.push(format!(
                "secret `{secret}`: leaves the boundary here — the server reads it as {var}, and the boundary cannot see what it does with it"
            ));
        }
        lines.push(if server.network {
            "network: open — its connections do not pass the boundary".into()
        } else {
            "network: none (an empty network namespace)".into()
        });
        let paths = |v: &[std::path::PathBuf]| {
            if v.is_empty() {
                "nothing".to_string()
            } else {
                v.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            }
        };
        lines.push(format!(
            "files: system directories read-only; writes {}; reads {}",
            paths(&server.dirs),
            paths(&server.read)
        ));
        lines.push(format!("limits: {} MiB address space, {} ms per call", server.memory_mb, server.timeout_ms));
    }
    if printer.json {
        printer.value(&serde_json::json!({ "name": format!("mcp:{name}"), "policy": lines }));
        return Ok(());
    }
    printer.line(format!("mcp:{name}:"));
    for l in lines {
        printer.line(format!("  {l}"));
    }
    Ok(())
}

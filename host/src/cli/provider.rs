//! `claw provider add|list|rm`: the LLM providers, in failover order.
//!
//! Adding one grants the router that provider's scheme, host and port, and
//! its credential for that host only; a running `claw run` reloads the
//! router with the new grant.

use super::Printer;
use crate::boundary::Secrets;
use crate::components::World;
use crate::home::Home;
use crate::llm::providers::DEFAULT_TIMEOUT_MS;
use crate::llm::{Kind, Provider, Providers};
use anyhow::Result;

#[derive(Debug, clap::Subcommand)]
pub(super) enum ProviderCommand {
    /// Add a provider (last in the failover order).
    Add {
        /// A name for it, e.g. `openai` or `local`.
        name: String,
        /// Its wire format: openai (OpenAI, NEAR AI, OpenRouter, Together,
        /// vLLM, LM Studio, Ollama) or anthropic.
        #[arg(long)]
        kind: Kind,
        /// Its API base, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1.
        #[arg(long)]
        base_url: String,
        /// The model to ask for.
        #[arg(long)]
        model: String,
        /// The vault secret holding its API key (`claw secret set NAME`).
        #[arg(long)]
        credential: Option<String>,
        /// Give up on one attempt after this many milliseconds without a response.
        #[arg(long, default_value_t = DEFAULT_TIMEOUT_MS)]
        timeout_ms: u32,
    },
    /// List the providers in failover order.
    List,
    /// Remove a provider.
    Rm {
        /// Its name.
        name: String,
    },
}

pub(super) fn run(cmd: ProviderCommand, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let mut providers = Providers::load(&home)?;
    match cmd {
        ProviderCommand::Add { name, kind, base_url, model, credential, timeout_ms } => {
            let provider = Provider { name, kind, base_url, model, credential, timeout_ms };
            providers.add(provider.clone())?;
            providers.save(&home)?;
            if printer.json {
                printer.value(&serde_json::to_value(&provider)?);
            } else {
                printer.line(format!(
                    "added provider {} ({} at {}, model {}), #{} in failover order",
                    provider.name,
                    provider.kind.as_str(),
                    provider.base_url,
                    provider.model,
                    providers.list.len()
                ));
            }
            warn_about(&home, &provider, printer);
        }
        ProviderCommand::List => {
            if printer.json {
                printer.value(&serde_json::to_value(&providers.list)?);
            } else if providers.list.is_empty() {
                printer.note(format!("no provider configured; {}", crate::runtime::ADD_PROVIDER));
            } else {
                printer.line(format!(
                    "{:<3} {:<14} {:<10} {:<22} {:<36} CREDENTIAL",
                    "#", "NAME", "KIND", "MODEL", "BASE URL"
                ));
                for (i, p) in providers.list.iter().enumerate() {
                    printer.line(format!(
                        "{:<3} {:<14} {:<10} {:<22} {:<36} {}",
                        i + 1,
                        p.name,
                        p.kind.as_str(),
                        p.model,
                        p.base_url,
                        p.credential.as_deref().unwrap_or("-")
                    ));
                }
            }
        }
        ProviderCommand::Rm { name } => {
            let removed = providers.remove(&name)?;
            providers.save(&home)?;
            printer.note(format!(
                "removed provider {}; the router may no longer reach {}",
                removed.name, removed.base_url
            ));
        }
    }
    Ok(())
}

/// Say now what would make the first request fail.
fn warn_about(home: &Home, provider: &Provider, printer: &Printer) {
    if let Some(c) = &provider.credential {
        let secrets = Secrets::load(home);
        if secrets.locked_reason().is_none() && !secrets.contains(c) {
            printer.note(format!("warning: secret `{c}` is not in the vault yet: set it with `claw secret set {c}`"));
        }
    }
    if provider.base_url.starts_with("http://") && !provider.is_local() {
        printer.note(format!(
            "warning: {} is plain http: the request and its injected key are readable on the way",
            provider.base_url
        ));
    }
    let installed = crate::components::ComponentStore::new(&home.components())
        .index()
        .map(|i| i.components.values().any(|r| r.world == World::Llm))
        .unwrap_or(false);
    if !installed {
        printer.note("note: no LLM router is installed yet; `bash scripts/dev run` installs it");
    }
}

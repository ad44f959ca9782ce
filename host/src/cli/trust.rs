//! `claw trust add|list|rm`: whose signatures the operator accepts, and
//! for which repositories (`trust.toml` in the home).

use super::Printer;
use crate::home::Home;
use crate::problem::Problem;
use anyhow::Result;
use clap::Subcommand;
use claw_registry::{PublicKey, TrustStore};
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub(super) enum TrustCommand {
    /// Trust a public key (PEM, e.g. from `claw key export` or `cosign generate-key-pair`)
    /// to sign components of the repositories SCOPE names.
    Add {
        /// The public key file.
        key: PathBuf,
        /// Where it is trusted: HOST[:PORT]/NAMESPACE/* or HOST/NAMESPACE/NAME.
        #[arg(long = "for", value_name = "SCOPE")]
        scope: String,
        /// Its name here (default: the file's stem).
        #[arg(long)]
        name: Option<String>,
    },
    /// List the trusted keys and their scopes.
    List,
    /// Stop trusting a key (by name or fingerprint), everywhere or for one scope.
    Rm {
        /// The key's name or fingerprint.
        key: String,
        /// Only for this scope.
        #[arg(long = "for", value_name = "SCOPE")]
        scope: Option<String>,
    },
}

/// The trust store's place in the home.
pub(super) fn store_path(home: &Home) -> PathBuf {
    home.config.join("trust.toml")
}

pub(super) fn load(home: &Home) -> Result<TrustStore> {
    TrustStore::load(&store_path(home)).map_err(super::registry::problem)
}

fn read_key(path: &Path) -> Result<PublicKey> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Problem::new(format!("cannot read {shown}: {e}")).hint("give the PEM public key file the publisher handed out")
    })?;
    PublicKey::from_pem(&text).map_err(|e| {
        super::registry::problem(claw_registry::Error { message: format!("{shown}: {}", e.message), hint: e.hint })
    })
}

pub(super) fn run(cmd: TrustCommand, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let path = store_path(&home);
    let mut store = load(&home)?;
    match cmd {
        TrustCommand::Add { key, scope, name } => {
            let public = read_key(&key)?;
            let name = name.unwrap_or_else(|| {
                key.file_stem().map_or_else(|| "key".to_string(), |s| s.to_string_lossy().to_string())
            });
            let changed = store.add(&name, &public, &scope).map_err(super::registry::problem)?;
            if changed {
                store.save(&path).map_err(super::registry::problem)?;
            }
            if printer.json {
                printer.value(&serde_json::json!({
                    "name": name, "fingerprint": public.fingerprint(), "scope": scope, "changed": changed,
                }));
            } else if changed {
                printer.line(format!("trusting `{name}` ({}) to sign {scope}", public.fingerprint()));
            } else {
                printer.line(format!("`{name}` was already trusted for {scope}"));
            }
        }
        TrustCommand::List => {
            if printer.json {
                printer.value(&serde_json::to_value(&store.keys)?);
            } else if store.keys.is_empty() {
                printer.note("no trusted keys: `claw trust add KEY.pub --for HOST/NAMESPACE/*` adds one");
            } else {
                for k in &store.keys {
                    printer.line(format!("{}  {}  {}", k.name, k.fingerprint, k.scopes.join(", ")));
                }
            }
        }
        TrustCommand::Rm { key, scope } => {
            if !store.remove(&key, scope.as_deref()) {
                return Err(Problem::new(format!(
                    "no trusted key `{key}`{}",
                    scope.as_ref().map_or(String::new(), |s| format!(" for {s}"))
                ))
                .hint("`claw trust list` shows the names, fingerprints and scopes")
                .into());
            }
            store.save(&path).map_err(super::registry::problem)?;
            if printer.json {
                printer.value(&serde_json::json!({"removed": key, "scope": scope}));
            } else {
                printer.line(format!(
                    "no longer trusting `{key}`{}",
                    scope.as_ref().map_or(String::new(), |s| format!(" for {s}"))
                ));
            }
        }
    }
    Ok(())
}

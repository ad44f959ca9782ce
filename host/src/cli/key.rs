//! `claw key generate|list|export`: the operator's signing keys. The
//! private half lives in the vault (as `signing-key-NAME`, which no grant
//! may name); only the public half is ever printed.

use super::Printer;
use crate::grant::{SIGNING_KEY_PREFIX, valid_name};
use crate::home::Home;
use crate::problem::Problem;
use crate::vault::Vault;
use anyhow::Result;
use clap::Subcommand;
use claw_registry::SigningKey;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub(super) enum KeyCommand {
    /// Make an ECDSA P-256 signing key (cosign's kind); print its public key.
    Generate {
        /// Its name (letters, digits, `-`, `_`).
        name: String,
        /// Also write the public key (PEM) to this file, to hand to those who install.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the signing keys and their fingerprints.
    List,
    /// Print a signing key's public key (PEM), for `claw trust add` or `cosign verify --key`.
    Export {
        /// The key's name.
        name: String,
    },
}

/// The vault's name for the signing key `name`.
fn vault_name(name: &str) -> String {
    format!("{SIGNING_KEY_PREFIX}{name}")
}

/// The signing key `name` from the vault.
pub(super) fn signing_key(home: &Home, name: &str) -> Result<SigningKey> {
    let vault = Vault::open(home, false)?;
    if !vault.contains(&vault_name(name)) {
        return Err(Problem::new(format!("there is no signing key named `{name}`"))
            .hint(format!("make one with `claw key generate {name}`; `claw key list` shows those there are"))
            .into());
    }
    let pkcs8 = vault.get(&vault_name(name))?;
    Ok(SigningKey::from_pkcs8(&pkcs8).map_err(|e| Problem::new(format!("signing key `{name}`: {}", e.message)))?)
}

pub(super) fn run(cmd: KeyCommand, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    match cmd {
        KeyCommand::Generate { name, out } => {
            if !valid_name(&name) || vault_name(&name).len() > 64 {
                return Err(Problem::new(format!("`{name}` is not a valid key name"))
                    .hint("use up to 52 letters, digits, `-` and `_`")
                    .into());
            }
            let mut vault = Vault::open(&home, true)?;
            if vault.contains(&vault_name(&name)) {
                return Err(Problem::new(format!("a signing key named `{name}` exists already"))
                    .hint("pick another name; a key others trust is not replaced in place")
                    .into());
            }
            let (key, pkcs8) = SigningKey::generate().map_err(|e| Problem::new(e.message))?;
            let public = key.public_key();
            if let Some(out) = &out {
                std::fs::write(out, public.to_pem()).map_err(|e| {
                    Problem::new(format!("cannot write {}: {e}", out.display())).hint("give --out a writable path")
                })?;
            }
            vault.set(&vault_name(&name), &pkcs8)?;
            if printer.json {
                printer.value(&serde_json::json!({
                    "name": name, "fingerprint": public.fingerprint(), "public_key": public.to_pem(),
                }));
            } else {
                printer.note(format!(
                    "made signing key `{name}` ({}); its private half is in the vault",
                    public.fingerprint()
                ));
                printer.note(format!(
                    "those who install what you sign run: claw trust add {} --for \"HOST/NAMESPACE/*\"",
                    out.as_ref().map_or_else(|| format!("{name}.pub"), |o| o.display().to_string())
                ));
                printer.line(public.to_pem().trim_end());
            }
        }
        KeyCommand::List => {
            let vault = Vault::open(&home, false)?;
            let mut keys = Vec::new();
            for (secret, _) in vault.list() {
                let Some(name) = secret.strip_prefix(SIGNING_KEY_PREFIX) else { continue };
                let fingerprint = SigningKey::from_pkcs8(&vault.get(&secret)?)
                    .map(|k| k.public_key().fingerprint())
                    .unwrap_or_else(|e| format!("(unreadable: {})", e.message));
                keys.push((name.to_string(), fingerprint));
            }
            if printer.json {
                let v: Vec<_> = keys.iter().map(|(n, f)| serde_json::json!({"name": n, "fingerprint": f})).collect();
                printer.value(&serde_json::Value::Array(v));
            } else if keys.is_empty() {
                printer.note("no signing keys: make one with `claw key generate NAME`");
            } else {
                for (n, f) in keys {
                    printer.line(format!("{n}  {f}"));
                }
            }
        }
        KeyCommand::Export { name } => {
            let public = signing_key(&home, &name)?.public_key();
            if printer.json {
                printer
                    .value(&serde_json::json!({"name": name, "fingerprint": public.fingerprint(), "public_key": public.to_pem()}));
            } else {
                printer.line(public.to_pem().trim_end());
            }
        }
    }
    Ok(())
}

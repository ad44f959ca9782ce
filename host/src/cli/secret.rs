//! `claw secret set|list|rm|rotate-key`. Values come from stdin or a
//! hidden prompt, never from the command line, and are never printed.

use super::Printer;
use crate::boundary::audit::AuditLog;
use crate::components::ComponentStore;
use crate::grant::Grant;
use crate::home::Home;
use crate::problem::Problem;
use crate::vault::{KEY_ENV, MasterKey, Vault};
use anyhow::Result;
use clap::Subcommand;
use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Read as _};
use zeroize::Zeroizing;

#[derive(Debug, Subcommand)]
pub(super) enum SecretCommand {
    /// Store a secret; the value is read from stdin (or a hidden prompt).
    Set {
        /// The secret's name, as grants refer to it.
        name: String,
    },
    /// List secret names, the hosts they may go to, and when they were set and last used.
    List,
    /// Delete a secret.
    Rm {
        /// The secret's name.
        name: String,
    },
    /// Re-encrypt every secret under a new master key (atomically).
    RotateKey,
}

pub(super) fn run(cmd: SecretCommand, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    match cmd {
        SecretCommand::Set { name } => {
            let value = read_value(&name)?;
            let mut vault = Vault::open(&home, true)?;
            let existed = vault.contains(&name);
            vault.set(&name, &value)?;
            printer.note(format!(
                "{} secret `{name}` ({} bytes)",
                if existed { "updated" } else { "stored" },
                value.len()
            ));
            if let Some(why) = weak(&value) {
                printer.note(format!(
                    "warning: secret `{name}` is {why}: such a value can be guessed, and turns up in ordinary text, where the boundary would block it"
                ));
            }
            Ok(())
        }
        SecretCommand::List => list(&home, printer),
        SecretCommand::Rm { name } => {
            let mut vault = Vault::open(&home, false)?;
            if !vault.remove(&name)? {
                return Err(Problem::new(format!("the vault has no secret named `{name}`"))
                    .hint("`claw secret list` shows the names")
                    .into());
            }
            printer.note(format!("removed secret `{name}`"));
            Ok(())
        }
        SecretCommand::RotateKey => {
            let mut vault = Vault::open(&home, false)?;
            // The new key is the operator's when given; with the old one in
            // CLAW_MASTER_KEY it must be (claw cannot change that variable).
            let new_key = match std::env::var("CLAW_NEW_MASTER_KEY") {
                Ok(text) => {
                    let text = Zeroizing::new(text);
                    // Not the parse's own hint: unsetting this variable is no way out.
                    MasterKey::parse(&text, "CLAW_NEW_MASTER_KEY".into()).map_err(|p| {
                        p.hint("generate one with `head -c 64 /dev/urandom | base64 -w0`; nothing was changed")
                    })?
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(Problem::new("CLAW_NEW_MASTER_KEY is not text")
                        .hint("set it to 64 random bytes in base64; nothing was changed")
                        .into());
                }
                Err(std::env::VarError::NotPresent) if home.key_source().is_env() => {
                    return Err(Problem::new(format!(
                        "the master key comes from {KEY_ENV}, so claw cannot replace it by itself"
                    ))
                    .hint("set CLAW_NEW_MASTER_KEY to the new key (64 bytes, base64) for this command, then use it as CLAW_MASTER_KEY")
                    .into());
                }
                Err(std::env::VarError::NotPresent) => MasterKey::generate("new key file".into()),
            };
            let count = vault.list().len();
            vault.rotate(new_key)?;
            printer.note(format!("re-encrypted {count} secret(s) under a new master key"));
            Ok(())
        }
    }
}

/// Why a value is weak evidence of itself: short, or of few distinct
/// bytes. (The leak scan matches values of 8 bytes and more in every
/// encoding, shorter ones only as they are.)
fn weak(value: &[u8]) -> Option<String> {
    let distinct = value.iter().collect::<std::collections::BTreeSet<_>>().len();
    if value.len() < 12 {
        Some(format!("short ({} bytes)", value.len()))
    } else if distinct < 6 {
        Some(format!("of low entropy ({distinct} distinct bytes)"))
    } else {
        None
    }
}

fn read_value(name: &str) -> Result<Zeroizing<Vec<u8>>> {
    let stdin = std::io::stdin();
    let mut value = if stdin.is_terminal() {
        let v = rpassword::prompt_password(format!("value for `{name}` (hidden): "))?;
        Zeroizing::new(v.into_bytes())
    } else {
        let mut buf = Zeroizing::new(Vec::new());
        stdin.lock().read_to_end(&mut buf)?;
        buf
    };
    // One trailing newline is the shell's, not the secret's.
    if value.last() == Some(&b'\n') {
        value.pop();
        if value.last() == Some(&b'\r') {
            value.pop();
        }
    }
    Ok(value)
}

fn list(home: &Home, printer: &Printer) -> Result<()> {
    let vault = Vault::open(home, false);
    let vault = match vault {
        Ok(v) => v,
        Err(e) if !Vault::path_in(&home.data).exists() => {
            let _ = e;
            printer.note("the vault is empty; add a secret with `printf %s \"$TOKEN\" | claw secret set NAME`");
            if printer.json {
                printer.value(&serde_json::json!([]));
            }
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    // Where each secret may go, from the installed components' grants.
    let mut hosts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in ComponentStore::new(&home.components()).index()?.components.values() {
        if let Ok(g) = Grant::parse(&r.grant, &r.grant_source) {
            for s in g.secrets {
                let entry = hosts.entry(s.name).or_default();
                for o in s.origins {
                    entry.push(format!("{o} ({})", r.name));
                }
            }
        }
    }
    // When each was last injected, from the audit log.
    let mut used: BTreeMap<String, u64> = BTreeMap::new();
    for rec in AuditLog::new(&home.data.join("audit.jsonl")).read().unwrap_or_default() {
        for n in rec.secrets {
            used.insert(n, rec.time_ms);
        }
    }
    let rows: Vec<serde_json::Value> = vault
        .list()
        .into_iter()
        .map(|(name, info)| {
            serde_json::json!({
                "name": name,
                "hosts": hosts.get(&name).cloned().unwrap_or_default(),
                "created_ms": info.created_ms,
                "updated_ms": info.updated_ms,
                "used_ms": used.get(&name),
            })
        })
        .collect();
    if printer.json {
        printer.value(&serde_json::Value::Array(rows));
        return Ok(());
    }
    printer.line(format!("{:<24} {:<20} {:<20} HOSTS", "NAME", "UPDATED", "LAST USED"));
    for r in rows {
        let hosts: Vec<String> = serde_json::from_value(r["hosts"].clone()).unwrap_or_default();
        printer.line(format!(
            "{:<24} {:<20} {:<20} {}",
            r["name"].as_str().unwrap_or(""),
            when(r["updated_ms"].as_u64()),
            when(r["used_ms"].as_u64()),
            if hosts.is_empty() { "(no grant sends it anywhere)".to_string() } else { hosts.join(", ") }
        ));
    }
    Ok(())
}

/// `2026-11-25 14:02:11` (UTC), or `never`.
pub(super) fn when(ms: Option<u64>) -> String {
    let Some(ms) = ms else { return "never".into() };
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

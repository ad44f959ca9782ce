//! `claw scan [FILE|-]`: run the boundary's own leak detector over any
//! text. Prints each finding (secret or pattern name, byte offset — never
//! the value); exits 1 when something would be blocked.
//!
//! `claw scan --injection [FILE|-]`: run the agent's injection detector
//! instead, the one that flags external content before the LLM reads it;
//! exits 1 when something is flagged.

use super::Printer;
use crate::agent::injection;
use crate::boundary::Secrets;
use crate::home::Home;
use crate::vault::Vault;
use anyhow::{Context as _, Result};
use std::io::Read as _;
use std::path::PathBuf;

/// How much of a matched text a finding shows.
const EXCERPT_CHARS: usize = 120;

#[derive(Debug, clap::Args)]
pub(super) struct ScanArgs {
    /// The file to scan; `-` or nothing reads stdin.
    file: Option<PathBuf>,
    /// Look for prompt injection (text that tries to instruct the LLM)
    /// instead of secrets.
    #[arg(long)]
    injection: bool,
}

/// Scan, print, and say whether anything was found.
pub(super) fn run(args: ScanArgs, printer: &Printer) -> Result<bool> {
    let home = Home::from_env()?;
    let input = match args.file.as_ref().filter(|p| p.as_os_str() != "-") {
        Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        None => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf)?;
            buf
        }
    };
    if args.injection {
        return injection(&home, &input, printer);
    }
    let findings = secrets(&home)?.detector().scan_decoded(&input);
    if printer.json {
        printer.value(&serde_json::json!({ "bytes": input.len(), "findings": findings }));
    } else if findings.is_empty() {
        printer.note(format!("no secrets found in {} bytes", input.len()));
    } else {
        for f in &findings {
            printer.line(f.to_string());
        }
        printer.note(format!("{} finding(s): the boundary would block a request carrying this", findings.len()));
    }
    Ok(!findings.is_empty())
}

/// The vault's secrets, or none when there is no vault yet.
fn secrets(home: &Home) -> Result<Secrets> {
    Ok(if Vault::path_in(&home.data).exists() {
        Secrets::from_vault(&Vault::open(home, false)?)?
    } else {
        Secrets::empty()
    })
}

/// Scan for injection; each finding is shown with the text it matched
/// (vault values cut out of it: a file may hold both).
fn injection(home: &Home, input: &[u8], printer: &Printer) -> Result<bool> {
    let text = String::from_utf8_lossy(input);
    let findings = injection::scan(&text);
    let secrets = secrets(home)?;
    let cut = secrets.detector();
    let excerpt = |f: &injection::Finding| {
        let matched: String = text[f.offset..f.offset + f.len].chars().take(EXCERPT_CHARS).collect();
        cut.cut(&matched)
    };
    if printer.json {
        let list: Vec<_> = findings
            .iter()
            .map(|f| serde_json::json!({"rule": f.rule, "kind": f.kind, "offset": f.offset, "len": f.len, "text": excerpt(f)}))
            .collect();
        printer.value(&serde_json::json!({ "bytes": input.len(), "findings": list }));
    } else if findings.is_empty() {
        printer.note(format!("no injection found in {} bytes", input.len()));
    } else {
        for f in &findings {
            printer.line(format!("{f}: {:?}", excerpt(f)));
        }
        printer.note(format!(
            "{} finding(s): claw flags this text as instructions to the LLM when it arrives from outside",
            findings.len()
        ));
    }
    Ok(!findings.is_empty())
}

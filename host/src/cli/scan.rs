//! `claw scan [FILE|-]`: run the boundary's own leak detector over any
//! text. Prints each finding (secret or pattern name, byte offset — never
//! the value); exits 1 when something would be blocked.

use super::Printer;
use crate::boundary::Secrets;
use crate::home::Home;
use crate::vault::Vault;
use anyhow::{Context as _, Result};
use std::io::Read as _;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(super) struct ScanArgs {
    /// The file to scan; `-` or nothing reads stdin.
    file: Option<PathBuf>,
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
    let secrets = if Vault::path_in(&home.data).exists() {
        Secrets::from_vault(&Vault::open(&home, false)?)?
    } else {
        Secrets::empty()
    };
    let findings = secrets.detector().scan_decoded(&input);
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

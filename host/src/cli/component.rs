//! `claw component add|upgrade|publish|list|inspect|remove|release`
//! (from a registry: `registry.rs`).

use super::Printer;
use super::registry::{self, Pull, is_reference};
use crate::components::Record;
use crate::components::{Plug, World, compose, deny};
use crate::grant::{classify_import, explain};
use crate::home::Home;
use crate::problem::Problem;
use crate::runtime::Runtime;
use anyhow::Result;
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub(super) enum ComponentCommand {
    /// Validate, compile and install a component (a running claw picks it up).
    Add {
        /// The component file (.wasm), or a registry reference:
        /// oci://HOST/NS/NAME:VERSION, or NAME@VERSION through [registry] default.
        path: PathBuf,
        /// Its grant file (TOML). Without one, it may do nothing beyond the sandbox.
        #[arg(long)]
        grant: Option<PathBuf>,
        /// The name to install it under (default: the file name).
        #[arg(long)]
        name: Option<String>,
        /// Compose first: plug a component into this one's imports
        /// (`IMPORT=FILE`, or `FILE` to match exports to imports by name).
        /// Repeat for each, e.g. the LLM router's provider adapters.
        #[arg(long, value_name = "[IMPORT=]FILE")]
        plug: Vec<String>,
        /// Install even though its grant leaves out some of what it imports: claw's deny stubs
        /// fill those imports (composed in), and every call there fails with `denied`.
        #[arg(long)]
        deny_ungranted: bool,
        /// Refuse it (and each plug) unless its bytes are the first-party
        /// component's of that name in claw's catalogue (registry/catalogue.toml).
        #[arg(long)]
        first_party: bool,
        #[command(flatten)]
        pull: PullFlags,
    },
    /// Replace an installed component with a new build (calls in flight finish on the old one).
    Upgrade {
        /// The installed name.
        name: String,
        /// The new component file, or a registry reference (as for `add`).
        path: PathBuf,
        /// A new grant file (default: keep the current grant).
        #[arg(long)]
        grant: Option<PathBuf>,
        /// Compose first, as for `add`.
        #[arg(long, value_name = "[IMPORT=]FILE")]
        plug: Vec<String>,
        /// Install even though its grant leaves out some of what it imports: claw's deny stubs
        /// fill those imports (composed in), and every call there fails with `denied`.
        #[arg(long)]
        deny_ungranted: bool,
        #[command(flatten)]
        pull: PullFlags,
    },
    /// Push a component to an OCI registry (the CNCF Wasm layout), with its
    /// grant and description as annotations.
    Publish {
        /// The component file (.wasm).
        path: PathBuf,
        /// Where: oci://HOST/NS/NAME:VERSION, or NAME@VERSION through [registry] default.
        reference: String,
        /// The grant it ships (shown to whoever installs it).
        #[arg(long)]
        grant: Option<PathBuf>,
        /// Sign it with this key (`claw key generate`), in cosign's format.
        #[arg(long, value_name = "KEY")]
        sign: Option<String>,
    },
    /// List installed components.
    List,
    /// Show a component's world, imports, exports, digest and grant in plain words.
    Inspect {
        /// The installed name.
        name: String,
    },
    /// Uninstall a component.
    Remove {
        /// The installed name.
        name: String,
    },
    /// Let a quarantined component run again (after reading what it sent:
    /// `claw audit --component NAME`).
    Release {
        /// The installed name.
        name: String,
    },
}

/// For a component from a registry.
#[derive(Debug, clap::Args)]
pub(super) struct PullFlags {
    /// Install without asking (scripts): the capabilities are still printed.
    #[arg(long)]
    yes: bool,
    /// Refuse unless the lockfile already pins this reference to the digest it resolves to.
    #[arg(long)]
    locked: bool,
    /// Install even though no trusted key signed it: unsigned, or signed by a key not trusted for
    /// its repository (loud, and recorded in the audit log).
    #[arg(long)]
    allow_unsigned: bool,
}

impl PullFlags {
    fn pull<'a>(&self, source: &'a str, name: Option<String>, grant: Option<&'a Path>, upgrade: bool) -> Pull<'a> {
        Pull { source, name, grant, upgrade, yes: self.yes, locked: self.locked, allow_unsigned: self.allow_unsigned }
    }
}

pub(super) async fn run(cmd: ComponentCommand, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let runtime = Runtime::open(&home)?;
    match cmd {
        ComponentCommand::Add { path, grant, name, plug, deny_ungranted, pull, first_party }
            if is_reference(&path.to_string_lossy()) =>
        {
            if first_party {
                return Err(Problem::new(
                    "--first-party checks a file against the catalogue; a registry install is checked by its signature",
                )
                .hint("pass the .wasm file, or drop --first-party")
                .into());
            }
            no_plugs(&plug, deny_ungranted)?;
            let source = path.to_string_lossy().to_string();
            registry::install(&runtime, &home, printer, pull.pull(&source, name, grant.as_deref(), false)).await
        }
        ComponentCommand::Upgrade { name, path, grant, plug, deny_ungranted, pull }
            if is_reference(&path.to_string_lossy()) =>
        {
            no_plugs(&plug, deny_ungranted)?;
            let source = path.to_string_lossy().to_string();
            registry::install(&runtime, &home, printer, pull.pull(&source, Some(name), grant.as_deref(), true)).await
        }
        ComponentCommand::Publish { path, reference, grant, sign } => {
            registry::publish(&runtime, &home, printer, &path, &reference, grant.as_deref(), sign.as_deref()).await
        }
        ComponentCommand::Add { path, grant, name, plug, deny_ungranted, pull: _, first_party } => {
            let name = name.unwrap_or_else(|| default_name(&path));
            if first_party {
                first_party_check(&name, &path, &plug)?;
            }
            let (grant_text, grant_source) = read_grant(grant.as_deref())?;
            let how = How { plugs: &plug, deny_ungranted, upgrade: false };
            install(&runtime, printer, &name, &path, how, grant_text, grant_source).await
        }
        ComponentCommand::Upgrade { name, path, grant, plug, deny_ungranted, pull: _ } => {
            let (grant_text, grant_source) = match grant {
                Some(g) => read_grant(Some(&g))?,
                None => {
                    let index = runtime.store().index()?;
                    let current = index.record(&name)?;
                    (current.grant.clone(), current.grant_source.clone())
                }
            };
            let how = How { plugs: &plug, deny_ungranted, upgrade: true };
            install(&runtime, printer, &name, &path, how, grant_text, grant_source).await
        }
        ComponentCommand::List => {
            let index = runtime.store().index()?;
            if printer.json {
                let held = runtime.boundary().quarantine().list();
                let list: Vec<_> = index
                    .components
                    .values()
                    .map(|r| {
                        let mut v = summary(r);
                        v["quarantined"] = serde_json::json!(held.get(&r.name));
                        v
                    })
                    .collect();
                printer.value(&serde_json::Value::Array(list));
            } else if index.components.is_empty() {
                printer.note("no components installed; add one with `claw component add FILE.wasm`");
            } else {
                let held = runtime.boundary().quarantine().list();
                printer.line(format!(
                    "{:<20} {:<8} {:<14} {:>9}  {:<11} DESCRIPTION",
                    "NAME", "WORLD", "DIGEST", "SIZE", "STATE"
                ));
                for r in index.components.values() {
                    printer.line(format!(
                        "{:<20} {:<8} {:<14} {:>9}  {:<11} {}",
                        r.name,
                        format!("{:?}", r.world).to_lowercase(),
                        r.digest.short(),
                        format!("{} KiB", r.size.div_ceil(1024)),
                        if held.contains_key(&r.name) { "quarantined" } else { "ready" },
                        r.description
                    ));
                }
                for (name, hold) in &held {
                    printer.note(format!(
                        "{name} is quarantined since {}: {} — `claw component release {name}` lets it run again",
                        super::secret::when(Some(hold.since_ms)),
                        hold.reason
                    ));
                }
            }
            Ok(())
        }
        ComponentCommand::Inspect { name } => {
            let index = runtime.store().index()?;
            let r = index.record(&name)?;
            let grant = runtime.effective_grant(&r.grant, &r.grant_source)?;
            let policy = explain(&grant, &r.imports);
            let origin = registry::provenance(&home, r);
            if printer.json {
                let mut v = summary(r);
                if let Some(l) = &origin {
                    v["from"] = serde_json::json!({"reference": l.reference, "manifest": l.manifest.to_string(), "signer": l.signer});
                }
                v["imports"] = serde_json::json!(r.imports);
                v["stubbed"] = serde_json::json!(r.stubbed);
                v["schema"] = serde_json::from_str(&r.schema).unwrap_or(serde_json::Value::Null);
                v["grant_source"] = serde_json::json!(r.grant_source);
                v["policy"] = serde_json::json!(policy);
                printer.value(&v);
                return Ok(());
            }
            printer.line(format!("name:        {}", r.name));
            if let Some(l) = &origin {
                printer.line(format!("from:        {}@{}", l.reference, l.manifest));
                printer.line(format!("signer:      {}", l.signer));
            }
            printer.line(format!("world:       {}", r.world.wit_name()));
            printer.line(format!("digest:      {}", r.digest));
            printer.line(format!("size:        {} bytes", r.size));
            printer.line(format!("description: {}", r.description));
            printer.line(format!(
                "exports:     {}",
                match r.world {
                    World::Tool => "description, parameters-schema, execute",
                    World::Llm => "complete",
                    World::Channel => "receive, deliver, poll, wasi:http/incoming-handler",
                }
            ));
            printer.line("imports:");
            for i in &r.imports {
                printer.line(format!("  {i}  ({:?})", classify_import(i)));
            }
            if !r.stubbed.is_empty() {
                printer.line("stubbed (not granted; every call fails with `denied`):");
                for i in &r.stubbed {
                    printer.line(format!("  {i}"));
                }
            }
            if r.world == World::Tool {
                let schema: serde_json::Value = serde_json::from_str(&r.schema).unwrap_or_default();
                printer.line("parameters:");
                for l in serde_json::to_string_pretty(&schema).unwrap_or_default().lines() {
                    printer.line(format!("  {l}"));
                }
            }
            printer.line(format!("grant ({}):", r.grant_source));
            for l in policy {
                printer.line(format!("  {l}"));
            }
            Ok(())
        }
        ComponentCommand::Remove { name } => {
            let r = runtime.remove(&name)?;
            let _ = runtime.boundary().quarantine().release(&name);
            registry::forget(&home, printer, &name);
            printer.note(format!("removed {} ({})", r.name, r.digest.short()));
            Ok(())
        }
        ComponentCommand::Release { name } => {
            runtime.store().index()?.record(&name)?;
            let q = runtime.boundary().quarantine();
            let hold = q.get(&name);
            if !q.release(&name)? {
                printer.note(format!("{name} is not quarantined"));
                return Ok(());
            }
            let reason = hold.map(|h| h.reason).unwrap_or_default();
            printer.note(format!("released {name} (it was held for: {reason}); a running claw picks this up"));
            Ok(())
        }
    }
}

fn summary(r: &Record) -> serde_json::Value {
    serde_json::json!({
        "name": r.name,
        "world": r.world,
        "digest": r.digest,
        "size": r.size,
        "description": r.description,
        "updated_ms": r.updated_ms,
    })
}

/// `target/.../http_fetch.wasm` → `http-fetch`.
fn default_name(path: &Path) -> String {
    path.file_stem().and_then(|s| s.to_str()).unwrap_or("component").replace('_', "-")
}

fn no_plugs(plugs: &[String], deny_ungranted: bool) -> Result<()> {
    if plugs.is_empty() && !deny_ungranted {
        return Ok(());
    }
    let flag = if plugs.is_empty() { "--deny-ungranted" } else { "--plug" };
    Err(Problem::new(format!("{flag} composes local files; a component from a registry is installed as published"))
        .hint(format!("pull it, compose it with `claw component add FILE {flag} ...`, or publish the composition"))
        .into())
}

pub(super) fn read_grant(path: Option<&Path>) -> Result<(String, String)> {
    match path {
        None => Ok((String::new(), "(no grant file: sandbox only)".into())),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                Problem::new(format!("cannot read the grant file {}: {e}", p.display()))
                    .hint("pass an existing TOML file with --grant")
            })?;
            Ok((text, p.display().to_string()))
        }
    }
}

/// How a file is installed: composed with plugs, given deny stubs, new or an upgrade.
struct How<'a> {
    plugs: &'a [String],
    deny_ungranted: bool,
    upgrade: bool,
}

/// `--first-party`: the file is the catalogue's `name`, and every plug is
/// a first-party component, byte for byte.
fn first_party_check(name: &str, path: &Path, plugs: &[String]) -> Result<()> {
    let catalogue = claw_registry::Catalogue::builtin();
    let digest_of = |file: &Path| -> Result<String> {
        let bytes = std::fs::read(file).map_err(|e| Problem::new(format!("cannot read {}: {e}", file.display())))?;
        Ok(crate::components::Digest::of(&bytes).to_string())
    };
    let hint = "rebuild it from a claw checkout of this version with `bash scripts/dev components`, or add it without --first-party";
    catalogue
        .check(name, &digest_of(path)?)
        .map_err(|e| Problem::new(format!("{} was not installed: {e}", path.display())).hint(hint))?;
    for plug in plugs {
        let file = Path::new(plug.split_once('=').map_or(plug.as_str(), |(_, f)| f));
        let digest = digest_of(file)?;
        if catalogue.name_of(&digest).is_none() {
            return Err(Problem::new(format!(
                "{name} was not installed: the plug {} ({digest}) is not a first-party component",
                file.display()
            ))
            .hint(hint)
            .into());
        }
    }
    Ok(())
}

async fn install(
    runtime: &Runtime,
    printer: &Printer,
    name: &str,
    path: &Path,
    how: How<'_>,
    grant_text: String,
    grant_source: String,
) -> Result<()> {
    let upgrade = how.upgrade;
    let file = path.display().to_string();
    let mut bytes = std::fs::read(path).map_err(|e| {
        Problem::new(format!("cannot read {file}: {e}"))
            .hint("give the path of a .wasm component, e.g. target/wasm32-wasip2/release/NAME.wasm")
    })?;
    if !how.plugs.is_empty() {
        let plugs = how.plugs.iter().map(|p| Plug::from_arg(p)).collect::<Result<Vec<_>, _>>()?;
        let progress = printer.progress(format!("composing {name} with {} plug(s)", plugs.len()));
        let composed = compose(&bytes, &file, &plugs);
        progress.finish(if composed.is_ok() { "composed" } else { "stopped" });
        bytes = composed?;
    }
    let mut stubbed = Vec::new();
    if how.deny_ungranted {
        let grant = runtime.effective_grant(&grant_text, &grant_source)?;
        let s = deny::stub(std::mem::take(&mut bytes), &file, &grant)?;
        bytes = s.bytes;
        stubbed = s.imports;
        if stubbed.is_empty() {
            printer.note(format!("{name}: its grant covers every import; nothing to stub"));
        } else {
            printer.note(format!("{name}: deny stubs fill (every call fails with `denied`): {}", stubbed.join(", ")));
        }
    }
    let size = bytes.len();
    let mut progress = None;
    let prepared = runtime
        .prepare(name, &file, bytes, grant_text, grant_source, || {
            progress = Some(printer.progress(format!("compiling {name} ({} KiB)", size.div_ceil(1024))));
        })
        .await;
    if let Some(p) = progress {
        p.finish(if prepared.is_ok() { "compiled" } else { "stopped" });
    }
    let record = runtime.commit(prepared?.with_stubbed(stubbed), upgrade)?;
    if printer.json {
        printer.value(&summary(&record));
    } else {
        let verb = if upgrade { "upgraded" } else { "added" };
        printer.line(format!("{verb} {} ({}, {})", record.name, record.digest, record.description));
    }
    Ok(())
}

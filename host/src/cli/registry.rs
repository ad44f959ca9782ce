//! `claw component publish FILE REF`, and `claw component add|upgrade`
//! from a registry: pull, check every digest, show what the component
//! will be allowed to do (and, on upgrade, what changed), confirm, install
//! and record it in the lockfile.

use super::Printer;
use crate::components::registry::{Egress, MAX_COMPONENT};
use crate::config::Config;
use crate::grant::explain;
use crate::home::Home;
use crate::problem::Problem;
use crate::runtime::Runtime;
use anyhow::Result;
use claw_registry::artifact::Facts;
use claw_registry::trust::repository_of;
use claw_registry::{Artifact, Claim, Client, Lock, Lockfile, Reference, Signed, TrustStore, Verdict, signature};
use std::path::Path;

/// Whether `source` names a registry component rather than a file.
pub(super) fn is_reference(source: &str) -> bool {
    source.starts_with("oci://") || (source.contains('@') && !Path::new(source).exists())
}

/// The lockfile's place in the home.
fn lockfile_path(home: &Home) -> std::path::PathBuf {
    home.config.join("components.lock")
}

/// Where the installed `record` came from, when a registry install put it
/// there (a lock whose component digest is the one installed; a later
/// install from a file leaves none that matches).
pub(super) fn provenance(home: &Home, record: &crate::components::Record) -> Option<Lock> {
    let lockfile = Lockfile::load(&lockfile_path(home)).ok()?;
    lockfile.get(&record.name).filter(|l| l.component == record.digest).cloned()
}

/// Drop the lock of a removed component, so the lockfile lists only what
/// is installed. A failure is said, not fatal: the component is gone.
pub(super) fn forget(home: &Home, printer: &Printer, name: &str) {
    let path = lockfile_path(home);
    let Ok(mut lockfile) = Lockfile::load(&path) else { return };
    if lockfile.remove(name)
        && let Err(e) = lockfile.save(&path)
    {
        printer.note(format!("warning: {name} stays in {}: {}", path.display(), e.message));
    }
}

pub(super) fn problem(e: claw_registry::Error) -> anyhow::Error {
    let p = Problem::new(e.message);
    match e.hint {
        Some(h) => p.hint(h).into(),
        None => p.into(),
    }
}

/// `claw component publish FILE REF`.
pub(super) async fn publish(
    runtime: &Runtime,
    home: &Home,
    printer: &Printer,
    file: &Path,
    reference: &str,
    grant: Option<&Path>,
    sign: Option<&str>,
) -> Result<()> {
    let config = Config::load(home)?;
    // The key is read first: a missing key changes nothing.
    let key = sign.map(|name| super::key::signing_key(home, name).map(|k| (name, k))).transpose()?;
    let reference = Reference::parse(reference, config.registry.default.as_deref()).map_err(problem)?;
    if reference.digest.is_some() {
        return Err(Problem::new(format!("{reference}: publish to a tag, not a digest"))
            .hint("write oci://HOST/NS/NAME:VERSION; the digest is what publishing computes")
            .into());
    }
    let shown = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|e| {
        Problem::new(format!("cannot read {shown}: {e}")).hint("give the path of a .wasm component to publish")
    })?;
    let (grant_text, grant_source) = super::component::read_grant(grant)?;
    // Loading it checks it is a component of a claw world whose imports
    // the shipped grant covers, and asks a tool for its description.
    let mut progress = None;
    let size = bytes.len();
    let prepared = runtime
        .prepare(reference.name(), &shown, bytes.clone(), grant_text.clone(), grant_source, || {
            progress = Some(printer.progress(format!("compiling {shown} ({} KiB)", size.div_ceil(1024))));
        })
        .await;
    if let Some(p) = progress {
        p.finish(if prepared.is_ok() { "compiled" } else { "stopped" });
    }
    let prepared = prepared?;
    let record = &prepared.tool.record;
    let facts = Facts {
        imports: record.imports.clone(),
        exports: prepared.exports.clone(),
        description: record.description.clone(),
        grant: grant_text,
    };
    let artifact = Artifact::build(bytes, &facts);
    let egress = Egress::new(runtime.boundary().clone(), &reference, &config.registry)?;
    let client = Client::new(&egress, &reference, egress.plain_http, MAX_COMPONENT);
    let transfer = printer.transfer(format!("pushing {reference}"));
    let pushed = client.push(&reference, &artifact, &transfer).await;
    transfer.finish(if pushed.is_ok() { "pushed" } else { "stopped" });
    runtime.boundary().flush_audit();
    let digest = pushed.map_err(problem)?;
    let signer = match &key {
        Some((name, key)) => {
            let claim = Claim { repository: repository_of(&reference), digest: digest.clone() };
            let signed = Signed::new(&claim, key).map_err(problem)?;
            let stored = client.push_signature(&reference, &digest, signed).await;
            runtime.boundary().flush_audit();
            stored.map_err(|e| {
                problem(e).context(format!(
                    "{reference}@{digest} was pushed, but its signature was not stored: publish again with --sign {name}"
                ))
            })?;
            Some(format!("{name} ({})", key.public_key().fingerprint()))
        }
        None => None,
    };
    if printer.json {
        printer.value(&serde_json::json!({
            "reference": reference.to_string(),
            "digest": digest.to_string(),
            "component": artifact.manifest.layers[0].digest.to_string(),
            "size": artifact.wasm.len(),
            "signer": signer,
        }));
    } else {
        printer.line(format!("published {reference}@{digest} ({} KiB)", artifact.wasm.len().div_ceil(1024)));
        match signer {
            Some(s) => printer.line(format!("signed by {s} at {}", signature::tag(&digest))),
            None => {
                printer.note("not signed: those who install it must pass --allow-unsigned (publish with --sign KEY)")
            }
        }
    }
    Ok(())
}

/// What `add` and `upgrade` from a registry were asked to do.
pub(super) struct Pull<'a> {
    pub source: &'a str,
    pub name: Option<String>,
    pub grant: Option<&'a Path>,
    pub upgrade: bool,
    pub yes: bool,
    pub locked: bool,
    pub allow_unsigned: bool,
}

/// `claw component add oci://…` and `claw component upgrade NAME oci://…`.
pub(super) async fn install(runtime: &Runtime, home: &Home, printer: &Printer, ask: Pull<'_>) -> Result<()> {
    let config = Config::load(home)?;
    let reference = Reference::parse(ask.source, config.registry.default.as_deref()).map_err(problem)?;
    let name = ask.name.clone().unwrap_or_else(|| reference.name().to_string());
    let installed = runtime.store().index()?.components.contains_key(&name);
    if installed && !ask.upgrade {
        return Err(Problem::new(format!("a component named `{name}` is already installed"))
            .hint(format!("use `claw component upgrade {name} {}` to replace it, or pick another --name", ask.source))
            .into());
    }
    let lock_path = lockfile_path(home);
    let mut lockfile = Lockfile::load(&lock_path).map_err(problem)?;

    let egress = Egress::new(runtime.boundary().clone(), &reference, &config.registry)?;
    let client = Client::new(&egress, &reference, egress.plain_http, MAX_COMPONENT);
    let transfer = printer.transfer(format!("pulling {reference}"));
    let pulled = client.pull(&reference, &transfer).await;
    transfer.finish(if pulled.is_ok() { "pulled and verified" } else { "stopped" });
    runtime.boundary().flush_audit();
    let artifact = pulled.map_err(problem)?;
    let digest = artifact.digest();
    if ask.locked {
        lockfile.check_locked(&name, &reference, &digest).map_err(problem)?;
    }

    // Who signed it, as the trusted keys tell; the lock keeps the answer.
    let repository = repository_of(&reference);
    let signatures = client.signatures(&reference, &digest).await;
    runtime.boundary().flush_audit();
    let trust = super::trust::load(home)?;
    let parsed = trust.parsed();
    let verdict = signature::verify(
        &signatures.map_err(problem)?,
        &repository,
        &digest,
        &TrustStore::for_repository(&parsed, &repository),
    );
    let (signer, trusted) = signer_of(verdict, &reference, ask.allow_unsigned)?;
    if ask.locked
        && let Some(lock) = lockfile.get(&name)
        && lock.signer != signer
        && !matches!(lock.signer.as_str(), "unsigned" | "untrusted")
    {
        return Err(Problem::new(format!(
            "{name} was locked as signed by {}, but {reference} is now signed by {signer}: refused (--locked)",
            lock.signer
        ))
        .hint("if the publisher changed keys on purpose, install without --locked and check the new key")
        .into());
    }

    let (grant_text, grant_source) = match ask.grant {
        Some(g) => super::component::read_grant(Some(g))?,
        None => match artifact.grant() {
            Some(g) => (g.to_string(), format!("shipped with {}", reference.pinned(&digest))),
            None => (String::new(), format!("(none shipped with {reference}: sandbox only)")),
        },
    };
    let shown = reference.pinned(&digest).to_string();
    let mut progress = None;
    let size = artifact.wasm.len();
    let prepared = runtime
        .prepare(&name, &shown, artifact.wasm.clone(), grant_text, grant_source, || {
            progress = Some(printer.progress(format!("compiling {name} ({} KiB)", size.div_ceil(1024))));
        })
        .await;
    if let Some(p) = progress {
        p.finish(if prepared.is_ok() { "compiled" } else { "stopped" });
    }
    let prepared = prepared?;

    // What it will be allowed to do, before anything runs.
    let record = &prepared.tool.record;
    let policy = explain(&prepared.tool.grant, &record.imports);
    let before = if ask.upgrade {
        let index = runtime.store().index()?;
        let current = index.record(&name)?.clone();
        let grant = runtime.effective_grant(&current.grant, &current.grant_source)?;
        Some((explain(&grant, &current.imports), current.imports))
    } else {
        None
    };
    show_capabilities(printer, &name, &reference, &digest, record, &policy, before.as_ref(), &signer);
    printer.confirm(
        ask.yes,
        &format!("install {name} with these capabilities?"),
        &format!("{name} was not installed"),
    )?;

    // The lock is written first: a failed install puts the old one back.
    let before_lock = lockfile.clone();
    lockfile.set(Lock {
        name: name.clone(),
        reference: reference.to_string(),
        manifest: digest.clone(),
        component: artifact.manifest.layers[0].digest.clone(),
        signer: signer.clone(),
    });
    lockfile.save(&lock_path).map_err(problem)?;
    let record = match runtime.commit(prepared, ask.upgrade) {
        Ok(r) => r,
        Err(e) => {
            if before_lock.components.is_empty() && !installed {
                let _ = std::fs::remove_file(&lock_path);
            } else {
                let _ = before_lock.save(&lock_path);
            }
            return Err(e);
        }
    };
    let verb = if ask.upgrade { "upgrade" } else { "install" };
    let warning = if trusted {
        String::new()
    } else {
        let what = signer.to_uppercase();
        printer.note(format!(
            "WARNING: {name} was installed {what} from {reference}: no trusted key vouches for who built it (--allow-unsigned)"
        ));
        format!("; {what}, installed with --allow-unsigned")
    };
    runtime
        .boundary()
        .note(crate::components::registry::AUDIT_NAME, verb, &format!("{name} from {reference}@{digest}{warning}"))
        .await;
    runtime.boundary().flush_audit();
    if printer.json {
        printer.value(&serde_json::json!({
            "name": record.name,
            "reference": reference.to_string(),
            "digest": digest.to_string(),
            "component": record.digest,
            "signer": signer,
        }));
    } else {
        let verb = if ask.upgrade { "upgraded" } else { "added" };
        printer.line(format!("{verb} {} from {reference}@{} ({})", record.name, digest.short(), record.description));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn show_capabilities(
    printer: &Printer,
    name: &str,
    reference: &Reference,
    digest: &claw_registry::Sha256Digest,
    record: &crate::components::Record,
    policy: &[String],
    before: Option<&(Vec<String>, Vec<String>)>,
    signer: &str,
) {
    printer.note(format!("{name} from {reference}"));
    printer.note(format!("  digest:  {digest}"));
    printer.note(format!("  signer:  {signer}"));
    printer.note(format!("  world:   {}", record.world.wit_name()));
    printer.note(format!("  does:    {}", record.description));
    printer.note("  imports:");
    for i in &record.imports {
        printer.note(format!("    {i}"));
    }
    printer.note(format!("  may ({}):", record.grant_source));
    for l in policy {
        printer.note(format!("    {l}"));
    }
    if let Some((old_policy, old_imports)) = before {
        let changes =
            diff(old_policy, policy).chain(diff(old_imports, &record.imports).map(|(k, l)| (k, format!("import {l}"))));
        let changes: Vec<_> = changes.collect();
        if changes.is_empty() {
            printer.note("  compared with the installed version: no change in what it may do");
        } else {
            printer.note("  compared with the installed version:");
            for (kind, line) in changes {
                printer.note(format!("    {kind}: {line}"));
            }
        }
    }
}

/// The lock's signer for `verdict`, and whether a trusted key signed; a
/// refusal unless trusted or the operator allowed it. A signature copied
/// from other bytes is refused always.
fn signer_of(verdict: Verdict, reference: &Reference, allow: bool) -> Result<(String, bool)> {
    let allow_hint = "pass --allow-unsigned to install it anyway (the warning is recorded in the audit log)";
    let (signer, refusal) = match verdict {
        Verdict::Trusted { name, fingerprint } => return Ok((format!("{name} ({fingerprint})"), true)),
        Verdict::Misplaced { claim } => {
            return Err(Problem::new(format!(
                "{reference} carries a signature made for {claim}: a signature copied from other bytes, refused"
            ))
            .hint("the registry serves a signature that does not belong to this component; tell its publisher")
            .into());
        }
        Verdict::Unsigned => {
            ("unsigned", Problem::new(format!("{reference} is not signed: not installed")).hint(allow_hint))
        }
        Verdict::OutOfScope { name, scopes } => (
            "untrusted",
            Problem::new(format!(
                "{reference} is signed by `{name}`, which is trusted only for {}: not installed",
                scopes.join(", ")
            ))
            .hint(format!(
                "if `{name}` publishes {} too, run `claw trust add KEY --for \"{}\"`; or {allow_hint}",
                repository_of(reference),
                repository_of(reference)
            )),
        ),
        Verdict::Untrusted { count } => (
            "untrusted",
            Problem::new(format!(
                "{reference} is signed ({count} signature{}), but by no key claw trusts: not installed",
                if count == 1 { "" } else { "s" }
            ))
            .hint(format!(
                "get the publisher's public key and run `claw trust add KEY --for \"{}\"`; or {allow_hint}",
                repository_of(reference)
            )),
        ),
    };
    if allow { Ok((signer.to_string(), false)) } else { Err(refusal.into()) }
}

/// Lines only in `new` (`new`) and only in `old` (`gone`).
fn diff<'a>(old: &'a [String], new: &'a [String]) -> impl Iterator<Item = (&'static str, String)> + 'a {
    let added = new.iter().filter(|l| !old.contains(l)).map(|l| ("new", l.clone()));
    let gone = old.iter().filter(|l| !new.contains(l)).map(|l| ("gone", l.clone()));
    added.chain(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upgrade_names_what_is_new_and_what_is_gone() {
        let old = vec!["may GET https://a.example/**".to_string(), "may read secret a".to_string()];
        let new = vec!["may GET https://a.example/**".to_string(), "may POST https://b.example/**".to_string()];
        let d: Vec<_> = diff(&old, &new).collect();
        assert_eq!(
            d,
            vec![("new", "may POST https://b.example/**".to_string()), ("gone", "may read secret a".to_string())]
        );
        assert!(is_reference("oci://r.io/a/b:1") && is_reference("b@1.0") && !is_reference("target/b.wasm"));
    }
}

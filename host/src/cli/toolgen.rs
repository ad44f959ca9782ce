//! `claw tool generate|approve|pending|reject`: a tool written by the LLM,
//! built and checked by claw, installed only when the operator approves
//! what it is and what it may do.

use super::Printer;
use super::output::Progress;
use crate::home::Home;
use crate::runtime::Runtime;
use crate::toolgen::approve::AUDIT_NAME;
use crate::toolgen::{Builder, Event, Generator, Review, pending};
use anyhow::Result;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A name from the first words of a request: "Count the words" → `count-the-words`.
pub fn name_for(request: &str) -> String {
    let words: Vec<String> = request
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(3)
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() { "generated-tool".into() } else { words.join("-") }
}

/// The builder for `home`: the SDK claw carries, the home's target dir.
pub(super) fn builder(home: &Home, timeout: Duration) -> Result<Builder> {
    Ok(Builder { sdk: crate::toolgen::sdk::locate(home)?.sdk, target_dir: home.toolgen_target(), timeout })
}

/// `claw tool generate`.
pub(super) async fn generate(
    printer: &Printer,
    request: String,
    name: Option<String>,
    rounds: u32,
    timeout_s: u64,
) -> Result<()> {
    let home = Home::from_env()?;
    let name = name.unwrap_or_else(|| name_for(&request));
    let runtime = Runtime::open(&home)?;
    // The LLM router, loaded (a component that fails to load is said, and skipped).
    for (failed, why) in &runtime.sync()?.failed {
        printer.note(format!("warning: {failed} was not loaded: {why}"));
    }
    let generator = Generator { runtime: &runtime, builder: builder(&home, Duration::from_secs(timeout_s))?, rounds };
    let step: Arc<Mutex<Option<Progress>>> = Arc::new(Mutex::new(None));
    let show = |event: Event| {
        let Ok(mut current) = step.lock() else { return };
        let next = match &event {
            Event::Asking { round, rounds } => format!("{name}: round {round}/{rounds}, asking the LLM"),
            Event::Building => format!("{name}: building (cargo, offline)"),
            Event::Checking => format!("{name}: checking the component and running its examples"),
            Event::Rejected { stage, problem } => {
                if let Some(p) = current.take() {
                    p.finish("failed");
                }
                printer.note(format!("  the answer failed {stage}: {problem}"));
                return;
            }
        };
        if let Some(p) = current.take() {
            p.finish("done");
        }
        *current = Some(printer.progress(next));
    };
    let result = generator.generate(&name, &request, "operator", &show).await;
    if let Some(p) = step.lock().ok().and_then(|mut s| s.take()) {
        p.finish(if result.is_ok() { "done" } else { "failed" });
    }
    let waiting = result?;
    let r = &waiting.review;
    let rule = format!("{name} {} in {} round(s), waiting for approval; asked by operator", r.digest, r.rounds);
    runtime.boundary().note(AUDIT_NAME, "generate", &rule).await;
    runtime.boundary().flush_audit();
    if printer.json {
        printer.value(&serde_json::json!({"review": r, "dir": waiting.dir, "approved": false}));
        return Ok(());
    }
    show_review(printer, r, &waiting.dir);
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        approve_one(printer, &runtime, &name, false).await
    } else {
        printer.line(format!("{name} is waiting for approval: `claw tool approve {name}` installs it"));
        Ok(())
    }
}

/// What the operator reads before approving.
fn show_review(printer: &Printer, r: &Review, dir: &std::path::Path) {
    printer.note(format!("generated tool {} ({})", r.name, r.digest));
    printer.note(format!("  asked:   {}", r.request));
    printer.note(format!("  does:    {}", r.description));
    printer.note(format!(
        "  built:   {} round(s), cargo {:.1} s of {:.1} s",
        r.rounds,
        r.build_ms as f64 / 1000.0,
        r.total_ms as f64 / 1000.0
    ));
    printer.note("  code:");
    for f in &r.files {
        printer.note(format!("    {} ({} lines)", f.path, f.lines));
    }
    printer.note(format!(
        "    reaches for: {}",
        if r.uses.is_empty() { "nothing outside itself".into() } else { r.uses.join(", ") }
    ));
    printer.note(format!("    read it in {}", dir.display()));
    printer.note("  imports:");
    for i in &r.imports {
        printer.note(format!("    {i}"));
    }
    printer.note("  may (the grant it asks for):");
    for l in &r.policy {
        printer.note(format!("    {l}"));
    }
    if r.unjustified.is_empty() {
        printer.note("  every capability it asks for is one the request calls for");
    } else {
        printer.note("  ASKS FOR MORE THAN THE REQUEST CALLS FOR:");
        for u in &r.unjustified {
            printer.note(format!("    ! {u}"));
        }
    }
}

/// `claw tool approve NAME`: show the review, confirm, install.
pub(super) async fn approve(printer: &Printer, name: &str, yes: bool) -> Result<()> {
    let home = Home::from_env()?;
    let runtime = Runtime::open(&home)?;
    let waiting = pending::get(&home, name)?;
    if !printer.json {
        show_review(printer, &waiting.review, &waiting.dir);
    }
    approve_one(printer, &runtime, name, yes).await
}

async fn approve_one(printer: &Printer, runtime: &Runtime, name: &str, yes: bool) -> Result<()> {
    pending::get(runtime.home(), name)?;
    printer.confirm(yes, &format!("install {name} with these capabilities?"), &format!("{name} was not installed"))?;
    let record = crate::toolgen::approve::install(runtime, name).await?;
    runtime.boundary().flush_audit();
    if printer.json {
        printer.value(&serde_json::json!({"name": name, "digest": record.digest.to_string(), "approved": true}));
    } else {
        printer.line(format!("approved and installed {name} ({})", record.description));
    }
    Ok(())
}

/// `claw tool pending`.
pub(super) fn list(printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let all = pending::list(&home);
    if printer.json {
        let reviews: Vec<&Review> = all.iter().map(|p| &p.review).collect();
        printer.value(&serde_json::json!(reviews));
        return Ok(());
    }
    if all.is_empty() {
        printer.line("no generated tool is waiting for approval");
    }
    for p in all {
        let flag = if p.review.unjustified.is_empty() {
            String::new()
        } else {
            format!(" — asks for {} thing(s) the request did not call for", p.review.unjustified.len())
        };
        printer.line(format!("{}  {}  asked by {}{flag}", p.review.name, p.review.description, p.review.asked_by));
    }
    Ok(())
}

/// `claw tool reject NAME`.
pub(super) async fn reject(printer: &Printer, name: &str) -> Result<()> {
    let home = Home::from_env()?;
    pending::remove(&home, name)?;
    let runtime = Runtime::open(&home)?;
    runtime.boundary().note(AUDIT_NAME, "reject", name).await;
    runtime.boundary().flush_audit();
    printer.line(format!("rejected {name}: nothing was installed"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_comes_from_the_first_words() {
        assert_eq!(name_for("Count the words in a text"), "count-the-words");
        assert_eq!(name_for("  Résumé: parse!"), "r-sum-parse");
        assert_eq!(name_for("!!!"), "generated-tool");
    }
}

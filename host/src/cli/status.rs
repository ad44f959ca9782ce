//! `claw status`: the runtime at a glance — every `claw run` process and
//! its workers with their last heartbeat and job, the queue's depth per
//! kind and state, and routines that are failing, overdue or (the
//! heartbeat) have nothing to review.

use super::Printer;
use crate::home::Home;
use crate::jobs::trigger::describe_ms;
use crate::jobs::{GONE_AFTER_MS, JobState, kinds};
use crate::store::{DatabaseUrl, Store};
use anyhow::Result;

/// A clock routine this late was not fired: no `claw run` is running.
const OVERDUE_AFTER_MS: i64 = 60_000;

#[derive(Debug, clap::Args)]
pub(super) struct StatusArgs {}

pub(super) async fn run(_args: StatusArgs, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    let store = Store::connect(&DatabaseUrl::resolve(&home)?).await?;
    let now = store.now_ms();
    let beats = store.beats().list().await?;
    let processes: Vec<serde_json::Value> = beats
        .iter()
        .filter(|b| b.worker.is_none())
        .map(|p| {
            let workers: Vec<serde_json::Value> = beats
                .iter()
                .filter(|w| w.worker.is_some() && w.process == p.process)
                .map(|w| serde_json::json!({"worker": w.worker, "job": w.job_id, "beat_ms": w.beat_ms}))
                .collect();
            serde_json::json!({
                "process": p.process,
                "pid": p.pid,
                "started_ms": p.started_ms,
                "beat_ms": p.beat_ms,
                "alive": now - p.beat_ms < GONE_AFTER_MS,
                "workers": workers,
            })
        })
        .collect();
    let depth: Vec<serde_json::Value> = store
        .queue_depth()
        .await?
        .into_iter()
        .map(|d| serde_json::json!({"kind": d.kind, "state": d.state.as_str(), "count": d.count}))
        .collect();
    let running =
        store.list_jobs(&crate::jobs::JobFilter { state: Some(JobState::Running), kind: None, limit: 200 }).await?;
    let running: Vec<serde_json::Value> = running
        .iter()
        .map(|j| {
            serde_json::json!({
                "id": j.id,
                "kind": j.kind,
                "owner": j.lease_owner,
                "lease_expires_ms": j.lease_expires_ms,
                "stuck": j.lease_expires_ms.is_some_and(|t| t < now),
            })
        })
        .collect();
    let mut attention = Vec::new();
    let routines = store.routines().list().await?;
    for r in &routines {
        let last = store.routines().last_state(r).await?;
        let error = |e: &Option<String>| e.as_deref().unwrap_or("").to_string();
        match &last {
            Some((JobState::Failed, e)) => {
                attention.push(format!("routine {} failed its last run: {}", r.name, error(e)))
            }
            Some((JobState::Retrying, e)) => attention.push(format!("routine {} is retrying: {}", r.name, error(e))),
            _ => {}
        }
        if !r.paused && r.next_fire_ms.is_some_and(|t| now - t > OVERDUE_AFTER_MS) {
            attention.push(format!(
                "routine {} was due at {} and has not fired: is a `claw run` running?",
                r.name,
                describe_ms(r.next_fire_ms.unwrap_or_default())
            ));
        }
        if r.kind == crate::jobs::action::HEARTBEAT
            && let Some(why) = kinds::heartbeat_missing(&store).await
        {
            attention.push(format!("heartbeat: {why}: it has nothing to review (`claw memory write HEARTBEAT.md`)"));
        }
    }
    if !routines.iter().any(|r| r.kind == crate::jobs::action::HEARTBEAT) {
        attention
            .push("heartbeat: off (no heartbeat routine; `[heartbeat] every` in config.toml, then `claw run`)".into());
    }
    if printer.json {
        printer.value(&serde_json::json!({
            "processes": processes,
            "running": running,
            "queue": depth,
            "attention": attention,
        }));
        return Ok(());
    }
    if processes.is_empty() {
        printer.line("processes: none (no `claw run` has written a heartbeat)");
    }
    for p in &processes {
        let alive = if p["alive"].as_bool() == Some(true) { "alive" } else { "gone" };
        printer.line(format!(
            "process {} ({alive}), last beat {}",
            p["process"].as_str().unwrap_or(""),
            describe_ms(p["beat_ms"].as_i64().unwrap_or_default())
        ));
        for w in p["workers"].as_array().into_iter().flatten() {
            let job = w["job"].as_i64().map_or("idle".into(), |j| format!("running job {j}"));
            printer.line(format!("  worker {}: {job}", w["worker"]));
        }
    }
    for j in &running {
        if j["stuck"].as_bool() == Some(true) {
            printer.line(format!(
                "job {} ({}) is stuck: the lease of {} expired; another worker takes it over",
                j["id"],
                j["kind"].as_str().unwrap_or(""),
                j["owner"].as_str().unwrap_or("?")
            ));
        }
    }
    printer.line("queue:");
    if depth.is_empty() {
        printer.line("  empty");
    }
    for d in &depth {
        printer.line(format!(
            "  {:<14} {:<10} {}",
            d["kind"].as_str().unwrap_or(""),
            d["state"].as_str().unwrap_or(""),
            d["count"]
        ));
    }
    for a in &attention {
        printer.line(format!("attention: {}", crate::terminal::clean(a)));
    }
    Ok(())
}

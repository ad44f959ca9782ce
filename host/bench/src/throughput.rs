//! How the cost grows with the work: tool calls and egress requests with 64
//! in flight, as throughput on one and on two tokio worker threads. The
//! peers' egress runs on one single-thread runtime; ours should scale with
//! the cores (target: two threads ≥ 1.7× one).

use crate::{guest, loopback_server};
use anyhow::Result;
use claw::home::Home;
use claw::runtime::Runtime;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// In flight at once.
pub const IN_FLIGHT: usize = 64;

fn runtime(workers: usize) -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?)
}

/// Run `total` jobs, `IN_FLIGHT` at a time, on `rt`; jobs per second.
fn drive<F, Fut>(rt: &tokio::runtime::Runtime, total: usize, job: F) -> Result<f64>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let job = Arc::new(job);
    let left = Arc::new(AtomicUsize::new(total));
    let started = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..IN_FLIGHT {
            let (job, left) = (job.clone(), left.clone());
            tasks.push(tokio::spawn(async move {
                while left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                    job().await?;
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        anyhow::Ok(())
    })?;
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Echo tool calls per second on `workers` threads.
pub fn tool_calls(workers: usize, total: usize) -> Result<f64> {
    let rt = runtime(workers)?;
    let dir = tempfile::tempdir()?;
    let host = Runtime::open(&Home::at(dir.path()))?;
    let bytes = std::fs::read(guest("echo")?)?;
    let prepared = rt.block_on(host.prepare("echo", "echo", bytes, String::new(), "bench".into(), || {}))?;
    host.commit(prepared, false)?;
    // Warm up the pool and the caches.
    drive(&rt, 2000, {
        let host = host.clone();
        move || call(host.clone())
    })?;
    drive(&rt, total, move || call(host.clone()))
}

async fn call(host: Arc<Runtime>) -> Result<()> {
    let out = host.call("echo", r#"{"text":"hello"}"#).await?;
    anyhow::ensure!(out == "\"hello\"", "echo answered wrongly");
    Ok(())
}

/// 4 KiB POSTs through the boundary per second on `workers` threads; the
/// loopback server runs on a runtime of its own.
pub fn egress(workers: usize, total: usize) -> Result<f64> {
    use claw::boundary::{Boundary, Policy, Secrets, audit::AuditLog};
    use http_body_util::{BodyExt as _, Full};
    let server_rt = runtime(1)?;
    let port = loopback_server(&server_rt)?;
    let rt = runtime(workers)?;
    let dir = tempfile::tempdir()?;
    let boundary = Arc::new(Boundary::new(Some(AuditLog::new(&dir.path().join("audit.jsonl")))));
    boundary.set_secrets(Secrets::from_values(crate::vault_values(true)));
    let grant = claw::grant::Grant::parse(
        &format!(
            "[limits]\nhttp_concurrency = {IN_FLIGHT}\n[[http]]\nurl = \"http://127.0.0.1:{port}/**\"\nmethods = [\"POST\"]\n"
        ),
        "bench",
    )?;
    let policy = Arc::new(Policy::from_grant("bench", &grant));
    let body = bytes::Bytes::from(crate::body_1mib()[..4096].to_vec());
    let url = format!("http://127.0.0.1:{port}/ingest");
    let job = move || {
        let (boundary, policy, body, url) = (boundary.clone(), policy.clone(), body.clone(), url.clone());
        async move {
            let request = http::Request::post(&url)
                .body(Full::new(body).map_err(|never| match never {}).boxed_unsync())
                .expect("valid request");
            let (resp, _io) = Box::into_pin(boundary.send(&policy, request, None, &Default::default()))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let got = resp.into_body().collect().await.map_err(|e| anyhow::anyhow!("{e}"))?.to_bytes();
            anyhow::ensure!(&got[..] == b"ok");
            Ok(())
        }
    };
    drive(&rt, 500, job.clone())?;
    let rate = drive(&rt, total, job)?;
    drop(server_rt);
    Ok(rate)
}

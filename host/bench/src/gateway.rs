//! The gateway's costs in one process, as `claw run` serves it: the memory
//! 1,000 idle event streams hold (the web chat's SSE), and a verified
//! webhook's acknowledgement — the host's bearer check, a fresh instance of
//! a third-party channel (`conformance/guests/hook-channel`), its kv write
//! and its inbox's durable enqueue on SQLite — over real loopback HTTP.

use crate::{Stats, guest, stats};
use anyhow::{Context as _, Result};
use claw::gateway::users::UserKind;
use claw::gateway::{Gateway, Listen};
use claw::home::Home;
use claw::runtime::Runtime;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-hook-token-5e0c1d2b";

/// The process's resident memory, in bytes (Linux).
fn rss() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/self/status")?;
    Ok(kb * 1024)
}

/// A home with the hook channel installed and its token in the vault,
/// the runtime, a client token, and the gateway on a free port.
fn serve(tokio: &tokio::runtime::Runtime, dir: &std::path::Path) -> Result<(Gateway, String, Arc<Runtime>)> {
    let home = Home::at(dir);
    let mut vault = claw::vault::Vault::open(&home, true).map_err(|e| anyhow::anyhow!("{e}"))?;
    vault.set("hook_token", TOKEN.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
    drop(vault);
    let rt = Runtime::open(&home)?;
    let grant = "[inbound]\nverify = \"bearer\"\nsecret = \"hook_token\"\n[inbox]\n[kv]\n[[http]]\nurl = \"http://127.0.0.1:9/**\"\nmethods = [\"POST\"]\n[network]\nallow = [\"127.0.0.1\"]\n".to_string();
    let bytes = std::fs::read(guest("hook_channel")?)?;
    let prepared = tokio.block_on(rt.prepare("hook", "hook_channel", bytes, grant, "bench".into(), || {}))?;
    rt.commit(prepared, false)?;
    rt.reload_vault();
    tokio.block_on(async {
        let store = rt.services().store.get().await.map_err(|e| anyhow::anyhow!("{e}"))?.clone();
        let token = store.users().add("bench", UserKind::Client).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let listen = Listen { addr: "127.0.0.1:0".into(), tls: None, per_minute: u32::MAX, max_turns: 32 };
        let wake = Arc::new(tokio::sync::Notify::new());
        let gateway = Gateway::start(&listen, rt.clone(), store, wake).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok((gateway, token, rt))
    })
}

/// Open an event stream and wait for its head: the server has subscribed.
fn open_stream(addr: &str, token: &str, conversation: &str) -> Result<TcpStream> {
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "GET /api/conversations/{conversation}/events HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\r\n"
    )?;
    let mut reader = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    anyhow::ensure!(line.contains(" 200 "), "the event stream was refused: {line}");
    Ok(s)
}

/// Resident memory added by `n` idle event streams: total MB and KB each.
pub(crate) fn idle_streams(n: usize) -> Result<(f64, f64)> {
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let (gateway, token, _rt) = serve(&tokio, dir.path())?;
    let addr = gateway.addr().to_string();
    // Warm the paths once so allocator and code pages are not counted.
    drop(open_stream(&addr, &token, "warm")?);
    std::thread::sleep(Duration::from_millis(300));
    let before = rss()?;
    let streams: Vec<TcpStream> =
        (0..n).map(|i| open_stream(&addr, &token, &format!("c{i}"))).collect::<Result<_>>()?;
    std::thread::sleep(Duration::from_secs(1));
    let after = rss()?;
    drop(streams);
    gateway.stop();
    let added = after.saturating_sub(before) as f64;
    Ok((added / 1e6, added / 1024.0 / n as f64))
}

/// One verified webhook, POST to 200: the host's check, the channel's
/// instance, its kv write and inbox enqueue.
fn post(addr: &str, i: usize) -> Result<Duration> {
    let body = format!(
        r#"{{"chat":"c{}","from":"u1","text":"message {i}","id":"update-{i}","reply_to":"http://127.0.0.1:9/reply"}}"#,
        i % 16
    );
    let started = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "POST /channels/hook HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let took = started.elapsed();
    anyhow::ensure!(out.starts_with("HTTP/1.1 200"), "the webhook was refused: {out}");
    Ok(took)
}

/// Webhook to acknowledgement, `n` sequential deliveries (each a new message).
pub(crate) fn webhook_ack(n: usize) -> Result<Stats> {
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let (gateway, _token, _rt) = serve(&tokio, dir.path())?;
    let addr = gateway.addr().to_string();
    for i in 0..50 {
        post(&addr, n + i)?;
    }
    let samples = (0..n).map(|i| post(&addr, i)).collect::<Result<Vec<_>>>()?;
    gateway.stop();
    Ok(stats(samples, 1e3))
}

/// What `api` measured.
pub(crate) struct Api {
    /// One request at a time: time beyond the scripted LLM's own, ms.
    pub(crate) overhead: Stats,
    /// Requests per second with `concurrency` clients.
    pub(crate) rps: f64,
    /// Clients at once.
    pub(crate) concurrency: usize,
}

/// `claw run`'s API: the gateway, a pool of workers = cores, the agent
/// against the scripted LLM; the gateway, a client's token, the pool, and
/// the LLM's busy time.
type Serving = (Gateway, String, claw::jobs::Pool, Arc<std::sync::Mutex<Duration>>);

fn serve_api(tokio: &tokio::runtime::Runtime, home: &Home) -> Result<Serving> {
    let (rt, busy, _) = crate::agent_turn::setup(tokio, home, true)?;
    let agent = claw::agent::Agent::new(rt.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (gateway, token, pool) = tokio.block_on(async {
        let store = rt.services().store.get().await.map_err(|e| anyhow::anyhow!("{e}"))?.clone();
        let token = store.users().add("bench", UserKind::Client).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let notes: claw::jobs::kinds::Notes = Arc::new(|_| {});
        let workers = std::thread::available_parallelism().map_or(2, usize::from);
        let config = claw::jobs::PoolConfig {
            workers,
            owner: "bench".into(),
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            beat: None,
        };
        let pool =
            claw::jobs::Pool::start(store.clone(), claw::jobs::kinds::handlers(rt.clone(), agent, notes), config, None);
        let listen = Listen { addr: "127.0.0.1:0".into(), tls: None, per_minute: u32::MAX, max_turns: 64 };
        let gateway =
            Gateway::start(&listen, rt.clone(), store, pool.waker()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::Ok((gateway, token, pool))
    })?;
    Ok((gateway, token, pool, busy))
}

/// One streamed completion: the time until its first token arrived.
fn first_token(addr: &str, token: &str, conversation: &str) -> Result<Duration> {
    let body = r#"{"model":"claw","stream":true,"messages":[{"role":"user","content":"say hi slowly"}]}"#;
    let started = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\nx-claw-conversation: {conversation}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf)?;
        anyhow::ensure!(n > 0, "the stream ended before its first token: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
        if seen.windows(4).any(|w| w == b"\"Hi\"") {
            break;
        }
    }
    let took = started.elapsed();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)?;
    seen.extend_from_slice(&rest);
    let text = String::from_utf8_lossy(&seen);
    anyhow::ensure!(text.starts_with("HTTP/1.1 200") && text.contains("[DONE]"), "the stream failed: {text}");
    Ok(took)
}

/// The extra time to the first streamed token: a streamed completion's
/// first token at the client, less the scripted provider's own time to
/// its first token; `n` one at a time, a new conversation each.
pub(crate) fn ttft(n: usize) -> Result<Stats> {
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let (gateway, token, pool, busy) = serve_api(&tokio, &Home::at(dir.path()))?;
    let addr = gateway.addr().to_string();
    for i in 0..n / 10 {
        first_token(&addr, &token, &format!("warm{i}"))?;
    }
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let before = *busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let took = first_token(&addr, &token, &format!("t{i}"))?;
        let provider = *busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner) - before;
        samples.push(took.saturating_sub(provider));
    }
    gateway.stop();
    tokio.block_on(pool.shutdown());
    Ok(stats(samples, 1e3))
}

/// One `POST /v1/chat/completions`, a new conversation each: its time.
fn complete(addr: &str, token: &str, conversation: &str) -> Result<Duration> {
    let body = r#"{"model":"claw","messages":[{"role":"user","content":"say hi"}]}"#;
    let started = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\nx-claw-conversation: {conversation}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let took = started.elapsed();
    anyhow::ensure!(out.starts_with("HTTP/1.1 200") && out.contains("\"done\""), "the completion failed: {out}");
    Ok(took)
}

/// The OpenAI-compatible API as `claw run` serves it — the gateway, the
/// turn queued as a job and run by the pool (workers = cores), the agent,
/// the composed router through the boundary — against a scripted LLM
/// that answers at once: `n` requests one at a time (the LLM's own time
/// subtracted), then `n` with 32 clients at once.
pub(crate) fn api(n: usize) -> Result<Api> {
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let (gateway, token, pool, busy) = serve_api(&tokio, &Home::at(dir.path()))?;
    let addr = gateway.addr().to_string();
    for i in 0..n / 10 {
        complete(&addr, &token, &format!("warm{i}"))?;
    }
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let before = *busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let took = complete(&addr, &token, &format!("c{i}"))?;
        let server = *busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner) - before;
        samples.push(took.saturating_sub(server));
    }
    let concurrency = 32;
    let started = Instant::now();
    let clients: Vec<_> = (0..concurrency)
        .map(|c| {
            let (addr, token) = (addr.clone(), token.clone());
            std::thread::spawn(move || -> Result<()> {
                for i in 0..n / concurrency {
                    complete(&addr, &token, &format!("p{c}-{i}"))?;
                }
                Ok(())
            })
        })
        .collect();
    for c in clients {
        c.join().map_err(|_| anyhow::anyhow!("a client panicked"))??;
    }
    let rps = (n / concurrency * concurrency) as f64 / started.elapsed().as_secs_f64();
    gateway.stop();
    tokio.block_on(pool.shutdown());
    Ok(Api { overhead: stats(samples, 1e3), rps, concurrency })
}

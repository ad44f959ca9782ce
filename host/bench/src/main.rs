//! claw-bench: the host's speed, measured in release builds.
//!
//! ```sh
//! cargo run --release -p claw-bench -- all        # or: floor tool-call load-cached hot-swap agent-turn throughput jobs gateway toolgen mcp ...
//! cargo run --release -p claw-bench -- gitleaks CASES.jsonl [--details]   # cases from scripts/gitleaks-cases
//! cargo run --release -p claw-bench -- injection CASES.jsonl [--details]  # cases from scripts/injection-cases
//! ```
//!
//! Prints one JSON object per scenario: name, iterations, p50, p99, unit
//! (and extras). `floor` is raw wasmtime on the same machine in the same
//! run — a fresh Store, `InstancePre::instantiate` and a typed `execute`
//! call of `echo` — so `tool-call` can be read as a ratio to it.

mod agent_turn;
mod dataflow;
mod gateway;
mod gitleaks;
mod injection;
mod jobs;
mod mcp;
mod registry;
mod throughput;
mod toolgen;

use anyhow::{Context as _, Result};
use claw::components::Digest;
use claw::home::Home;
use claw::runtime::Runtime;
use serde_json::json;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) fn guest(name: &str) -> Result<PathBuf> {
    let dir = std::env::var_os("CLAW_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/guest/wasm32-wasip2/release"));
    let path = dir.join(format!("{name}.wasm"));
    anyhow::ensure!(path.is_file(), "{} is missing: run `bash scripts/dev components` first", path.display());
    Ok(path)
}

/// Percentile of sorted samples.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Stats {
    p50: f64,
    p99: f64,
    n: usize,
}

fn stats(mut samples: Vec<Duration>, unit: f64) -> Stats {
    samples.sort();
    Stats {
        p50: pct(&samples, 0.5).as_secs_f64() * unit,
        p99: pct(&samples, 0.99).as_secs_f64() * unit,
        n: samples.len(),
    }
}

fn emit(v: serde_json::Value) {
    let _ = writeln!(std::io::stdout().lock(), "{v}");
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The store data of the raw-wasmtime floor: an empty WasiCtx.
struct S {
    wasi: wasmtime_wasi::WasiCtx,
    table: wasmtime::component::ResourceTable,
}

impl wasmtime_wasi::WasiView for S {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        wasmtime_wasi::WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A plain pooling engine, echo compiled, and an empty linker: no claw.
fn raw_wasmtime() -> Result<(wasmtime::Engine, wasmtime::component::Component, wasmtime::component::Linker<S>)> {
    let mut config = wasmtime::Config::new();
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(Default::default()));
    raw_wasmtime_with(&config)
}

/// The same, with the engine configured as `config` says.
fn raw_wasmtime_with(
    config: &wasmtime::Config,
) -> Result<(wasmtime::Engine, wasmtime::component::Component, wasmtime::component::Linker<S>)> {
    let engine = wasmtime::Engine::new(config).map_err(anyhow::Error::from)?;
    let component = wasmtime::component::Component::from_file(&engine, guest("echo")?).map_err(anyhow::Error::from)?;
    let linker = wasmtime::component::Linker::new(&engine);
    Ok((engine, component, linker))
}

/// Raw wasmtime: fresh Store + empty WasiCtx, instantiate, typed execute.
fn floor(iterations: usize) -> Result<Stats> {
    let (engine, component, mut linker) = raw_wasmtime()?;
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from)?;
    // echo imports the type-only `claw:runtime/types` instance.
    linker.instance("claw:runtime/types@0.1.0").map_err(anyhow::Error::from)?;
    let pre = linker.instantiate_pre(&component).map_err(anyhow::Error::from)?;
    type Ctx = claw::wit::claw::runtime::types::CallContext;
    type Err = claw::wit::claw::runtime::types::ToolError;
    let ctx = Ctx { call_id: "bench".into(), tool: "echo".into(), caller: None, depth: 0 };
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations + iterations / 10 {
        let t = Instant::now();
        let mut store = wasmtime::Store::new(
            &engine,
            S { wasi: wasmtime_wasi::WasiCtxBuilder::new().build(), table: wasmtime::component::ResourceTable::new() },
        );
        let instance = pre.instantiate(&mut store).map_err(anyhow::Error::from)?;
        let f = instance
            .get_typed_func::<(&str, &Ctx), (Result<String, Err>,)>(&mut store, "execute")
            .map_err(anyhow::Error::from)?;
        let (out,) = f.call(&mut store, (r#"{"text":"hello"}"#, &ctx)).map_err(anyhow::Error::from)?;
        anyhow::ensure!(out.is_ok_and(|s| s == "\"hello\""), "echo answered wrongly");
        if i >= iterations / 10 {
            samples.push(t.elapsed());
        }
    }
    Ok(stats(samples, 1e6))
}

/// The floor with async instantiate and call (what a host that serves many
/// calls on one executor pays): same component, async WASI linker.
fn floor_async(iterations: usize) -> Result<Stats> {
    floor_async_on(raw_wasmtime()?, iterations)
}

/// The async floor on an engine configured exactly as claw's (pooling
/// limits, memory kept resident, epoch interruption): what is left above
/// it is claw's own work per call, not wasmtime's settings.
fn floor_async_claw_config(iterations: usize) -> Result<Stats> {
    floor_async_on(raw_wasmtime_with(&claw::engine::wasmtime_config())?, iterations)
}

fn floor_async_on(
    (engine, component, mut linker): (wasmtime::Engine, wasmtime::component::Component, wasmtime::component::Linker<S>),
    iterations: usize,
) -> Result<Stats> {
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
    linker.instance("claw:runtime/types@0.1.0").map_err(anyhow::Error::from)?;
    let pre = linker.instantiate_pre(&component).map_err(anyhow::Error::from)?;
    type Ctx = claw::wit::claw::runtime::types::CallContext;
    type Err = claw::wit::claw::runtime::types::ToolError;
    let ctx = Ctx { call_id: "bench".into(), tool: "echo".into(), caller: None, depth: 0 };
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut samples = Vec::with_capacity(iterations);
    tokio.block_on(async {
        for i in 0..iterations + iterations / 10 {
            let t = Instant::now();
            let mut store = wasmtime::Store::new(
                &engine,
                S {
                    wasi: wasmtime_wasi::WasiCtxBuilder::new().build(),
                    table: wasmtime::component::ResourceTable::new(),
                },
            );
            // Claw's engine interrupts at epochs; no ticker runs here.
            store.set_epoch_deadline(u64::MAX / 2);
            let instance = pre.instantiate_async(&mut store).await.map_err(anyhow::Error::from)?;
            let f = instance
                .get_typed_func::<(&str, &Ctx), (Result<String, Err>,)>(&mut store, "execute")
                .map_err(anyhow::Error::from)?;
            let (out,) = f.call_async(&mut store, (r#"{"text":"hello"}"#, &ctx)).await.map_err(anyhow::Error::from)?;
            anyhow::ensure!(out.is_ok_and(|s| s == "\"hello\""), "echo answered wrongly");
            if i >= iterations / 10 {
                samples.push(t.elapsed());
            }
        }
        Ok(())
    })?;
    Ok(stats(samples, 1e6))
}

fn setup() -> Result<(tempfile::TempDir, Arc<Runtime>, tokio::runtime::Runtime)> {
    let dir = tempfile::tempdir()?;
    let rt = Runtime::open(&Home::at(dir.path()))?;
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    for (name, file) in [("echo", "echo"), ("v", "versioned_1")] {
        let bytes = std::fs::read(guest(file)?)?;
        let prepared = tokio.block_on(rt.prepare(name, file, bytes, String::new(), "bench".into(), || {}))?;
        rt.commit(prepared, false)?;
    }
    Ok((dir, rt, tokio))
}

fn tool_call(iterations: usize) -> Result<Stats> {
    let (_dir, rt, tokio) = setup()?;
    let mut samples = Vec::with_capacity(iterations);
    tokio.block_on(async {
        for i in 0..iterations + iterations / 10 {
            let t = Instant::now();
            let out = rt.call("echo", r#"{"text":"hello"}"#).await?;
            anyhow::ensure!(out == "\"hello\"", "echo answered wrongly");
            if i >= iterations / 10 {
                samples.push(t.elapsed());
            }
        }
        Ok(())
    })?;
    Ok(stats(samples, 1e6))
}

fn load_cached(iterations: usize) -> Result<Stats> {
    let (_dir, rt, _tokio) = setup()?;
    let digest = Digest::of(&std::fs::read(guest("echo")?)?);
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        let c = rt.engine().load_cached(&digest).context("loading from the cache")?;
        samples.push(t.elapsed());
        drop(c);
    }
    Ok(stats(samples, 1e6))
}

/// Time for a running host to notice an upgrade in the store and swap the
/// live table (load from the compile cache, link, swap).
fn hot_swap(iterations: usize) -> Result<Stats> {
    let (_dir, rt, tokio) = setup()?;
    let v2 = std::fs::read(guest("versioned_2")?)?;
    let v1 = std::fs::read(guest("versioned_1")?)?;
    rt.sync()?;
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let bytes = if i % 2 == 0 { v2.clone() } else { v1.clone() };
        let prepared = tokio.block_on(rt.prepare("v", "v", bytes, String::new(), "bench".into(), || {}))?;
        // Record in the store without touching this process's live table, as
        // `claw component upgrade` in another process does.
        let record = prepared.tool.record.clone();
        rt.store().update(|index| {
            index.components.insert("v".into(), record.clone());
            Ok(())
        })?;
        std::thread::sleep(Duration::from_millis(2));
        let t = Instant::now();
        let report = rt.sync()?;
        samples.push(t.elapsed());
        anyhow::ensure!(report.upgraded == vec!["v".to_string()], "sync did not swap: {report:?}");
    }
    Ok(stats(samples, 1e6))
}

/// A 1 MiB body with no secrets in it: JSON-ish text with words, numbers
/// and base64-looking runs, so the automaton does real work.
pub(crate) fn body_1mib() -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=-_ {}:,\"\n";
    while out.len() < 1 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(alphabet[(x % alphabet.len() as u64) as usize]);
    }
    out
}

/// MB/s scanning 1 MiB against 1,000 vault secrets (every encoding) plus the
/// credential patterns.
/// 1,000 vault values: random 32-character tokens, as API keys are
/// (`random`), or all of one shape with a shared `sk-` prefix (`!random`,
/// what this benchmark used until 2026-12-02: kinder to an automaton).
pub(crate) fn vault_values(random: bool) -> Vec<(String, Vec<u8>)> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..1000u64)
        .map(|i| {
            let value = if random {
                (0..32)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[(x % alphabet.len() as u64) as usize]
                    })
                    .collect()
            } else {
                format!("sk-{i:04}-{:016x}-value", i.wrapping_mul(0x2545_F491_4F6C_DD1D)).into_bytes()
            };
            (format!("secret_{i}"), value)
        })
        .collect()
}

fn leak_scan(iterations: usize, random: bool) -> Result<(f64, f64, usize, f64)> {
    let values = vault_values(random);
    let built = Instant::now();
    let detector = claw::boundary::leak::Detector::new(values.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
    let build_ms = built.elapsed().as_secs_f64() * 1e3;
    let needles = format!("{detector:?}");
    let body = body_1mib();
    anyhow::ensure!(detector.first(&body).is_none(), "the benchmark body must be clean");
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        let found = detector.scan(&body);
        samples.push(t.elapsed());
        anyhow::ensure!(found.is_empty());
    }
    let s = stats(samples, 1.0);
    let mbps = |secs: f64| (body.len() as f64 / 1e6) / secs;
    let _ = needles;
    Ok((mbps(s.p50), mbps(s.p99), s.n, build_ms))
}

/// A loopback HTTP/1.1 server that reads each request whole and answers
/// `200 ok`; one connection per request, like the boundary's client.
/// Read one HTTP/1.1 request with a Content-Length body: the bytes read
/// and where the body starts, or `None` when the peer went away.
async fn read_request(s: &mut tokio::net::TcpStream) -> Option<(Vec<u8>, usize)> {
    use tokio::io::AsyncReadExt as _;
    let mut buf = Vec::with_capacity(16 << 10);
    let mut chunk = [0u8; 16 << 10];
    loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some((buf, end + 4));
            }
        }
    }
}

pub(crate) fn loopback_server(rt: &tokio::runtime::Runtime) -> Result<u16> {
    use tokio::io::AsyncWriteExt as _;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let port = listener.local_addr()?.port();
    rt.spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                if read_request(&mut s).await.is_none() {
                    return;
                }
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
            });
        }
    });
    Ok(port)
}

/// A 4 KiB POST through the whole boundary (allow, buffer, leak scan
/// against 1,000 secrets, injection, address check, send, audit) vs. the
/// same request sent by the boundary's client directly.
fn egress(rounds: usize, per_round: usize) -> Result<(Stats, Stats)> {
    use claw::boundary::{Boundary, Policy, Secrets, audit::AuditLog, client};
    use http_body_util::{BodyExt as _, Full};
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let port = loopback_server(&rt)?;
    let dir = tempfile::tempdir()?;
    // CLAW_BENCH_NO_AUDIT=1 measures the boundary without its audit log,
    // to see what the log costs.
    let log = std::env::var_os("CLAW_BENCH_NO_AUDIT").is_none().then(|| AuditLog::new(&dir.path().join("audit.jsonl")));
    let boundary = Arc::new(Boundary::new(log));
    boundary.set_secrets(Secrets::from_values(crate::vault_values(true)));
    let grant = claw::grant::Grant::parse(
        &format!("[[http]]\nurl = \"http://127.0.0.1:{port}/**\"\nmethods = [\"POST\"]\n"),
        "bench",
    )?;
    let policy = Arc::new(Policy::from_grant("bench", &grant));
    let body = bytes::Bytes::from(body_1mib()[..4096].to_vec());
    let url = format!("http://127.0.0.1:{port}/ingest");
    let request = |body: bytes::Bytes| {
        http::Request::post(&url)
            .header("content-type", "application/octet-stream")
            .body(Full::new(body).map_err(|never| match never {}).boxed_unsync())
            .expect("valid request")
    };
    let target = client::Target {
        addr: format!("127.0.0.1:{port}").parse()?,
        tls: None,
        connect_timeout: Duration::from_secs(5),
        first_byte_timeout: Duration::from_secs(5),
    };
    let (mut through, mut direct) = (Vec::new(), Vec::new());
    rt.block_on(async {
        for round in 0..rounds {
            for i in 0..per_round + per_round / 10 {
                let t = Instant::now();
                let (resp, _io) =
                    Box::into_pin(boundary.send(&policy, request(body.clone()), None, &Default::default()))
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                let got = resp.into_body().collect().await.map_err(|e| anyhow::anyhow!("{e}"))?.to_bytes();
                if i >= per_round / 10 {
                    through.push(t.elapsed());
                }
                anyhow::ensure!(&got[..] == b"ok");

                let t = Instant::now();
                let (parts, b) = request(body.clone()).into_parts();
                let b = b.collect().await.map_err(|e| anyhow::anyhow!("{e}"))?.to_bytes();
                let (resp, _io) = client::send(&target, parts, b).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                let got = resp.into_body().collect().await?.to_bytes();
                if i >= per_round / 10 {
                    direct.push(t.elapsed());
                }
                anyhow::ensure!(&got[..] == b"ok");
            }
            let _ = round;
        }
        Ok(())
    })?;
    Ok((stats(through, 1e6), stats(direct, 1e6)))
}

/// Deterministic pseudo-random text over a 4,000-word vocabulary.
struct Words {
    x: u64,
    vocab: Vec<String>,
}

impl Words {
    fn new() -> Words {
        let syll =
            ["ka", "lo", "mi", "ren", "tas", "vu", "zen", "pol", "dri", "mek", "sor", "fa", "gil", "hun", "jo", "bri"];
        // The most frequent ranks are English function words, as in real
        // text (and PostgreSQL's english configuration drops them).
        let mut vocab: Vec<String> = "the of and to a in is it that for on was with as be by at this are from or an but not have which they you were his her had she their we been has more one all would there what so if about out up them into when can only other new some could time these two may then do first any my now such like our over me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three".split_whitespace().map(str::to_string).take(50).collect();
        for a in syll {
            for b in syll {
                for c in ["", "n", "ra", "te", "lis", "mo", "ck", "vel", "s", "dor", "x", "pe", "qua", "th", "ia", "um"]
                {
                    vocab.push(format!("{a}{b}{c}"));
                }
            }
        }
        Words { x: 0x2545_F491_4F6C_DD1D, vocab }
    }

    fn next(&mut self) -> u64 {
        self.x ^= self.x << 13;
        self.x ^= self.x >> 7;
        self.x ^= self.x << 17;
        self.x
    }

    /// A word drawn log-uniformly over ranks `from..` (Zipf's law with
    /// exponent 1, as natural language roughly follows).
    fn ranked(&mut self, from: usize) -> &str {
        let r = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        let (lo, hi) = ((from.max(1)) as f64, self.vocab.len() as f64);
        let i = ((lo * (hi / lo).powf(r)) as usize).min(self.vocab.len() - 1);
        &self.vocab[i]
    }

    /// A word of running text.
    fn word(&mut self) -> &str {
        self.ranked(1)
    }

    /// A query word: a content word, not one of the 50 function words.
    fn query_word(&mut self) -> String {
        self.ranked(50).to_string()
    }

    fn paragraph(&mut self, words: usize) -> String {
        let mut out = String::new();
        for i in 0..words {
            out.push_str(self.word());
            out.push(if i % 12 == 11 { '.' } else { ' ' });
            if i % 12 == 11 {
                out.push(' ');
            }
        }
        out
    }
}

/// Ingest documents until the index holds `chunks` chunks (chunks/s,
/// including chunking, FTS and the offline embedding), then time hybrid
/// searches of three-word queries.
fn memory_bench(url: &str, chunks: usize, searches: usize) -> Result<(f64, Stats, usize)> {
    use claw::memory::index::{Embedder, Memory};
    use claw::store::workspace::Origin;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let store = claw::store::Store::connect(&claw::store::DatabaseUrl::parse(url)?).await?;
        let memory = Memory::new(store.clone(), Embedder::Offline, 60.0);
        let mut words = Words::new();
        let started = Instant::now();
        let mut doc = 0;
        let mut made = 0;
        // CLAW_BENCH_KEEP=1 reuses an index already built (search only).
        if std::env::var_os("CLAW_BENCH_KEEP").is_some() {
            made = store.index_counts("").await?.0 as usize;
        }
        let reused = made >= chunks;
        while made < chunks {
            // ~10 chunks per document: ten paragraphs of ~1,100 bytes.
            let text: Vec<String> = (0..10).map(|_| words.paragraph(160)).collect();
            let path = format!("docs/{:03}/{doc}.md", doc % 100);
            let text = text.join("\n\n");
            made += claw::memory::chunk::chunk(&path, &text).len();
            store.workspace().write(&path, &text, Origin::Operator).await?;
            doc += 1;
            if doc % 50 == 0 {
                memory.embed_all(|_, _| {}).await.map_err(|e| anyhow::anyhow!(e))?;
            }
        }
        memory.embed_all(|_, _| {}).await.map_err(|e| anyhow::anyhow!(e))?;
        let (total, pending) = store.index_counts(claw::memory::embed::OFFLINE_ID).await?;
        anyhow::ensure!(pending == 0);
        let ingest = if reused { f64::NAN } else { total as f64 / started.elapsed().as_secs_f64() };
        // What autovacuum's auto-analyze does on a live server.
        store.analyze().await?;
        // Warm the in-process vector index (SQLite) once, then measure.
        memory.search("warm up", 10, "").await?;
        if std::env::var_os("CLAW_BENCH_BREAKDOWN").is_some() {
            let q = format!("{} {} {}", words.query_word(), words.query_word(), words.query_word());
            let t = Instant::now();
            for _ in 0..20 { store.fulltext(&q, "", 50).await?; }
            let ft = t.elapsed() / 20;
            let t = Instant::now();
            for _ in 0..20 { store.index_counts(claw::memory::embed::OFFLINE_ID).await?; }
            let counts = t.elapsed() / 20;
            let t = Instant::now();
            for _ in 0..20 { store.index_generation().await?; }
            let generation = t.elapsed() / 20;
            let embedded = memory.store().sqlite_vectors(claw::memory::embed::OFFLINE_ID).await?;
            let qv = claw::memory::embed::offline(&q);
            let t = Instant::now();
            let mut best = 0.0f32;
            for (_, _, v) in &embedded {
                best = best.max(claw::memory::embed::dot(v, &qv));
            }
            let scan = t.elapsed();
            let _ = writeln!(std::io::stderr(), "breakdown: fulltext {ft:?} counts {counts:?} generation {generation:?} dot-scan {scan:?} ({} vectors, best {best}) query {q}", embedded.len());
        }
        let mut samples = Vec::with_capacity(searches);
        for _ in 0..searches {
            let q = format!("{} {} {}", words.query_word(), words.query_word(), words.query_word());
            let t = Instant::now();
            let r = memory.search(&q, 10, "").await?;
            samples.push(t.elapsed());
            anyhow::ensure!(!r.hits.is_empty(), "no hits for {q}");
        }
        Ok((ingest, stats(samples, 1e3), total as usize))
    })
}

/// A fresh PostgreSQL database for the benchmark.
fn bench_pg_url() -> Result<String> {
    let admin = std::env::var("CLAW_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await?;
        if std::env::var_os("CLAW_BENCH_KEEP").is_none() {
            sqlx::query("DROP DATABASE IF EXISTS claw_bench WITH (FORCE)").execute(&mut conn).await?;
            sqlx::query("CREATE DATABASE claw_bench").execute(&mut conn).await?;
        }
        anyhow::Ok(())
    })?;
    Ok(format!("{}/claw_bench", admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b)))
}

/// Median of a few numbers.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Rounds of the floor, the async floor and the host's tool call,
/// interleaved so all three see the same machine; medians of the rounds.
fn call_scenarios(rounds: usize, per_round: usize) -> Result<()> {
    let mut all: [(Vec<f64>, Vec<f64>); 4] = Default::default();
    for _ in 0..rounds {
        let round =
            [floor(per_round)?, floor_async(per_round)?, floor_async_claw_config(per_round)?, tool_call(per_round)?];
        for (i, s) in round.into_iter().enumerate() {
            all[i].0.push(s.p50);
            all[i].1.push(s.p99);
        }
    }
    let [f, fa, fc, t] = all.map(|(p50, p99)| (median(p50), median(p99)));
    let n = rounds * per_round;
    emit(json!({"name": "floor", "iterations": n, "p50": round(f.0), "p99": round(f.1), "unit": "us",
        "what": "raw wasmtime 48: new Store + empty WasiCtx + InstancePre::instantiate + typed execute(echo), sync, pooling"}));
    emit(json!({"name": "floor-async", "iterations": n, "p50": round(fa.0), "p99": round(fa.1), "unit": "us",
        "what": "the same with instantiate_async + call_async (a fiber per call), as a host serving many calls does"}));
    emit(
        json!({"name": "floor-async-claw-config", "iterations": n, "p50": round(fc.0), "p99": round(fc.1), "unit": "us",
        "what": "the async floor on claw's engine configuration (pooling limits, 2 MiB kept resident, epoch interruption)"}),
    );
    emit(json!({"name": "tool-call", "iterations": n, "p50": round(t.0), "p99": round(t.1), "unit": "us",
        "ratio_to_floor_p50": round(t.0 / f.0), "ratio_to_floor_async_p50": round(t.0 / fa.0),
        "ratio_to_floor_async_claw_config_p50": round(t.0 / fc.0),
        "ironclaw_p50": 128.0, "speedup_vs_ironclaw_p50": round(128.0 / t.0),
        "target": "p50 <= 50 us, p99 <= 250 us; >= 5x IronClaw"}));
    Ok(())
}

/// The data-flow policy's bookkeeping for one turn, in µs.
fn dataflow_bookkeeping(iterations: usize) -> Result<Stats> {
    use claw::agent::provenance::Provenance;
    use claw::agent::untrusted::wrap;
    let page = "x".repeat(2048);
    let history: Vec<String> = (0..40)
        .map(|i| if i % 2 == 0 { format!("a person's message {i}") } else { wrap(&format!("tool t{i}"), &page) })
        .collect();
    let results: Vec<String> = (0..4).map(|i| wrap(&format!("tool r{i}"), &page)).collect();
    let grant = claw::grant::Grant::parse(
        "[[http]]\nurl = \"https://a.example/**\"\nmethods = [\"GET\", \"POST\"]\n[[http]]\nurl = \"https://b.example/v1/**\"\nmethods = [\"PUT\", \"DELETE\"]\n[[http]]\nurl = \"https://c.example/**\"\n[workspace]\nwrite = [\"notes/\", \"journal/\"]\n[invoke]\nsend = \"mailer\"\n",
        "bench.toml",
    )?;
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        let mut p = Provenance::trusted();
        for m in &history {
            p.from_result(m);
        }
        let from = p.describe();
        for r in &results {
            p.from_result(r);
        }
        let sinks = grant.guarded_sinks();
        samples.push(t.elapsed());
        anyhow::ensure!(from.is_some() && sinks.len() == 6, "unexpected bookkeeping");
    }
    Ok(stats(samples, 1e6))
}

fn main() -> Result<()> {
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
        let _ = writeln!(
            std::io::stderr(),
            "warning: RUST_BACKTRACE is set: wasmtime then captures a backtrace on every Store drop (~8 us per call); unset it for true figures"
        );
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The runtime starts stdio MCP servers through its own binary's jail
    // (`dataflow` runs them from this one): be claw for that.
    if args.len() > 1 && args[0] == "mcp" && args[1] == "jail" {
        let code = claw::cli::main();
        std::process::exit(if code == std::process::ExitCode::SUCCESS { 0 } else { 1 });
    }
    // The process `jobs-takeover` kills: not a scenario of its own.
    if args.first().is_some_and(|a| a == "jobs-hold") {
        return jobs::hold(args.get(1).context("jobs-hold needs a database URL")?);
    }
    let all = args.is_empty() || args.iter().any(|a| a == "all");
    let want = |s: &str| all || args.iter().any(|a| a == s);
    // Not in `all`: the host's tool call alone, for `perf record`.
    if args.iter().any(|a| a == "tool-call-profile") {
        let s = tool_call(200_000)?;
        emit(
            json!({"name": "tool-call-profile", "iterations": s.n, "p50": round(s.p50), "p99": round(s.p99), "unit": "us"}),
        );
    }
    if args.iter().any(|a| a == "floor-profile") {
        let s = floor_async_claw_config(200_000)?;
        emit(
            json!({"name": "floor-profile", "iterations": s.n, "p50": round(s.p50), "p99": round(s.p99), "unit": "us"}),
        );
    }
    if want("tool-call") || want("floor") {
        call_scenarios(5, 4000)?;
    }
    if want("leak-scan") {
        for (name, random) in [("leak-scan", true), ("leak-scan-shared-prefix", false)] {
            let (p50, p99, n, build_ms) = leak_scan(200, random)?;
            emit(json!({"name": name, "iterations": n, "p50": round(p50), "p99": round(p99), "unit": "MB/s",
                "what": "1 MiB body, 1,000 vault secrets in every encoding + 96 credential patterns, one pass",
                "values": if random { "random 32-character tokens" } else { "sk-NNNN-<hex>-value" },
                "build_ms": round(build_ms), "target": ">= 500 MB/s", "ironclaw": "145-250 MB/s with 23 patterns and no vault values"}));
        }
    }
    if want("egress") {
        let (t, d) = egress(3, 1000)?;
        emit(json!({"name": "egress", "iterations": t.n, "p50": round(t.p50), "p99": round(t.p99), "unit": "us",
            "direct_p50": round(d.p50), "direct_p99": round(d.p99), "added_p50": round(t.p50 - d.p50), "added_p99": round(t.p99 - d.p99),
            "ratio_p50": round(t.p50 / d.p50),
            "what": "4 KiB POST to a loopback server through the boundary (1,000 vault secrets, audit on) vs. the same client directly",
            "target": "added p50 <= 100 us"}));
    }
    if want("memory") || want("memory-search") || want("memory-ingest") {
        let chunks: usize = std::env::var("CLAW_BENCH_CHUNKS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
        let dir = tempfile::tempdir()?;
        let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
        let only = std::env::var("CLAW_BENCH_BACKEND").ok();
        for (backend, url) in [("sqlite", sqlite), ("postgres", bench_pg_url()?)] {
            if only.as_deref().is_some_and(|o| o != backend) {
                continue;
            }
            let (ingest, s, n) = memory_bench(&url, chunks, 200)?;
            emit(
                json!({"name": "memory-ingest", "backend": backend, "iterations": n, "p50": round(ingest), "p99": null, "unit": "chunks/s",
                "what": "workspace writes of ~11 KB documents: chunking, full-text index, offline embedding"}),
            );
            emit(
                json!({"name": "memory-search", "backend": backend, "iterations": s.n, "p50": round3(s.p50), "p99": round3(s.p99), "unit": "ms",
                "chunks": n, "what": "hybrid search (full-text + vector, RRF), queries of three content words, top 10", "target": "p50 <= 20 ms at 100k chunks"}),
            );
        }
    }
    if want("gateway") || want("sse-idle") {
        let (mb, kb_each) = gateway::idle_streams(1000)?;
        emit(json!({"name": "sse-idle", "iterations": 1000, "p50": round(mb), "p99": null, "unit": "MB",
            "kb_per_stream": round(kb_each),
            "what": "resident memory added by 1,000 idle web chat event streams (one conversation each, bearer auth) on the gateway in this process",
            "target": "<= 50 MB"}));
    }
    if want("gateway") || want("webhook-ack") {
        let s = gateway::webhook_ack(2000)?;
        emit(
            json!({"name": "webhook-ack", "iterations": s.n, "p50": round3(s.p50), "p99": round3(s.p99), "unit": "ms",
            "what": "POST /channels/hook to its 200 over loopback: bearer verified with the vault secret, a fresh instance of a third-party channel component, its kv write and the inbox's durable enqueue on SQLite",
            "target": "p50 <= 5 ms"}),
        );
    }
    if want("gateway") || want("api") {
        let a = gateway::api(1000)?;
        let s = &a.overhead;
        emit(json!({"name": "api", "iterations": s.n, "p50": round3(s.p50), "p99": round3(s.p99), "unit": "ms",
            "rps": round(a.rps), "concurrency": a.concurrency,
            "what": "POST /v1/chat/completions as claw run serves it (the turn a job run by the pool, the agent, the composed router through the boundary) against a scripted LLM that answers at once; p50/p99 one at a time with the LLM's own time subtracted, rps with 32 clients",
            "target": "p50 <= 5 ms at concurrency 1, >= 200 requests/s at concurrency 32"}));
    }
    if want("gateway") || want("ttft") {
        let s = gateway::ttft(500)?;
        emit(json!({"name": "ttft", "iterations": s.n, "p50": round3(s.p50), "p99": round3(s.p99), "unit": "ms",
            "what": "a streamed POST /v1/chat/completions (stream: true) as claw run serves it: the first token at the client, less the scripted provider's own time to its first token",
            "target": "p50 <= 10 ms"}));
    }
    if want("agent-turn") {
        let t = agent_turn::agent_turn(300)?;
        let s = &t.overhead;
        emit(json!({"name": "agent-turn", "iterations": s.n, "p50": round3(s.p50), "p99": round3(s.p99), "unit": "ms",
            "server_us_per_turn": round(t.server_us), "router_request_p50_ms": round3(t.router_ms), "recall_p50_ms": round3(t.recall_ms),
            "what": "one turn with one tool call (echo) against a local scripted OpenAI-compatible server: context, two requests through the composed router and the boundary (key injected), the tool call, session writes; the server's own time subtracted"}));
    }
    if want("throughput") {
        for (name, what, run) in [
            (
                "tool-call-throughput",
                "echo tool calls, 64 in flight",
                throughput::tool_calls as fn(usize, usize) -> Result<f64>,
            ),
            (
                "egress-throughput",
                "4 KiB POSTs through the boundary (1,000 vault secrets, audit on), 64 in flight",
                throughput::egress,
            ),
        ] {
            let total = if name.starts_with("tool") { 40_000 } else { 8_000 };
            let one = run(1, total)?;
            let two = run(2, total)?;
            emit(json!({"name": name, "iterations": total, "one_thread": round(one), "two_threads": round(two),
                "unit": "per s", "scaling": round(two / one), "what": what, "target": "two threads >= 1.7x one"}));
        }
    }
    if want("registry") {
        let m = registry::registry(20)?;
        for (name, s, what) in [
            (
                "registry-publish",
                &m.publish,
                "claw component publish --sign of a 1 MiB component (compile cached) to docker-registry on 127.0.0.1: push, sign, store the signature",
            ),
            (
                "registry-install",
                &m.install,
                "claw component add oci://… --yes of the same: pull, every digest, the signature against the trust store, capabilities, lock, install with a cached compile",
            ),
        ] {
            emit(json!({"name": name, "iterations": s.n, "p50": round3(s.p50), "p99": round3(s.p99), "unit": "ms",
                "bytes": m.size, "process_startup_p50": round3(m.startup.p50),
                "what": what, "target": "p50 <= 200 ms"}));
        }
    }
    if want("dataflow") {
        let modules = std::env::var_os("CLAW_NODE_MODULES").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/npm/node_modules"),
            PathBuf::from,
        );
        for mode in ["ask", "allow"] {
            let o = dataflow::suite(mode, &modules)?;
            emit(json!({"name": format!("dataflow-{}", if mode == "ask" { "on" } else { "off" }),
                "untrusted_sinks": mode, "benign_completed": o.benign_done, "benign": o.benign,
                "injected_executed": o.injected_done, "injected": o.injected,
                "benign_held": o.held, "injected_that_ran": o.executed,
                "what": "AgentDojo-style tasks: an LLM that obeys every instruction it reads, over http-fetch, workspace, a mail stand-in and the MCP filesystem server"}));
        }
        let s = dataflow_bookkeeping(20_000)?;
        emit(
            json!({"name": "dataflow-bookkeeping", "iterations": s.n, "p50": round3(s.p50), "p99": round3(s.p99), "unit": "us",
            "what": "the policy's work for one turn: provenance over a 40-message history (20 wrapped tool results of 2 KiB) and 4 results, then the guarded sinks of a grant with 3 rules, 2 write prefixes and an invoke"}),
        );
    }
    if want("mcp") {
        let m = mcp::mcp(500)?;
        let floor = m.floor.p50;
        for (name, s, what) in [
            (
                "mcp-floor",
                &m.floor,
                "tools/call echo of server-everything over stdio by a bare rmcp client: no jail, no hub, no audit",
            ),
            (
                "mcp-stdio",
                &m.stdio,
                "the same through claw's hub: the server in claw's jail, the config checked, the audit note, the result wrapped",
            ),
            (
                "mcp-http",
                &m.http,
                "the same server over Streamable HTTP on 127.0.0.1 through the boundary: rules, leak scan, redaction, audit of each request",
            ),
        ] {
            emit(json!({"name": name, "iterations": s.n, "p50": round3(s.p50), "p99": round3(s.p99), "unit": "ms",
                "overhead_p50_ms": round3(s.p50 - floor), "what": what, "target": "overhead p50 <= 1 ms"}));
        }
    }
    if want("toolgen") {
        let g = toolgen::toolgen(5)?;
        emit(
            json!({"name": "toolgen", "iterations": g.warm.n, "p50": round3(g.warm.p50), "p99": round3(g.warm.p99), "unit": "ms",
            "build_p50_ms": round3(g.warm_build_ms), "build_share": round(g.warm_build_ms / g.warm.p50),
            "cold_ms": round3(g.cold_ms), "cold_build_ms": round3(g.cold_build_ms),
            "what": "claw tool generate to a loaded tool with a scripted LLM (one round): the request through the router, cargo build --offline --release, conformance and examples, the review saved, the approval's install; warm = the SDK's dependencies already built, cold = a fresh target dir"}),
        );
    }
    if want("jobs") {
        let dir = tempfile::tempdir()?;
        let sqlite = format!("sqlite://{}", dir.path().join("jobs.db").display());
        let only = std::env::var("CLAW_BENCH_BACKEND").ok();
        for (backend, url) in [("sqlite", sqlite), ("postgres", bench_pg_url()?)] {
            if only.as_deref().is_some_and(|o| o != backend) {
                continue;
            }
            let target = if backend == "sqlite" { ">= 2,000 per s" } else { ">= 5,000 per s" };
            let rate = jobs::throughput(&url, 20_000, 8, 3)?;
            emit(
                json!({"name": "jobs-throughput", "backend": backend, "iterations": 20_000, "p50": round(rate), "p99": null,
                "unit": "jobs/s", "what": "no-op jobs claimed and completed by 8 workers, median of 3 rounds", "target": target}),
            );
            let s = jobs::latency(&url, 200)?;
            emit(
                json!({"name": "jobs-latency", "backend": backend, "iterations": s.n, "p50": round3(s.p50), "p99": round3(s.p99),
                "unit": "ms", "what": "enqueue to handler start on an idle queue of 8 workers", "target": "p50 <= 10 ms"}),
            );
            let mut t = jobs::takeover(&url, 5)?;
            t.sort_by(f64::total_cmp);
            emit(
                json!({"name": "jobs-takeover", "backend": backend, "iterations": t.len(), "p50": round3(t[t.len() / 2]),
                "max": round3(t[t.len() - 1]), "unit": "s", "what": "SIGKILL of the holding process (2 s lease) to the job's start in another process",
                "target": "<= 3 s"}),
            );
        }
    }
    if let Some(i) = args.iter().position(|a| a == "gitleaks") {
        // Cases from `scripts/gitleaks-cases GITLEAKS_DIR OUT.jsonl`: read at
        // measurement time, never committed.
        let path = args.get(i + 1).context("gitleaks needs the JSONL written by scripts/gitleaks-cases")?;
        let detector = claw::boundary::leak::Detector::patterns_only();
        let patterns = claw::boundary::patterns::Patterns::builtin();
        let families: std::collections::HashMap<&str, &str> =
            (0..patterns.len()).map(|r| (patterns.name(r), patterns.family(r))).collect();
        let report = gitleaks::measure(std::path::Path::new(path), |text| {
            detector
                .scan(text)
                .iter()
                .map(|f| (families.get(f.name()).copied().unwrap_or("").to_string(), f.name().to_string()))
                .collect()
        })?;
        report.print(args.iter().any(|a| a == "--details"));
    }
    if let Some(i) = args.iter().position(|a| a == "injection") {
        // Cases from `scripts/injection-cases`: read at measurement time, never committed.
        let path = args.get(i + 1).context("injection needs the JSONL written by scripts/injection-cases")?;
        injection::run(std::path::Path::new(path), args.iter().any(|a| a == "--details"))?;
    }
    if want("load-cached") {
        let s = load_cached(500)?;
        emit(
            json!({"name": "load-cached", "iterations": s.n, "p50": round3(s.p50), "p99": round3(s.p99), "unit": "ms", "target": "<= 5 ms"}),
        );
    }
    if want("hot-swap") {
        let s = hot_swap(200)?;
        emit(json!({"name": "hot-swap", "iterations": s.n, "p50": round3(s.p50), "p99": round3(s.p99), "unit": "ms",
            "what": "a running host notices an upgrade in the store and swaps its live table"}));
    }
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

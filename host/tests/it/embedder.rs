//! A remote OpenAI-compatible embedder, reached through the egress
//! boundary (key injected from the vault, audited), swapped in for the
//! offline one (re-embedding while search keeps answering, and by `claw
//! run` in the background), and failing (full-text keeps working and says
//! so) — on both backends.

use crate::common::{TestHome, lines, wait_for};
use crate::db::TestDb;
use crate::on_both_backends;
use claw::boundary::Boundary;
use claw::boundary::audit::AuditLog;
use claw::config::Config;
use claw::memory::chunk::chunk;
use claw::memory::embed::{OFFLINE_DIMS, OFFLINE_ID};
use claw::memory::index::Memory;
use claw::store::workspace::Origin;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const KEY: &str = "emb-key-7c1d9a0b2e";
const DIMS: usize = 64;

/// A scripted `/v1/embeddings` server: vectors are the first 64 dimensions
/// of the offline embedding (so similar text stays similar); it records
/// each request's Authorization header and the texts it was asked to
/// embed, and can be told to fail.
struct EmbeddingServer {
    port: u16,
    auth: Arc<Mutex<Vec<String>>>,
    inputs: Arc<Mutex<Vec<String>>>,
    failing: Arc<AtomicBool>,
}

impl EmbeddingServer {
    fn start() -> EmbeddingServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let auth = Arc::new(Mutex::new(Vec::new()));
        let inputs = Arc::new(Mutex::new(Vec::new()));
        let failing = Arc::new(AtomicBool::new(false));
        let (a, inp, f) = (auth.clone(), inputs.clone(), failing.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut len, mut authz) = (0usize, String::new());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    let lower = h.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if lower.starts_with("authorization:") {
                        authz = h["authorization:".len()..].trim().to_string();
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                a.lock().unwrap().push(authz);
                let (status, reply) = if f.load(Ordering::SeqCst) {
                    ("500 Internal Server Error", r#"{"error":"model not loaded"}"#.to_string())
                } else {
                    let req: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let texts = req["input"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string());
                    inp.lock().unwrap().extend(texts);
                    let data: Vec<serde_json::Value> = req["input"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .enumerate()
                        .map(|(i, t)| {
                            let v = &claw::memory::embed::offline(t.as_str().unwrap())[..DIMS];
                            serde_json::json!({"object": "embedding", "index": i, "embedding": v})
                        })
                        .collect();
                    ("200 OK", serde_json::json!({"object": "list", "data": data, "model": req["model"]}).to_string())
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            }
        });
        EmbeddingServer { port, auth, inputs, failing }
    }

    /// The texts embedded so far, sorted.
    fn inputs(&self) -> Vec<String> {
        let mut all = self.inputs.lock().unwrap().clone();
        all.sort();
        all
    }
}

/// Every chunk's embedder and dimensions, read from `db` over a read-only
/// connection (as a claw that just exited left them).
async fn chunk_embedders(db: &TestDb) -> Vec<(Option<String>, Option<i32>)> {
    const SQL: &str = "SELECT embedder, dims FROM chunks ORDER BY id";
    let rows = if db.url.is_postgres() {
        let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(db.url.as_str()).await.unwrap();
        sqlx::query("SET default_transaction_read_only = on").execute(&mut c).await.unwrap();
        sqlx::query_as(SQL).fetch_all(&mut c).await
    } else {
        use sqlx::ConnectOptions as _;
        use std::str::FromStr as _;
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(db.url.as_str()).unwrap().read_only(true);
        match options.connect().await {
            Ok(mut c) => sqlx::query_as(SQL).fetch_all(&mut c).await,
            Err(e) => Err(e),
        }
    };
    rows.unwrap_or_else(|e| panic!("claw wrote no chunks to {:?}: {e}", db.url))
}

/// A home whose store is `db` and whose embedder is the server (or offline).
fn home(db: &TestDb, server: Option<&EmbeddingServer>) -> (TestHome, Config) {
    let h = TestHome::new();
    std::fs::create_dir_all(&h.home.config).unwrap();
    let mut text = format!("database_url = \"{}\"\n", db.url.as_str());
    if let Some(s) = server {
        text.push_str(&format!(
            "[embedder]\nkind = \"openai\"\nurl = \"http://127.0.0.1:{}/v1/embeddings\"\nmodel = \"test-embed\"\ncredential = \"emb_key\"\n",
            s.port
        ));
    }
    std::fs::write(h.home.config.join("config.toml"), text).unwrap();
    let mut v = claw::vault::Vault::open(&h.home, true).unwrap();
    v.set("emb_key", KEY.as_bytes()).unwrap();
    let config = Config::load(&h.home).unwrap();
    (h, config)
}

fn memory(h: &TestHome, config: &Config, store: claw::store::Store) -> Memory {
    let boundary = Arc::new(Boundary::for_home(&h.home).unwrap());
    Memory::new(store, Memory::configured(config, boundary).unwrap(), config.memory.rrf_k)
}

async fn seed(store: &claw::store::Store) {
    let ws = store.workspace();
    ws.write(
        "ops/deploy.md",
        "The deployment pipeline builds the container image and pushes it to the registry.",
        Origin::Operator,
    )
    .await
    .unwrap();
    ws.write("recipes/cake.md", "Lemon cake with sugar, flour and butter.", Origin::Operator).await.unwrap();
}

on_both_backends!(
    a_remote_embedder_goes_through_the_boundary,
    changing_the_embedder_re_embeds_while_search_answers,
    a_failing_endpoint_leaves_full_text_working,
    claw_run_re_embeds_in_the_background_after_the_embedder_changes,
);

async fn a_remote_embedder_goes_through_the_boundary(db: &TestDb) {
    let server = EmbeddingServer::start();
    let (h, config) = home(db, Some(&server));
    let store = db.store().await;
    seed(&store).await;
    let m = memory(&h, &config, store);
    assert_eq!(m.embed_all(|_, _| {}).await.unwrap(), 2);
    assert_eq!(server.auth.lock().unwrap()[0], format!("Bearer {KEY}"), "the boundary injected the key");
    let r = m.search("deployment pipeline registry", 5, "").await.unwrap();
    assert!(r.degraded.is_none(), "{:?}", r.degraded);
    assert_eq!(r.hits[0].path, "ops/deploy.md");
    assert!(r.hits[0].vector.is_some(), "{:#?}", r.hits);
    let log = AuditLog::new(&h.home.data.join("audit.jsonl")).read().unwrap();
    assert!(
        log.iter().any(|r| r.component == "host:embedder" && r.decision == "allow" && r.secrets == vec!["emb_key"]),
        "{log:#?}"
    );
    let raw = std::fs::read_to_string(h.home.data.join("audit.jsonl")).unwrap();
    assert!(!raw.contains(KEY));
}

async fn changing_the_embedder_re_embeds_while_search_answers(db: &TestDb) {
    let server = EmbeddingServer::start();
    let store = db.store().await;
    seed(&store).await;
    let (h, offline_config) = home(db, None);
    let offline = memory(&h, &offline_config, store.clone());
    offline.embed_all(|_, _| {}).await.unwrap();
    assert_eq!(offline.search("lemon cake", 5, "").await.unwrap().pending, 0);

    let (h2, remote_config) = home(db, Some(&server));
    let remote = memory(&h2, &remote_config, store.clone());
    let before = remote.search("lemon cake", 5, "").await.unwrap();
    assert_eq!(before.pending, 2, "every chunk waits for the new embedder");
    assert_eq!(before.hits[0].path, "recipes/cake.md", "search keeps answering from full text meanwhile");
    assert!(before.hits[0].vector.is_none());
    remote.embed_all(|_, _| {}).await.unwrap();
    let after = remote.search("lemon cake", 5, "").await.unwrap();
    assert_eq!(after.pending, 0);
    assert!(after.hits[0].vector.is_some());
}

async fn a_failing_endpoint_leaves_full_text_working(db: &TestDb) {
    let server = EmbeddingServer::start();
    server.failing.store(true, Ordering::SeqCst);
    let (h, config) = home(db, Some(&server));
    let store = db.store().await;
    seed(&store).await;
    let m = memory(&h, &config, store);
    let err = m.embed_all(|_, _| {}).await.unwrap_err();
    assert!(err.contains("500") && err.contains("model not loaded"), "{err}");
    let r = m.search("lemon cake", 5, "").await.unwrap();
    assert!(r.degraded.as_deref().is_some_and(|d| d.contains("full-text results only")), "{:?}", r.degraded);
    assert_eq!(r.hits[0].path, "recipes/cake.md");
    assert!(!format!("{err}{:?}", r.degraded).contains(KEY));
}

/// `claw run` with its store in `db` (`CLAW_DATABASE_URL`): the documents
/// were embedded offline, the operator then configured a remote embedder,
/// and claw run re-embeds them in the background on its own. The evidence
/// is claw run's: its notices on stderr, the texts the server was sent, and
/// the chunks as claw run left them in `db` (read after it exits).
async fn claw_run_re_embeds_in_the_background_after_the_embedder_changes(db: &TestDb) {
    let server = EmbeddingServer::start();
    let h = TestHome::on(db);
    let docs = [("a.md", "lemon cake recipe"), ("b.md", "deployment pipeline notes")];
    for (path, text) in docs {
        h.memory_write(path, text);
    }
    let offline = (Some(OFFLINE_ID.to_string()), Some(OFFLINE_DIMS as i32));
    assert_eq!(chunk_embedders(db).await, vec![offline.clone(), offline], "written and embedded offline");
    // The operator switches to a remote embedder.
    std::fs::create_dir_all(&h.home.config).unwrap();
    std::fs::write(
        h.home.config.join("config.toml"),
        format!(
            "[embedder]\nkind = \"openai\"\nurl = \"http://127.0.0.1:{}/v1/embeddings\"\nmodel = \"test-embed\"\n",
            server.port
        ),
    )
    .unwrap();
    assert!(server.inputs().is_empty());

    let mut run = h.command(&["run"]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let notes = lines(run.stderr.take().unwrap());
    wait_for(&notes, "memory: embedding 2 chunk(s) with test-embed in the background");
    wait_for(&notes, "memory: embedded 2 chunk(s) with test-embed");
    let mut sent: Vec<String> = docs.iter().flat_map(|(p, t)| chunk(p, t)).collect();
    sent.sort();
    assert_eq!(server.inputs(), sent, "claw run sent every chunk of both documents, once");
    drop(run.stdin.take());
    assert!(run.wait().unwrap().success());

    let remote = (Some(format!("openai:test-embed@http://127.0.0.1:{}/v1/embeddings", server.port)), Some(DIMS as i32));
    assert_eq!(chunk_embedders(db).await, vec![remote.clone(), remote], "every chunk is the new embedder's");
    assert!(!h.has_default_store(), "claw run used the database it was given");
}

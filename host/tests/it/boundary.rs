//! The egress boundary end to end: injection, response redaction, leak
//! blocking, the address policy and the audit log, with http-fetch against
//! a real server on 127.0.0.1.

use crate::common::{TestHome, TestServer, add};
use claw::boundary::audit::AuditLog;
use claw::runtime::CallError;
use claw::vault::Vault;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};

const TOKEN: &str = "tok-9f8e7d6c5b4a3210";

fn set_secret(h: &TestHome, name: &str, value: &str) {
    let mut v = Vault::open(&h.home, true).unwrap();
    v.set(name, value.as_bytes()).unwrap();
}

/// The log as written: outcomes are queued behind their decisions, so wait
/// for the writer first.
fn audit(h: &TestHome, rt: &claw::runtime::Runtime) -> Vec<claw::boundary::audit::Record> {
    rt.boundary().flush_audit();
    AuditLog::new(&h.home.data.join("audit.jsonl")).read().unwrap()
}

fn fetch_grant(port: u16) -> String {
    format!(
        r#"
[[http]]
url = "http://127.0.0.1:{port}/**"

[[secrets]]
name = "api_token"
origins = ["http://127.0.0.1:{port}"]
inject = "header"
header = "Authorization"
format = "Bearer {{secret}}"
"#
    )
}

#[tokio::test]
async fn the_boundary_injects_and_the_component_never_sees_the_value() {
    let server = TestServer::start(0);
    let h = TestHome::new();
    set_secret(&h, "api_token", TOKEN);
    let rt = h.runtime();
    add(&rt, "fetch", "http_fetch", &fetch_grant(server.port)).await.unwrap();
    let out = rt.call("fetch", &format!(r#"{{"url":"http://127.0.0.1:{}/echo"}}"#, server.port)).await.unwrap();

    // The server received the injected credential...
    let heads = server.heads();
    assert!(heads[0].contains(&format!("authorization: Bearer {TOKEN}")), "{heads:?}");
    // ...and its echo of it came back redacted, body and headers alike.
    assert!(!out.contains(TOKEN), "the value reached the component: {out}");
    assert!(out.contains("[REDACTED:api_token]"), "{out}");

    let records = audit(&h, &rt);
    let last = records.last().unwrap();
    assert_eq!(last.decision, "allow");
    assert_eq!(last.secrets, vec!["api_token"]);
    assert_eq!(last.redacted, vec!["api_token"]);
    assert_eq!(last.status, Some(200));
    let raw = std::fs::read_to_string(h.home.data.join("audit.jsonl")).unwrap();
    assert!(!raw.contains(TOKEN), "the audit log holds names, never values");
}

#[tokio::test]
async fn a_request_carrying_a_vault_value_is_blocked_and_audited_by_name() {
    let server = TestServer::start(0);
    let h = TestHome::new();
    set_secret(&h, "api_token", TOKEN);
    set_secret(&h, "other", "an-unrelated-secret-value");
    let rt = h.runtime();
    add(&rt, "fetch", "http_fetch", &fetch_grant(server.port)).await.unwrap();
    // The component smuggles a value it should never have had, hex-encoded.
    let smuggled = hex::encode("an-unrelated-secret-value");
    let err = rt
        .call("fetch", &format!(r#"{{"url":"http://127.0.0.1:{}/hello?x={smuggled}"}}"#, server.port))
        .await
        .unwrap_err();
    assert!(matches!(&err, CallError::Tool { .. }) && err.to_string().contains("denied"), "{err}");
    assert!(server.seen().is_empty(), "nothing left the host");
    let last = audit(&h, &rt).pop().unwrap();
    assert_eq!(last.decision, "deny");
    assert!(last.rule.contains("leak") && last.rule.contains("`other`") && last.rule.contains("hex"), "{}", last.rule);
    assert!(!last.rule.contains(&smuggled));
}

#[tokio::test]
async fn a_granted_secret_missing_from_the_vault_fails_naming_it_and_the_fix() {
    let server = TestServer::start(0);
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "fetch", "http_fetch", &fetch_grant(server.port)).await.unwrap();
    let err = rt.call("fetch", &format!(r#"{{"url":"http://127.0.0.1:{}/echo"}}"#, server.port)).await.unwrap_err();
    assert!(err.to_string().contains("denied"), "{err}");
    assert!(server.seen().is_empty());
    let last = audit(&h, &rt).pop().unwrap();
    assert!(last.rule.contains("api_token") && last.rule.contains("claw secret set api_token"), "{}", last.rule);
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_unless_the_grant_names_the_network() {
    let server = TestServer::start(0);
    let name = std::process::Command::new("hostname").output().unwrap();
    let name = String::from_utf8_lossy(&name.stdout).trim().to_string();
    let resolved: Vec<std::net::SocketAddr> =
        std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), server.port)).unwrap().collect();
    assert!(
        resolved.iter().any(|a| a.ip().is_loopback()),
        "this test needs the machine's host name ({name}) to resolve to loopback, as /etc/hosts has it here; got {resolved:?}"
    );
    let h = TestHome::new();
    let rt = h.runtime();
    let rule = format!("[[http]]\nurl = \"http://{name}:{}/hello\"\n", server.port);
    add(&rt, "fetch", "http_fetch", &rule).await.unwrap();
    let url = format!(r#"{{"url":"http://{name}:{}/hello"}}"#, server.port);
    let err = rt.call("fetch", &url).await.unwrap_err();
    assert!(err.to_string().contains("denied"), "{err}");
    assert!(server.seen().is_empty());
    let last = audit(&h, &rt).pop().unwrap();
    assert!(last.rule.contains("address policy") && last.rule.contains("loopback"), "{}", last.rule);

    // Naming the network opens it.
    let bytes = std::fs::read(crate::common::guest("http_fetch")).unwrap();
    let grant = format!("{rule}[network]\nallow = [\"127.0.0.1\", \"::1\"]\n");
    let p = rt.prepare("fetch", "http_fetch", bytes, grant, "g".into(), || {}).await.unwrap();
    rt.commit(p, true).unwrap();
    let out = rt.call("fetch", &url).await.unwrap();
    assert!(out.contains("hello from the test server"), "{out}");
}

#[tokio::test]
async fn a_response_too_large_to_redact_fails_instead_of_passing_unredacted() {
    // The request-body cap is exercised by the conformance attack guest.
    let server = TestServer::start(0);
    let h = TestHome::new();
    set_secret(&h, "api_token", TOKEN);
    let rt = h.runtime();
    let grant = fetch_grant(server.port) + "[limits]\nhttp_response_kib = 1\n";
    add(&rt, "fetch", "http_fetch", &grant).await.unwrap();
    // /echo answers with the request head, well under 1 KiB: allowed.
    rt.call("fetch", &format!(r#"{{"url":"http://127.0.0.1:{}/echo"}}"#, server.port)).await.unwrap();
    // A long query makes the echoed head larger than the 1 KiB the grant
    // allows a response: the body is cut off there (what passed before was
    // redacted as it streamed), and the call fails.
    let long = "q".repeat(1500);
    let err =
        rt.call("fetch", &format!(r#"{{"url":"http://127.0.0.1:{}/echo?{long}"}}"#, server.port)).await.unwrap_err();
    assert!(err.to_string().contains("limit") || err.to_string().contains("over"), "{err}");
    let last = audit(&h, &rt).pop().unwrap();
    assert!(last.rule.contains("the reply is over 1024 bytes"), "{}", last.rule);
    // Each request: its decision before it was sent, its outcome after.
    rt.boundary().flush_audit();
    let chain = AuditLog::new(&h.home.data.join("audit.jsonl")).verify().unwrap();
    assert_eq!(chain, 4);
    assert_eq!(last.outcome_of, Some(3));
}

/// A server that holds every request until the test lets it go, and
/// counts: requests arrived, held now, most held at once. Overlap is
/// counted, not timed.
#[derive(Clone)]
struct GateServer {
    port: u16,
    gate: Arc<(Mutex<Gate>, Condvar)>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Gate {
    arrived: usize,
    held: usize,
    most: usize,
    released: usize,
}

impl GateServer {
    fn start() -> GateServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let gate = Arc::new((Mutex::new(Gate::default()), Condvar::new()));
        let shared = gate.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let gate = shared.clone();
                std::thread::spawn(move || {
                    use std::io::{BufRead as _, Write as _};
                    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 0 && !line.ends_with("\r\n\r\n") {}
                    let (lock, cv) = &*gate;
                    let mut g = lock.lock().unwrap();
                    let ticket = g.arrived;
                    g.arrived += 1;
                    g.held += 1;
                    g.most = g.most.max(g.held);
                    cv.notify_all();
                    while g.released <= ticket {
                        g = cv.wait(g).unwrap();
                    }
                    g.held -= 1;
                    drop(g);
                    let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
                });
            }
        });
        GateServer { port, gate }
    }

    fn now(&self) -> Gate {
        *self.gate.0.lock().unwrap()
    }

    fn release(&self, n: usize) {
        self.gate.0.lock().unwrap().released += n;
        self.gate.1.notify_all();
    }
}

/// Poll `cond` until it holds; after 30 s fail with `what` (a deadline for
/// failing, not a pause that decides the outcome).
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_capped_per_component() {
    let server = GateServer::start();
    let h = TestHome::new();
    let rt = h.runtime();
    let rule = format!("[[http]]\nurl = \"http://127.0.0.1:{}/gate\"\n", server.port);
    add(&rt, "one", "http_fetch", &format!("{rule}[limits]\nhttp_concurrency = 1\n")).await.unwrap();
    add(&rt, "many", "http_fetch", &rule).await.unwrap();
    let url = format!(r#"{{"url":"http://127.0.0.1:{}/gate"}}"#, server.port);
    let spawn = |tool: &'static str| -> Vec<_> {
        (0..4)
            .map(|_| {
                let rt = rt.clone();
                let url = url.clone();
                tokio::spawn(async move { rt.call(tool, &url).await })
            })
            .collect()
    };

    // Cap 1: at every step one request is at the server and all the
    // others wait at the cap, in the boundary; then one is let go.
    let one = rt.tool("one").unwrap();
    let calls = spawn("one");
    for step in 0..4 {
        until(&format!("step {step}: one request held, {} waiting at the cap", 3 - step), || {
            let g = server.now();
            g.arrived == step + 1 && g.held == 1 && one.config.egress().waiting.load(Ordering::Relaxed) == 3 - step
        })
        .await;
        server.release(1);
    }
    for c in calls {
        c.await.unwrap().expect("every call completes");
    }
    assert_eq!(server.now().most, 1, "never two requests at the server at once");

    // The default cap: all four are at the server at the same time.
    let calls = spawn("many");
    until("four requests held at once", || server.now().held == 4).await;
    server.release(4);
    for c in calls {
        c.await.unwrap().expect("every call completes");
    }
}

#[tokio::test]
async fn a_request_whose_decision_cannot_be_written_is_not_sent() {
    let server = TestServer::start(0);
    let h = TestHome::new();
    // The log's path is taken by a directory: no record can be written.
    std::fs::create_dir_all(h.home.data.join("audit.jsonl")).unwrap();
    let rt = h.runtime();
    add(&rt, "fetch", "http_fetch", &format!("[[http]]\nurl = \"http://127.0.0.1:{}/**\"\n", server.port))
        .await
        .unwrap();
    let err = rt.call("fetch", &format!(r#"{{"url":"http://127.0.0.1:{}/hello"}}"#, server.port)).await.unwrap_err();
    assert!(err.to_string().contains("audit log") && err.to_string().contains("not sent"), "{err}");
    assert!(server.seen().is_empty(), "{:?}", server.seen());
}

#[tokio::test]
async fn a_looping_component_cannot_fill_the_log_with_one_denial() {
    let server = TestServer::start(0);
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "fetch", "http_fetch", &format!("[[http]]\nurl = \"http://127.0.0.1:{}/hello\"\n", server.port))
        .await
        .unwrap();
    let denied = format!(r#"{{"url":"http://127.0.0.1:{}/other"}}"#, server.port);
    for _ in 0..200 {
        rt.call("fetch", &denied).await.unwrap_err();
    }
    rt.boundary().flush_audit();
    let records = audit(&h, &rt);
    assert!(records.len() <= 3, "{} records for one repeated denial", records.len());
    // The first denial is a record; a counted record stands for its repeats.
    let counted: u64 = records.iter().map(|r| r.repeats.unwrap_or(1)).sum();
    assert_eq!(counted, 200, "{records:#?}");
    assert!(AuditLog::new(&h.home.data.join("audit.jsonl")).verify().is_ok());
}

#[test]
fn a_locked_vault_denies_every_outbound_request_and_says_why() {
    let server = TestServer::start(0);
    let h = TestHome::new();
    set_secret(&h, "api_token", TOKEN);
    let grant = h.grant_file("g.toml", &fetch_grant(server.port));
    let wasm = crate::common::guest("http_fetch");
    let add =
        h.claw(&["component", "add", wasm.to_str().unwrap(), "--name", "fetch", "--grant", grant.to_str().unwrap()]);
    assert!(add.status.success(), "{}", crate::common::stderr(&add));
    let call = format!(r#"{{"url":"http://127.0.0.1:{}/hello"}}"#, server.port);
    // A wrong key, then no key at all: the vault exists but does not open.
    let wrong = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [9u8; 64]);
    let out = h.command(&["tool", "call", "fetch", &call]).env("CLAW_MASTER_KEY", &wrong).output().unwrap();
    let err = crate::common::stderr(&out);
    assert!(!out.status.success() && err.contains("the vault is locked"), "{err}");
    std::fs::remove_file(h.dir.path().join("config/master.key")).unwrap();
    let out = h.claw(&["tool", "call", "fetch", &call]);
    let err = crate::common::stderr(&out);
    assert!(!out.status.success() && err.contains("the vault is locked") && err.contains("no master key"), "{err}");
    assert!(server.seen().is_empty(), "nothing left while the vault was locked: {:?}", server.seen());
    assert!(!err.contains(TOKEN));
}

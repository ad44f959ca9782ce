//! Bad input: each is a clear error, nothing is half-added, and the host
//! keeps serving afterwards.

use crate::common::{TestHome, add, guest, stderr};
use claw::runtime::CallError;
use serde_json::json;

/// A failed add leaves the index exactly as it was.
fn assert_unchanged(h: &TestHome, before: &claw::components::Index) {
    let after = claw::components::ComponentStore::new(&h.home.components()).index().unwrap();
    assert_eq!(after.generation, before.generation, "the index was rewritten");
    assert_eq!(after.components.keys().collect::<Vec<_>>(), before.components.keys().collect::<Vec<_>>());
}

fn setup() -> (TestHome, claw::components::Index) {
    let h = TestHome::new();
    let out = h.claw(&["component", "add", guest("echo").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let index = claw::components::ComponentStore::new(&h.home.components()).index().unwrap();
    (h, index)
}

fn assert_still_serving(h: &TestHome) {
    let out = h.claw(&["tool", "call", "echo", r#"{"text":"still here"}"#]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "still here");
}

#[test]
fn a_file_that_is_not_wasm_is_refused() {
    let (h, before) = setup();
    let junk = h.grant_file("junk.wasm", "this is not wasm");
    let out = h.claw(&["component", "add", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("junk.wasm is not a WebAssembly file"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert_unchanged(&h, &before);
    assert_still_serving(&h);
}

#[test]
fn a_core_module_is_refused_as_not_a_component() {
    let (h, before) = setup();
    let module = wat::parse_str("(module (func (export \"run\")))").unwrap();
    let path = h.dir.path().join("core.wasm");
    std::fs::write(&path, module).unwrap();
    let out = h.claw(&["component", "add", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("is a core WebAssembly module, not a component"), "{err}");
    assert!(err.contains("wasm32-wasip2"), "{err}");
    assert_unchanged(&h, &before);
    assert_still_serving(&h);
}

#[test]
fn a_component_of_the_wrong_world_is_refused() {
    let (h, before) = setup();
    let out = h.claw(&["component", "add", guest("not-a-tool").to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("does not implement a claw world"), "{err}");
    assert!(err.contains("wasi:cli/run"), "{err}");
    assert_unchanged(&h, &before);
}

#[test]
fn a_grant_that_does_not_parse_names_the_line() {
    let (h, before) = setup();
    let grant = h
        .grant_file("bad.toml", "[limits]\nmemory_mib = 64\n\n[[http]]\nurl = \"https://x.com\"\nmethod = [\"GET\"]\n");
    let out = h.claw(&["component", "add", guest("clock").to_str().unwrap(), "--grant", grant.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("bad.toml:6:"), "{err}");
    assert!(err.contains("method"), "{err}");
    assert_unchanged(&h, &before);
}

#[test]
fn an_import_with_no_grant_is_refused_naming_import_and_fix() {
    let (h, before) = setup();
    let out = h.claw(&["component", "add", guest("http_fetch").to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("wasi:http/outgoing-handler"), "{err}");
    assert!(err.contains("[[http]]"), "{err}");
    assert_unchanged(&h, &before);
    let caller_grant = h.grant_file("empty.toml", "");
    let out =
        h.claw(&["component", "add", guest("caller").to_str().unwrap(), "--grant", caller_grant.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(err.contains("claw:runtime/invoke") && err.contains("empty.toml") && err.contains("[invoke]"), "{err}");
    assert_unchanged(&h, &before);
}

#[tokio::test]
async fn a_tool_that_traps_is_a_clear_error_and_the_host_keeps_serving() {
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "misbehave", "misbehave", &misbehave_grant(9, "")).await.unwrap();
    add(&rt, "echo", "echo", "").await.unwrap();
    let err = rt.call("misbehave", r#"{"how":"trap"}"#).await.unwrap_err();
    assert!(matches!(err, CallError::Trap { .. }), "{err}");
    assert!(err.to_string().contains("deliberate trap"), "the guest's panic message is reported: {err}");
    assert_eq!(rt.call("misbehave", r#"{"how":"ok"}"#).await.unwrap(), "\"fine\"");
    assert_eq!(rt.call("echo", r#"{"text":"a"}"#).await.unwrap(), "\"a\"");
}

#[tokio::test]
async fn a_tool_that_loops_forever_is_stopped_at_its_deadline() {
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "misbehave", "misbehave", &misbehave_grant(9, "[limits]\ntimeout_ms = 300\n")).await.unwrap();
    let started = std::time::Instant::now();
    let err = rt.call("misbehave", r#"{"how":"loop"}"#).await.unwrap_err();
    assert!(matches!(err, CallError::Timeout { ms: 300, .. }), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "stopped promptly");
    assert_eq!(rt.call("misbehave", r#"{"how":"ok"}"#).await.unwrap(), "\"fine\"");
}

#[tokio::test]
async fn a_loop_does_not_block_other_calls() {
    // One executor thread: were the looping guest not to yield, nothing
    // else could run until its deadline. (1.5 s of real time: the loop must
    // run long enough for dozens of calls to pass it.)
    let (port, closed) = signal_server();
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "misbehave", "misbehave", &misbehave_grant(port, "[limits]\ntimeout_ms = 1500\n")).await.unwrap();
    add(&rt, "echo", "echo", "").await.unwrap();
    let looping = {
        let rt = rt.clone();
        let params = json!({"how": "loop", "signal": format!("http://127.0.0.1:{port}/hello")});
        tokio::spawn(async move { rt.call("misbehave", &params.to_string()).await })
    };
    // The guest's signal is done with (its connection closed): from here
    // on, that call is in its loop.
    while !closed.load(std::sync::atomic::Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    // Echo again and again, yielding between calls so the loop gets the
    // thread. A loop that kept it would run to its deadline in one go and
    // at most one call would finish meanwhile; one that yields at each
    // epoch tick lets dozens through. (The echoes run in a task of their
    // own: the test's own future is polled only every 61 task polls.)
    let echoes = {
        let rt = rt.clone();
        tokio::spawn(async move {
            let mut during = 0;
            while !looping.is_finished() {
                assert_eq!(rt.call("echo", r#"{"text":"b"}"#).await.unwrap(), "\"b\"");
                yield_once().await;
                during += usize::from(!looping.is_finished());
            }
            (during, looping.await.unwrap())
        })
    };
    let (during, looped) = echoes.await.unwrap();
    assert!(during >= 10, "only {during} echo call(s) finished while the loop ran");
    assert!(matches!(looped, Err(CallError::Timeout { .. })), "{looped:?}");
}

/// A server for one request that answers it, then waits for the client to
/// close the connection (the answer was read to its end) and says so.
fn signal_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::{BufRead as _, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = closed.clone();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        while reader.read_line(&mut head).unwrap_or(0) > 0 && !head.ends_with("\r\n\r\n") {}
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        let _ = reader.read_to_end(&mut Vec::new());
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    (port, closed)
}

/// Yield once, queued right behind the other ready tasks (tokio's
/// `yield_now` defers its wake-up until the I/O driver next runs).
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            std::task::Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

/// misbehave imports wasi:http (for its `signal`), so its grant needs a
/// rule: the loopback server of a test, or one nothing listens on (port 9).
fn misbehave_grant(port: u16, limits: &str) -> String {
    format!("[[http]]\nurl = \"http://127.0.0.1:{port}/hello\"\n{limits}")
}

#[tokio::test]
async fn a_tool_that_grows_memory_without_bound_is_stopped_at_its_limit() {
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "misbehave", "misbehave", &misbehave_grant(9, "[limits]\nmemory_mib = 48\n")).await.unwrap();
    let err = rt.call("misbehave", r#"{"how":"grow"}"#).await.unwrap_err();
    assert!(matches!(err, CallError::Memory { mib: 48, .. }), "{err}");
    assert!(err.to_string().contains("memory limit of 48 MiB"), "{err}");
    assert_eq!(rt.call("misbehave", r#"{"how":"ok"}"#).await.unwrap(), "\"fine\"");
}

#[tokio::test]
async fn a_tool_that_returns_100_mb_is_refused_by_the_output_cap() {
    let h = TestHome::new();
    let rt = h.runtime();
    // Enough memory to build the string, so the output cap is what stops it.
    add(&rt, "misbehave", "misbehave", &misbehave_grant(9, "[limits]\nmemory_mib = 512\noutput_kib = 1024\n"))
        .await
        .unwrap();
    let err = rt.call("misbehave", r#"{"how":"big-output","bytes":104857600}"#).await.unwrap_err();
    match &err {
        CallError::OutputTooLarge { bytes, limit, .. } => {
            assert!(*bytes > 100 << 20);
            assert_eq!(*limit, 1 << 20);
        }
        other => panic!("expected OutputTooLarge, got {other}"),
    }
    let small = rt.call("misbehave", r#"{"how":"big-output","bytes":1000}"#).await.unwrap();
    assert_eq!(small.len(), 1002);
}

#[test]
fn invalid_json_and_schema_mismatch_are_clear_errors() {
    let (h, _) = setup();
    let out = h.claw(&["tool", "call", "echo", "{not json"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not valid JSON"), "{}", stderr(&out));
    let out = h.claw(&["tool", "call", "echo", r#"{"text": 5}"#]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("invalid parameters") && err.contains("expected a string"), "{err}");
    assert!(err.contains("claw component inspect echo"), "{err}");
    let out = h.claw(&["tool", "call", "nope", "{}"]);
    assert!(stderr(&out).contains("no tool named `nope`"), "{}", stderr(&out));
}

#[test]
fn a_tool_grant_asking_for_the_providers_is_refused() {
    // `[providers] use = true` hands over every provider's origin and key:
    // the LLM router's alone.
    let (h, before) = setup();
    let grant = h.grant_file("g.toml", "[providers]\nuse = true\n");
    let out = h.claw(&["component", "add", guest("http_fetch").to_str().unwrap(), "--grant", grant.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("[providers] use = true is for the LLM router only"), "{err}");
    assert_unchanged(&h, &before);
    assert_still_serving(&h);
}

/// Resident memory of this test process, in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 4096
}

#[tokio::test]
async fn host_side_resources_count_against_the_components_memory_limit() {
    // Header maps live in the host: a component with an empty grant asks
    // for 20,000 of 30 KB each (600 MB). It is stopped at its memory
    // limit's worth (32 MiB here), and the host keeps serving.
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "misbehave", "misbehave", &misbehave_grant(9, "[limits]\nmemory_mib = 32\n")).await.unwrap();
    let before = rss();
    let err = rt.call("misbehave", r#"{"how":"fields"}"#).await.unwrap_err();
    assert!(matches!(err, CallError::Trap { .. }), "{err}");
    let grown = rss().saturating_sub(before);
    assert!(grown < 200 << 20, "the host grew by {} MiB for one component", grown >> 20);
    assert_eq!(rt.call("misbehave", r#"{"how":"ok"}"#).await.unwrap(), "\"fine\"");
}

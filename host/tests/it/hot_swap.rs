//! Hot-loading: add, upgrade and remove with no restart; calls in flight
//! finish on the version they started with, new calls use the new one.

use crate::common::{TestHome, add, guest, stderr};
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_flight_during_a_swap_all_succeed() {
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "v", "versioned_1", "").await.unwrap();

    let spawn_batch = |n: usize| {
        (0..n)
            .map(|_| {
                let rt = rt.clone();
                tokio::spawn(async move { rt.call("v", r#"{"sleep_ms": 300}"#).await })
            })
            .collect::<Vec<_>>()
    };
    let before = spawn_batch(16);
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Upgrade while the first batch sleeps inside version 1.
    let bytes = std::fs::read(guest("versioned_2")).unwrap();
    let prepared = rt.prepare("v", "versioned_2", bytes, String::new(), "g".into(), || {}).await.unwrap();
    rt.commit(prepared, true).unwrap();
    let after = spawn_batch(16);

    let version = |out: String| serde_json::from_str::<serde_json::Value>(&out).unwrap()["version"].as_u64().unwrap();
    for call in before {
        let out = call.await.unwrap().expect("no call in flight fails during the swap");
        assert_eq!(version(out), 1, "a call that started on v1 finishes on v1");
    }
    for call in after {
        let out = call.await.unwrap().expect("no call after the swap fails");
        assert_eq!(version(out), 2, "calls after the swap use v2");
    }
}

/// Reads lines from a child's stream on a thread, for waiting with a timeout.
fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<String>, what: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(what) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("never saw `{what}`; saw: {seen:#?}");
}

#[test]
fn claw_run_picks_up_add_upgrade_and_remove_without_restart() {
    let h = TestHome::new();
    // The terminal channel: `claw run` serves the terminal through it.
    let grant = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../components/repl/grant.toml");
    let repl = h.claw(&[
        "component",
        "add",
        guest("repl").to_str().unwrap(),
        "--name",
        "repl",
        "--grant",
        grant.to_str().unwrap(),
    ]);
    assert!(repl.status.success(), "{}", stderr(&repl));
    let mut child =
        h.command(&["run"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    wait_for(&err, "claw is running with 0 tool(s)");

    let add = h.claw(&["component", "add", guest("versioned_1").to_str().unwrap(), "--name", "v"]);
    assert!(add.status.success(), "{}", stderr(&add));
    wait_for(&err, "loaded v");
    writeln!(stdin, "/tool v {{}}").unwrap();
    wait_for(&out, "\"version\": 1");

    let up = h.claw(&["component", "upgrade", "v", guest("versioned_2").to_str().unwrap()]);
    assert!(up.status.success(), "{}", stderr(&up));
    wait_for(&err, "upgraded v");
    writeln!(stdin, "/tool v {{}}").unwrap();
    wait_for(&out, "\"version\": 2");

    let rm = h.claw(&["component", "remove", "v"]);
    assert!(rm.status.success(), "{}", stderr(&rm));
    wait_for(&err, "removed v");
    writeln!(stdin, "/tool v {{}}").unwrap();
    wait_for(&out, "no tool named `v`");

    writeln!(stdin, "/quit").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
}

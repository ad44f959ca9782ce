//! Hot-loading: add, upgrade and remove with no restart. Calls keep running
//! while the component is swapped back and forth; none fails or finds no
//! tool, and every call that starts after a swap uses the new version.

use crate::common::{TestHome, add, guest, lines, stderr, wait_for};
use claw::runtime::Runtime;
use std::io::Write as _;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Callers that loop on `v` until stopped, each call sleeping `sleep_ms`
/// inside the guest so calls are always in flight. Each result is kept
/// with the swap generation current when its call *started*.
struct Callers {
    stop: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
    generation: Arc<AtomicUsize>,
    results: Arc<Mutex<Vec<(usize, u64)>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Callers {
    fn start(rt: &Arc<Runtime>, n: usize, sleep_ms: u64) -> Callers {
        let stop = Arc::new(AtomicBool::new(false));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let generation = Arc::new(AtomicUsize::new(0));
        let results = Arc::new(Mutex::new(Vec::new()));
        let tasks = (0..n)
            .map(|_| {
                let (rt, stop, in_flight, generation, results) =
                    (rt.clone(), stop.clone(), in_flight.clone(), generation.clone(), results.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        let started = generation.load(Ordering::SeqCst);
                        in_flight.fetch_add(1, Ordering::SeqCst);
                        let out = rt.call("v", &format!(r#"{{"sleep_ms": {sleep_ms}}}"#)).await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        let out = out.unwrap_or_else(|e| panic!("a call failed during the swaps: {e}"));
                        let version = serde_json::from_str::<serde_json::Value>(&out).unwrap()["version"].as_u64();
                        results.lock().unwrap().push((started, version.expect("a version")));
                    }
                })
            })
            .collect();
        Callers { stop, in_flight, generation, results, tasks }
    }

    /// Wait (no fixed sleep) until a call is in flight.
    async fn until_in_flight(&self) {
        while self.in_flight.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
    }

    /// Wait (no fixed sleep) until `n` calls that started in generation `g`
    /// have finished.
    async fn finish_calls_of(&self, g: usize, n: usize) {
        loop {
            if self.results.lock().unwrap().iter().filter(|(s, _)| *s == g).count() >= n {
                return;
            }
            tokio::task::yield_now().await;
        }
    }

    /// Stop, join (a panicked caller fails the test) and return the results.
    async fn finish(self) -> Vec<(usize, u64)> {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            t.await.expect("no caller failed");
        }
        Arc::try_unwrap(self.results).unwrap().into_inner().unwrap()
    }
}

async fn prepared(rt: &Runtime, wasm: &str) -> claw::runtime::Prepared {
    let bytes = std::fs::read(guest(wasm)).unwrap();
    rt.prepare("v", wasm, bytes, String::new(), "g".into(), || {}).await.unwrap()
}

/// Every result is one of the two versions; every call that started after
/// swap `g` returned the version swap `g` installed.
fn check(results: &[(usize, u64)], version_of: impl Fn(usize) -> u64, swaps: usize) {
    for g in 1..=swaps {
        let of_g: Vec<u64> = results.iter().filter(|(s, _)| *s == g).map(|(_, v)| *v).collect();
        assert!(!of_g.is_empty(), "calls ran after swap {g}");
        assert!(
            of_g.iter().all(|v| *v == version_of(g)),
            "calls started after swap {g} use v{}: {of_g:?}",
            version_of(g)
        );
    }
    assert!(results.iter().all(|(_, v)| *v == 1 || *v == 2));
}

const SWAPS: usize = 6;

/// The generation of calls that started during a swap (either version is right).
const SWAPPING: usize = usize::MAX;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_flight_while_commit_swaps_v1_and_v2_repeatedly_all_succeed() {
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "v", "versioned_1", "").await.unwrap();
    let callers = Callers::start(&rt, 6, 5);
    for g in 1..=SWAPS {
        let wasm = if g % 2 == 1 { "versioned_2" } else { "versioned_1" };
        let next = prepared(&rt, wasm).await;
        callers.until_in_flight().await;
        // Calls that start while the swap happens may see either version.
        callers.generation.store(SWAPPING, Ordering::SeqCst);
        rt.commit(next, true).unwrap();
        // Calls that were in flight across the commit finish on whichever
        // version they started with; later ones must see the new one.
        callers.generation.store(g, Ordering::SeqCst);
        callers.finish_calls_of(g, 6).await;
    }
    let results = callers.finish().await;
    check(&results, |g| if g % 2 == 1 { 2 } else { 1 }, SWAPS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_flight_while_sync_picks_up_index_changes_all_succeed() {
    // One runtime serves the calls and syncs as `claw run` does; another
    // (like `claw component upgrade` in another process) changes the index.
    let h = TestHome::new();
    let serving = h.runtime();
    let cli = h.runtime();
    add(&cli, "v", "versioned_1", "").await.unwrap();
    serving.sync().unwrap();
    let callers = Callers::start(&serving, 6, 5);
    for g in 1..=SWAPS {
        let wasm = if g % 2 == 1 { "versioned_2" } else { "versioned_1" };
        let next = prepared(&cli, wasm).await;
        cli.commit(next, true).unwrap();
        callers.until_in_flight().await;
        callers.generation.store(SWAPPING, Ordering::SeqCst);
        let report = serving.sync().unwrap();
        assert_eq!(report.upgraded, vec!["v".to_string()], "swap {g}: sync saw the index change");
        callers.generation.store(g, Ordering::SeqCst);
        callers.finish_calls_of(g, 6).await;
    }
    let results = callers.finish().await;
    check(&results, |g| if g % 2 == 1 { 2 } else { 1 }, SWAPS);
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

//! Routines, jobs and the heartbeat end to end: `claw routine`, `claw
//! jobs` and `claw status` against real `claw run` processes, a scripted
//! OpenAI-compatible LLM server on 127.0.0.1, and the embedded SQLite
//! store; `kill -9` in the middle of a turn and of a tool call.

use crate::agent::{add_provider, install, install_router, set_secret};
use crate::common::{TestHome, guest, lines, ok, stderr, stdout, wait_for};
use crate::llm_server::{Format, LlmServer, Step};
use std::io::Write as _;
use std::process::{Child, Stdio};

fn config(h: &TestHome, text: &str) {
    std::fs::create_dir_all(&h.home.config).unwrap();
    std::fs::write(h.home.config.join("config.toml"), text).unwrap();
}

pub(crate) fn json(h: &TestHome, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = h.claw(&all);
    ok(&out, &args.join(" "));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

/// `claw run` with its stdin, stdout and stderr lines.
pub(crate) struct Running {
    child: Child,
    stdin: std::process::ChildStdin,
    out: std::sync::mpsc::Receiver<String>,
    pub(crate) err: std::sync::mpsc::Receiver<String>,
}

pub(crate) fn start(h: &TestHome) -> Running {
    let mut child =
        h.command(&["run"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdin = child.stdin.take().unwrap();
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    wait_for(&err, "claw is running");
    Running { child, stdin, out, err }
}

impl Running {
    pub(crate) fn quit(mut self) {
        writeln!(self.stdin, "/quit").unwrap();
        assert!(self.child.wait().unwrap().success());
    }

    /// [`Running::quit`], then the stderr lines nobody waited for.
    pub(crate) fn quit_with_stderr(mut self) -> Vec<String> {
        writeln!(self.stdin, "/quit").unwrap();
        assert!(self.child.wait().unwrap().success());
        std::thread::sleep(std::time::Duration::from_millis(100));
        self.err.try_iter().collect()
    }
}

/// A home with the router, the terminal channel, a read-only tool (echo)
/// and one that writes (workspace), talking to `llm`; no heartbeat.
pub(crate) fn home_with(llm: &LlmServer, extra_config: &str) -> TestHome {
    let h = TestHome::new();
    install_router(&h);
    install(&h, "repl", &[]);
    install(&h, "echo", &[]);
    install(&h, "workspace", &[]);
    add_provider(&h, "local", "openai", llm, &[]);
    config(&h, &format!("[heartbeat]\nevery = \"off\"\n{extra_config}"));
    h
}

#[test]
fn a_routine_runs_in_claw_run_with_read_only_tools_and_writes_its_report() {
    let llm = LlmServer::start(Format::OpenAi, vec![Step::Text("Digest: three new notes.".into())]);
    let h = home_with(&llm, "");
    let added = h.claw(&["routine", "add", "digest", "--every", "1h", "--prompt", "Summarise my notes"]);
    ok(&added, "routine add");
    assert!(stderr(&added).contains("added routine digest (every 1h); first run at"), "{}", stderr(&added));
    let run = start(&h);
    wait_for(&run.err, "routine digest: done (the ");
    // While it runs: one process, alive, with its workers.
    let status = json(&h, &["status"]);
    let processes = status["processes"].as_array().unwrap();
    assert_eq!(processes.len(), 1, "{status}");
    assert_eq!(processes[0]["alive"], true);
    assert!(!processes[0]["workers"].as_array().unwrap().is_empty(), "{status}");
    run.quit();

    // The tools offered: the read-only echo, not workspace (it writes).
    let req = &llm.requests()[0];
    assert_eq!(req.tool_names(), vec!["echo".to_string()], "the default is the read-only tools");
    assert!(req.all_text().contains("Summarise my notes"));
    let doc = h.claw(&["memory", "cat", "routines/digest.md"]);
    ok(&doc, "memory cat");
    assert!(stdout(&doc).contains("Digest: three new notes."), "{}", stdout(&doc));
    let listed = json(&h, &["routine", "list"]);
    assert_eq!(listed[0]["name"], "digest");
    assert_eq!(listed[0]["last_state"], "done", "{listed}");
    assert!(listed[0]["next_fire_ms"].as_i64().unwrap() > listed[0]["last_fire_ms"].as_i64().unwrap());
    let jobs = json(&h, &["jobs", "--kind", "routine.run"]);
    assert_eq!(jobs.as_array().unwrap().len(), 1, "one fire, one job: {jobs}");
    assert_eq!(jobs[0]["state"], "done");
    assert!(jobs[0]["result"].as_str().unwrap().contains("three new notes"));
    // Stopped cleanly: its beats are gone.
    assert!(json(&h, &["status"])["processes"].as_array().unwrap().is_empty());
}

#[test]
fn a_message_matching_a_pattern_fires_a_routine_with_the_message_as_untrusted_input() {
    let llm = LlmServer::start(Format::OpenAi, vec![Step::Text("noted".into()), Step::Text("deploy checked".into())]);
    let h = home_with(&llm, "");
    let add = [
        "routine",
        "add",
        "deploys",
        "--on-message",
        "repl:^deploy",
        "--prompt",
        "Check the deploy",
        "--tools",
        "echo",
    ];
    ok(&h.claw(&add), "routine add");
    let mut run = start(&h);
    writeln!(run.stdin, "hello there").unwrap();
    wait_for(&run.out, "noted");
    writeln!(run.stdin, "deploy v2 to production").unwrap();
    wait_for(&run.err, "routine deploys: done (a message on repl matching /^deploy/)");
    run.quit();
    let requests = llm.requests();
    let routine_request = requests.iter().find(|r| r.all_text().contains("Check the deploy")).expect("the routine ran");
    let text = routine_request.all_text();
    assert!(
        crate::agent::only_wrapped(&text, "deploy v2 to production"),
        "the message reaches the routine only as untrusted content: {text}"
    );
    let fired = json(&h, &["jobs", "--kind", "routine.run"]);
    assert_eq!(fired.as_array().unwrap().len(), 1, "`hello there` fired nothing: {fired}");
}

#[test]
fn the_heartbeat_says_when_it_has_nothing_to_review_and_reports_only_what_needs_attention() {
    let llm = LlmServer::start(
        Format::OpenAi,
        vec![Step::Text("HEARTBEAT_OK".into()), Step::Text("The disk is 95% full.".into())],
    );
    let h = home_with(&llm, "");
    config(&h, "[heartbeat]\nevery = \"1h\"\n");
    let run = start(&h);
    wait_for(&run.err, "heartbeat: skipped: HEARTBEAT.md is missing from the workspace");
    let status = json(&h, &["status"]);
    let attention = status["attention"].to_string();
    assert!(attention.contains("HEARTBEAT.md is missing"), "never a silent stop: {status}");
    let listed = json(&h, &["routine", "list"]);
    assert!(listed[0]["warning"].as_str().unwrap().contains("HEARTBEAT.md is missing"), "{listed}");
    assert!(llm.requests().is_empty(), "nothing to review, no LLM call");

    // A checklist: all fine is not reported; a finding is.
    h.memory_write("HEARTBEAT.md", "- is the disk filling up?\n");
    ok(&h.claw(&["routine", "run", "heartbeat"]), "routine run");
    let done = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let jobs = json(&h, &["jobs", "--kind", "heartbeat", "--state", "done"]);
            if jobs.as_array().unwrap().len() >= n {
                return jobs;
            }
            assert!(std::time::Instant::now() < deadline, "heartbeat runs not done: {jobs}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let jobs = done(2);
    assert_eq!(jobs[0]["result"], "HEARTBEAT_OK");
    assert!(!h.claw(&["memory", "cat", "routines/heartbeat.md"]).status.success(), "all fine: nothing written");
    ok(&h.claw(&["routine", "run", "heartbeat"]), "routine run");
    done(3);
    let doc = h.claw(&["memory", "cat", "routines/heartbeat.md"]);
    assert!(stdout(&doc).contains("The disk is 95% full."), "{}", stdout(&doc));
    assert!(llm.requests()[0].all_text().contains("is the disk filling up?"));
    run.quit();
}

#[test]
fn bad_routines_are_refused_naming_the_field_and_nothing_is_stored() {
    let h = TestHome::new();
    install(&h, "echo", &[]);
    let cases: &[(&[&str], &str)] = &[
        (&["--cron", "61 * * * *"], "--cron: `61 * * * *` is not a cron expression"),
        (&["--cron", "0 9 * * *", "--tz", "Mars/Olympus"], "--tz: `Mars/Olympus` is not a time zone"),
        (&["--every", "30x"], "--every: `30x` is not a duration"),
        (&["--at", "2020-01-01T09:00", "--tz", "UTC"], "--at: 2020-01-01T09:00 (UTC) is in the past"),
        (&["--at", "2030-03-31T02:30", "--tz", "Europe/Berlin"], "does not exist in Europe/Berlin"),
        (&["--every", "1h", "--tools", "echo,nosuch"], "--tools: `nosuch` is not an installed tool"),
        (&["--every", "1h", "--channel", "telegram"], "--channel: `telegram` is not an installed channel"),
        (&["--every", "1h", "--channel", "echo"], "--channel: `echo` is not an installed channel"),
        (&["--webhook"], "--webhook needs --secret NAME"),
        (&["--webhook", "--secret", "hook_key"], "--secret: the vault has no secret `hook_key`"),
        (&["--webhook", "--secret", "present", "--verify", "md5"], "--verify: `md5` is not a webhook verifier"),
        (&["--after", "nothing"], "--after: there is no routine named `nothing`"),
        (&["--on-message", "repl:(unclosed"], "is not a regular expression"),
        (&["--every", "1h", "--tz", "UTC"], "--tz applies to --cron and --at only"),
        (&["--every", "1h", "--every", "2h"], "cannot be used multiple times"),
        (&["--every", "1h", "--cron", "0 9 * * *"], "cannot be used with"),
    ];
    set_secret(&h, "present", "a-webhook-signing-key-of-some-length");
    for (args, expected) in cases {
        let mut all = vec!["routine", "add", "r1", "--prompt", "do it"];
        all.extend_from_slice(args);
        let out = h.claw(&all);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    let out = h.claw(&["routine", "add", "bad name!", "--prompt", "x", "--every", "1h"]);
    assert!(stderr(&out).contains("`bad name!` is not a routine name"), "{}", stderr(&out));
    assert_eq!(json(&h, &["routine", "list"]), serde_json::json!([]), "nothing half-written");
    // And the good one, twice: the name is taken.
    ok(&h.claw(&["routine", "add", "r1", "--prompt", "x", "--every", "1h"]), "add");
    let again = h.claw(&["routine", "add", "r1", "--prompt", "x", "--every", "2h"]);
    assert!(stderr(&again).contains("a routine named `r1` exists"), "{}", stderr(&again));
}

#[test]
fn routines_pause_resume_run_and_remove_and_jobs_are_shown_retried_and_cancelled_by_id() {
    let h = TestHome::new();
    let add = ["routine", "add", "nightly", "--cron", "0 3 * * *", "--tz", "Europe/Berlin", "--prompt", "tidy up"];
    ok(&h.claw(&add), "add");
    let shown = json(&h, &["routine", "show", "nightly"]);
    assert_eq!(shown["schedule"], "cron \"0 3 * * *\" (Europe/Berlin)");
    assert_eq!(shown["tools"], "read-only");
    assert_eq!(shown["document"], "routines/nightly.md");
    assert_eq!(json(&h, &["routine", "pause", "nightly"])["paused"], true);
    let resumed = json(&h, &["routine", "resume", "nightly"]);
    assert_eq!(resumed["paused"], false);
    assert_eq!(resumed["next_fire_ms"], shown["next_fire_ms"], "the next tick is the same grid point");

    // No claw run: `routine run` queues a job that waits.
    let job = json(&h, &["routine", "run", "nightly"])["job"].as_i64().unwrap();
    let id = job.to_string();
    let shown = json(&h, &["jobs", "show", &id]);
    assert_eq!((shown["state"].as_str(), shown["kind"].as_str()), (Some("available"), Some("routine.run")));
    assert!(shown["idempotency_key"].as_str().unwrap().starts_with("routine:nightly:manual:"));
    let retry = h.claw(&["jobs", "retry", &id]);
    assert!(stderr(&retry).contains(&format!("job {id} is available: only a failed or cancelled job can be retried")));
    ok(&h.claw(&["jobs", "cancel", &id]), "cancel");
    assert_eq!(json(&h, &["jobs", "--state", "cancelled"])[0]["id"], job);
    ok(&h.claw(&["jobs", "retry", &id]), "retry");
    assert_eq!(json(&h, &["jobs", "show", &id])["state"], "available");
    // Removing the routine cancels its waiting run.
    ok(&h.claw(&["routine", "rm", "nightly"]), "rm");
    assert_eq!(json(&h, &["jobs", "show", &id])["state"], "cancelled");
    for (args, expected) in [
        (vec!["jobs", "show", "999"], "there is no job 999"),
        (vec!["jobs", "--state", "stuck"], "--state: `stuck` is not a job state"),
        (vec!["routine", "show", "nightly"], "there is no routine named `nightly`"),
        (vec!["routine", "rm", "nightly"], "there is no routine named `nightly`"),
    ] {
        let out = h.claw(&args);
        assert!(!out.status.success() && stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
}

/// `claw run`'s jobs when killed with SIGKILL: the lease runs out and the
/// next `claw run` takes the turn over.
fn kill9(run: Running) {
    let killed = std::process::Command::new("kill").args(["-9", &run.child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let mut child = run.child;
    let _ = child.wait();
}

#[test]
fn kill_9_in_the_middle_of_a_turn_resumes_it_once_with_the_message_stored_once() {
    let llm = LlmServer::start(Format::OpenAi, vec![Step::Hang, Step::Text("answered after the crash".into())]);
    let h = home_with(&llm, "[jobs]\nlease = \"2s\"\npoll = \"200ms\"\n");
    let mut run = start(&h);
    writeln!(run.stdin, "what is on today?").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while llm.requests().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the turn never reached the LLM");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    kill9(run);
    let again = start(&h);
    wait_for(&again.err, "resuming the turn of job");
    wait_for(&again.out, "answered after the crash");
    again.quit();
    let requests = llm.requests();
    assert_eq!(requests.len(), 2, "asked once before the crash, once after");
    assert_eq!(requests[1].all_text().matches("what is on today?").count(), 1, "the message is stored once");
    let turns = json(&h, &["jobs", "--kind", "agent.turn"]);
    assert_eq!(turns.as_array().unwrap().len(), 1, "{turns}");
    assert_eq!(turns[0]["state"], "done");
    // At least the attempt that died and the one that finished (a loaded
    // machine may take one more: it finds the stored answer and asks
    // nothing, as the two LLM requests above show).
    assert!(turns[0]["attempts"].as_i64().unwrap() >= 2, "{turns}");
    // The takeover is in the audit log.
    let audit = h.claw(&["audit", "-n", "20"]);
    assert!(stdout(&audit).contains("takeover"), "{}", stdout(&audit));
}

#[test]
fn kill_9_in_the_middle_of_a_tool_call_does_not_run_the_call_again() {
    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::ToolCalls(vec![("c1".into(), "misbehave".into(), r#"{"how":"loop"}"#.into())]),
            Step::Text("I will check before trying again.".into()),
        ],
    );
    let h = home_with(&llm, "[jobs]\nlease = \"2s\"\npoll = \"200ms\"\n");
    let grant =
        h.grant_file("mis.toml", "[limits]\ntimeout_ms = 120000\n[[http]]\nurl = \"http://127.0.0.1:9/hello\"\n");
    let wasm = guest("misbehave");
    ok(&h.claw(&["component", "add", wasm.to_str().unwrap(), "--grant", grant.to_str().unwrap()]), "add misbehave");
    let mut run = start(&h);
    writeln!(run.stdin, "do the long thing").unwrap();
    wait_for(&run.err, "calling misbehave");
    kill9(run);
    let again = start(&h);
    wait_for(&again.out, "I will check before trying again.");
    again.quit();
    let requests = llm.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let text = requests[1].all_text();
    assert!(text.contains("interrupted: claw stopped while this call ran"), "the call's result says so: {text}");
    assert_eq!(text.matches("do the long thing").count(), 1);
}

/// One HTTP/1.1 request over a fresh connection; (status, body).
pub(crate) fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let (status, _, body) = http_full(addr, method, path, headers, body);
    (status, body)
}

/// [`http`], with the response's head too.
pub(crate) fn http_full(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    use std::io::Read as _;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // A server that refuses the body by its declared length answers and
    // closes before reading it: writing the rest may then fail; the
    // answer is what counts.
    let _ = s.write_all(body);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = out.split_once("\r\n\r\n").map(|(h, b)| (h.to_string(), b.to_string())).unwrap_or_default();
    (status, head, body)
}

fn sign(key: &str, body: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[test]
fn a_verified_webhook_queues_one_run_per_delivery_and_anything_else_is_refused_and_audited() {
    const KEY: &str = "whsec-7Hq2LmN9pR4sT6vX8zB1cD3f";
    let llm = LlmServer::start(Format::OpenAi, vec![Step::Text("The build failed on a flaky test.".into())]);
    let h = home_with(&llm, "[gateway]\nlisten = \"127.0.0.1:0\"\n");
    set_secret(&h, "ci_hook", KEY);
    let add = ["routine", "add", "ci", "--webhook", "--secret", "ci_hook", "--prompt", "Explain the failed build"];
    ok(&h.claw(&add), "routine add");
    let run = start(&h);
    let line = wait_for(&run.err, "gateway: listening on http://");
    let addr = line.rsplit("http://").next().unwrap().trim().to_string();
    assert_eq!(http(&addr, "GET", "/healthz", &[], b"").0, 200);
    let (status, ready) = http(&addr, "GET", "/readyz", &[], b"");
    assert_eq!(status, 200, "{ready}");

    let body = br#"{"build": 812, "status": "failed", "log": "test_flaky timed out"}"#;
    let sig = sign(KEY, body);
    let headers =
        [("x-hub-signature-256", sig.as_str()), ("x-github-delivery", "d-1"), ("content-type", "application/json")];
    let (status, answer) = http(&addr, "POST", "/hooks/routines/ci", &headers, body);
    assert_eq!(status, 202, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!((answer["queued"].as_bool(), answer["duplicate"].as_bool()), (Some(true), Some(false)));
    wait_for(&run.err, "routine ci: done (a webhook delivery)");
    // The provider retries the same delivery: nothing new is queued.
    let (status, again) = http(&addr, "POST", "/hooks/routines/ci", &headers, body);
    assert_eq!(status, 202);
    assert!(again.contains("\"duplicate\":true"), "{again}");

    // Refused, each with a clear status, nothing queued: a bad signature,
    // no signature, a routine that does not exist (the same answer), a
    // body over the cap, the wrong method, an unknown path.
    let forged = sign("not-the-key", body);
    let bad = [("x-hub-signature-256", forged.as_str())];
    assert_eq!(http(&addr, "POST", "/hooks/routines/ci", &bad, body).0, 401);
    assert_eq!(http(&addr, "POST", "/hooks/routines/ci", &[], body).0, 401);
    let (status, unknown) = http(&addr, "POST", "/hooks/routines/nosuch", &headers, body);
    assert_eq!(status, 401, "no probing for names: {unknown}");
    assert!(unknown.contains("could not be verified") && !unknown.contains("nosuch"), "{unknown}");
    let big = vec![b'x'; (1 << 20) + 1];
    assert_eq!(http(&addr, "POST", "/hooks/routines/ci", &headers, &big).0, 413);
    assert_eq!(http(&addr, "GET", "/hooks/routines/ci", &[], b"").0, 405);
    assert_eq!(http(&addr, "GET", "/nothing-here", &[], b"").0, 404);
    run.quit();

    let runs = json(&h, &["jobs", "--kind", "routine.run"]);
    assert_eq!(runs.as_array().unwrap().len(), 1, "one delivery, one run: {runs}");
    let text = llm.requests()[0].all_text();
    assert!(crate::agent::only_wrapped(&text, "test_flaky timed out"), "the payload is untrusted content: {text}");
    let audit = stdout(&h.claw(&["audit", "-n", "50"]));
    assert!(
        audit.contains("POST /hooks/routines/ci: the x-hub-signature-256 signature does not match the body"),
        "the forged one is audited: {audit}"
    );
    assert!(audit.contains("POST /hooks/routines/ci: missing the x-hub-signature-256 header"), "{audit}");
    assert!(audit.contains("there is no routine named `nosuch`"), "{audit}");
    assert!(!audit.contains(KEY) && !audit.contains(&sig[7..]), "no key or signature in the audit log");
}

#[test]
fn a_routine_that_keeps_failing_reports_its_failure_where_its_results_go() {
    let llm = LlmServer::start(Format::OpenAi, vec![Step::Hang]);
    let h = home_with(&llm, "");
    let add =
        ["routine", "add", "slow", "--every", "1h", "--timeout", "1s", "--prompt", "x", "--to-doc", "reports/slow.md"];
    ok(&h.claw(&add), "routine add");
    let run = start(&h);
    wait_for(&run.err, "routine slow: failed (it ran longer than its timeout of 1 s); will retry");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while json(&h, &["jobs", "--kind", "routine.run", "--state", "failed"]).as_array().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "three attempts, then it gives up");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    run.quit();
    let doc = stdout(&h.claw(&["memory", "cat", "reports/slow.md"]));
    assert!(doc.contains("routine slow failed: it ran longer than its timeout of 1 s"), "{doc}");
    let jobs = json(&h, &["jobs", "--kind", "routine.run"]);
    assert_eq!((jobs[0]["state"].as_str(), jobs[0]["attempts"].as_i64()), (Some("failed"), Some(3)), "{jobs}");
    let listed = json(&h, &["routine", "list"]);
    assert_eq!(listed[0]["last_state"], "failed");
    let status = json(&h, &["status"]);
    assert!(
        status["attention"]
            .to_string()
            .contains("routine slow failed its last run: it ran longer than its timeout of 1 s"),
        "{status}"
    );
}

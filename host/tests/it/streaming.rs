//! Replies streamed end to end: the provider's server-sent events pass the
//! boundary (redacted as they arrive), the adapter hands the text to the
//! host as it is written, and the gateway passes it on — to the official
//! `openai` client as chunks, to the web chat as a conversation's events,
//! resumed after a reconnect from the last event id. A reply that breaks
//! off after text was shown is not retried or failed over.

use crate::agent::{add_provider, install_router, set_secret};
use crate::common::{TestHome, ok, stderr, stdout};
use crate::llm_server::{Format, LlmServer, Step};
use crate::routines::{home_with, http_full, json, start};
use std::io::{BufRead as _, BufReader, Write as _};
use std::time::{Duration, Instant};

/// Times the chunks of one streamed completion: when each content piece arrived.
const TIMED: &str = r#"
import json, os, time, openai
c = openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
start, pieces = time.monotonic(), []
for ch in c.chat.completions.create(model="claw", messages=[{"role": "user", "content": "Count to five"}], stream=True):
    if ch.choices and ch.choices[0].delta.content:
        pieces.append([time.monotonic() - start, ch.choices[0].delta.content])
print(json.dumps(pieces))
"#;

#[test]
fn the_openai_client_gets_the_reply_token_by_token_as_the_llm_writes_it() {
    let llm = LlmServer::start(Format::OpenAi, vec![Step::Text("one two three four five".into())]);
    llm.pause_between_tokens(Duration::from_millis(250));
    let h = home_with(&llm, "[gateway]\nlisten = \"127.0.0.1:0\"\n");
    let token = json(&h, &["user", "add", "script", "--client"])["token"].as_str().unwrap().to_string();
    let run = start(&h);
    let line = crate::common::wait_for(&run.err, "gateway: listening on http://");
    let addr = line.rsplit("http://").next().unwrap().trim().to_string();
    let out = std::process::Command::new("python3")
        .args(["-c", TIMED])
        .env("BASE", format!("http://{addr}"))
        .env("KEY", &token)
        .output()
        .expect("python3 runs (scripts/dev test installs the openai package)");
    run.quit();
    assert!(out.status.success(), "the client failed: {}", String::from_utf8_lossy(&out.stderr));
    let pieces: Vec<(f64, String)> = serde_json::from_slice(&out.stdout).unwrap();
    let text: String = pieces.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(text, "one two three four five", "{pieces:?}");
    assert!(pieces.len() >= 5, "a piece per token, not the reply at once: {pieces:?}");
    // The provider paused 250 ms after each token: the first reached the
    // client long before the last was written.
    let spread = pieces.last().unwrap().0 - pieces[0].0;
    assert!(spread > 0.7, "pieces arrived {spread:.2} s apart, as written: {pieces:?}");
    assert_eq!(llm.requests()[0].body["stream"], true, "the adapter asked the provider to stream");
}

#[test]
fn a_reply_that_breaks_off_after_text_was_shown_is_neither_retried_nor_failed_over() {
    let broken = LlmServer::start(Format::OpenAi, vec![Step::BreakAfter(vec!["Half ".into(), "a ".into()])]);
    let backup = LlmServer::start(Format::Anthropic, vec![Step::Text("A second, different reply.".into())]);
    let h = TestHome::new();
    install_router(&h);
    add_provider(&h, "primary", "openai", &broken, &[]);
    add_provider(&h, "backup", "anthropic", &backup, &[]);
    let out = h.claw(&["chat", "-m", "Tell me a story"]);
    assert!(!out.status.success(), "the turn failed: {}", stdout(&out));
    let said = stderr(&out);
    assert!(said.contains("broke off while streaming"), "{said}");
    assert_eq!(broken.requests().len(), 1, "not retried");
    assert!(backup.requests().is_empty(), "no failover once text was shown");

    // Before the first token, failing over is right: the backup answers.
    let refused = LlmServer::start(Format::OpenAi, vec![Step::Status(500)]);
    let h = TestHome::new();
    install_router(&h);
    add_provider(&h, "primary", "openai", &refused, &[]);
    add_provider(&h, "backup", "anthropic", &backup, &[]);
    let out = h.claw(&["chat", "-m", "Tell me a story"]);
    ok(&out, "chat after a failover");
    assert_eq!(stdout(&out).trim(), "A second, different reply.");
    assert_eq!(backup.requests()[0].body["stream"], true, "Anthropic's adapter streams too");
}

#[test]
fn a_streamed_reply_that_echoes_the_providers_key_reaches_nobody_with_it() {
    const KEY: &str = "sk-stream-4f3e2d1c0b9a8877";
    let llm = LlmServer::start(Format::Anthropic, vec![Step::Text(format!("Your key is {KEY} , enjoy."))]);
    let h = TestHome::new();
    install_router(&h);
    set_secret(&h, "llm_key", KEY);
    add_provider(&h, "main", "anthropic", &llm, &["--credential", "llm_key"]);
    let out = h.claw(&["chat", "-m", "What is my key?"]);
    ok(&out, "chat");
    let reply = stdout(&out);
    assert!(!reply.contains(KEY) && reply.contains("[REDACTED:llm_key]"), "{reply}");
    assert!(!stderr(&out).contains(KEY));
    let audit = json(&h, &["audit", "-n", "10"]);
    assert!(!audit.to_string().contains(KEY), "{audit}");
    let outcome = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["redacted"].as_array().is_some_and(|a| a.iter().any(|n| n == "llm_key")));
    let outcome = outcome.unwrap_or_else(|| panic!("the outcome records the redaction at the stream's end: {audit}"));
    assert!(outcome["response_bytes"].as_u64().unwrap() > 100, "{outcome}");
}

/// Read server-sent events from `path` until one has `"type":"done"` or
/// `until` passes: each event's id and data.
fn events(addr: &str, path: &str, headers: &[(&str, &str)], until: Duration) -> Vec<(Option<u64>, String)> {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut head = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut reader = BufReader::new(stream);
    let (mut out, mut id, mut data, mut name) = (Vec::new(), None, String::new(), None::<String>);
    let end = Instant::now() + until;
    let mut line = String::new();
    let mut in_body = false;
    while Instant::now() < end {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => continue,
        }
        let l = line.trim_end();
        if !in_body {
            in_body = l.is_empty();
            continue;
        }
        // Chunked framing: size lines are hex only; event lines have a colon.
        if let Some(v) = l.strip_prefix("id: ") {
            id = v.parse().ok();
        } else if let Some(v) = l.strip_prefix("data: ") {
            data = v.to_string();
        } else if let Some(v) = l.strip_prefix("event: ") {
            name = Some(v.to_string());
        } else if l.is_empty() && !data.is_empty() {
            let done = data.contains(r#""type":"done""#);
            let data = std::mem::take(&mut data);
            // A named event is told by its name.
            out.push((id.take(), name.take().map_or(data, |n| format!("event:{n}"))));
            if done {
                break;
            }
        }
    }
    out
}

#[test]
fn the_web_chat_watches_a_conversation_and_resumes_from_the_last_event_it_saw() {
    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::ToolCalls(vec![("call_1".into(), "echo".into(), r#"{"text":"ping"}"#.into())]),
            Step::Text("The echo said ping back.".into()),
        ],
    );
    llm.pause_between_tokens(Duration::from_millis(20));
    let h = home_with(&llm, "[gateway]\nlisten = \"127.0.0.1:0\"\n");
    let token = json(&h, &["user", "add", "ana", "--client"])["token"].as_str().unwrap().to_string();
    let other = json(&h, &["user", "add", "bo", "--client"])["token"].as_str().unwrap().to_string();
    let run = start(&h);
    let line = crate::common::wait_for(&run.err, "gateway: listening on http://");
    let addr = line.rsplit("http://").next().unwrap().trim().to_string();
    let ana = format!("Bearer {token}");
    let bo = format!("Bearer {other}");

    // Ana watches her conversation while she sends in it; Bo watches his
    // conversation of the same name.
    let watch = {
        let (addr, ana) = (addr.clone(), ana.clone());
        std::thread::spawn(move || {
            events(&addr, "/api/conversations/plans/events", &[("authorization", &ana)], Duration::from_secs(30))
        })
    };
    let bo_watch = {
        let (addr, bo) = (addr.clone(), bo.clone());
        std::thread::spawn(move || {
            events(&addr, "/api/conversations/plans/events", &[("authorization", &bo)], Duration::from_secs(4))
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let send = [("authorization", ana.as_str()), ("content-type", "application/json")];
    let (status, _, reply) =
        http_full(&addr, "POST", "/api/conversations/plans/messages", &send, br#"{"text": "Echo ping"}"#);
    assert_eq!(status, 200, "{reply}");
    let seen = watch.join().unwrap();
    let kinds: Vec<String> = seen
        .iter()
        .map(|(_, d)| serde_json::from_str::<serde_json::Value>(d).unwrap()["type"].as_str().unwrap().to_string())
        .collect();
    let first = |k: &str| kinds.iter().position(|x| x == k).unwrap_or_else(|| panic!("no {k} in {kinds:?}"));
    assert!(first("started") < first("tool_started"), "{kinds:?}");
    assert!(first("tool_started") < first("tool_finished"), "{kinds:?}");
    assert!(first("tool_finished") < first("round") && first("round") < first("text"), "{kinds:?}");
    assert!(kinds.iter().filter(|k| *k == "text").count() >= 5, "the text token by token: {kinds:?}");
    let text: String = seen
        .iter()
        .filter_map(|(_, d)| {
            let v: serde_json::Value = serde_json::from_str(d).unwrap();
            (v["type"] == "text").then(|| v["delta"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(text, "The echo said ping back.");
    let done: serde_json::Value = serde_json::from_str(&seen.last().unwrap().1).unwrap();
    assert_eq!(done["text"], "The echo said ping back.", "{done}");
    let finished: serde_json::Value = serde_json::from_str(&seen[first("tool_finished")].1).unwrap();
    assert_eq!((finished["name"].as_str(), finished["ok"].as_bool()), (Some("echo"), Some(true)), "{finished}");
    assert!(bo_watch.join().unwrap().is_empty(), "Bo's conversation of the same name is his own");

    // Reconnecting with the id of the third event: exactly what followed.
    let ids: Vec<u64> = seen.iter().map(|(id, _)| id.expect("every event has an id")).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    let third = ids[2].to_string();
    let resumed = events(
        &addr,
        "/api/conversations/plans/events",
        &[("authorization", &ana), ("last-event-id", &third)],
        Duration::from_secs(10),
    );
    assert_eq!(resumed, seen[3..].to_vec(), "resumed after event {third}");
    // An id from before a restart (no longer held): a reset, and only the
    // messages after the last one the client knew are fetched.
    let gap =
        events(&addr, "/api/conversations/plans/events?after=5", &[("authorization", &ana)], Duration::from_secs(1));
    assert_eq!(gap.first().map(|(_, d)| d.as_str()), Some("event:reset"), "{gap:?}");
    let (_, _, all) = http_full(&addr, "GET", "/api/conversations/plans/messages", &[("authorization", &ana)], b"");
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    let first_seq = all["messages"][0]["seq"].as_i64().unwrap();
    let path = format!("/api/conversations/plans/messages?after={first_seq}");
    let (_, _, since) = http_full(&addr, "GET", &path, &[("authorization", &ana)], b"");
    let since: serde_json::Value = serde_json::from_str(&since).unwrap();
    let texts: Vec<&str> = since["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts.last(), Some(&"The echo said ping back."), "{since}");
    assert!(!texts.contains(&"Echo ping"), "the message before `after` is not sent again: {since}");
    let (status, _, bad) =
        http_full(&addr, "GET", "/api/conversations/plans/messages?after=x", &[("authorization", &ana)], b"");
    assert!(status == 400 && bad.contains("not a message number"), "{status} {bad}");
    run.quit();
}

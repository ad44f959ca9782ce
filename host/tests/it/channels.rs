//! A third-party channel component — a wasi:http server written against
//! the `channel` world, nothing of ours but the WIT — reached through the
//! gateway's `/channels/NAME`: the host verifies each request with the
//! vault's secret before the channel sees it (a refusal is audited and
//! reaches no component), the channel hands the message to the inbox (a
//! durable job; a redelivery of the same id is nothing new), and the reply
//! goes back out through the channel's `deliver`, past the boundary, to a
//! stand-in of the chat service on 127.0.0.1.

use crate::agent::set_secret;
use crate::common::{guest, ok, stdout};
use crate::llm_server::{Format, LlmServer, Step};
use crate::routines::{home_with, http, start};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "hook-secret-4d1f9a7c2e";

/// The chat service's stand-in: records each POST's body, answers 200.
pub(crate) fn chat_service() -> (u16, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let record = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            record.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null));
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (port, got)
}

#[test]
fn a_webhook_channel_takes_verified_messages_once_and_delivers_each_reply() {
    scenario(&guest("hook_channel"));
}

/// `claw new channel` makes a project that builds, unchanged, into a
/// channel that passes the same scenario: the same world, verification
/// and limits as any other.
#[test]
fn a_channel_from_the_template_builds_and_passes_the_same_scenario() {
    let h = crate::common::TestHome::new();
    let project = h.dir.path().join("relay-chat");
    let out = h.claw(&["new", "channel", "relay-chat", "--path", project.to_str().unwrap()]);
    ok(&out, "new channel");
    assert!(project.join("grant.toml").is_file() && project.join("src/lib.rs").is_file());
    let wasm = crate::common::build_guest(&project, "relay_chat");
    // Its shipped grant parses and says what it may do.
    let grant = std::fs::read_to_string(project.join("grant.toml")).unwrap();
    assert!(grant.contains("secret = \"relay_chat_token\""), "{grant}");
    scenario(&wasm);
}

fn scenario(wasm: &std::path::Path) {
    let llm = LlmServer::start(Format::OpenAi, vec![Step::Text("Hello from the agent.".into())]);
    let h = home_with(&llm, "[gateway]\nlisten = \"127.0.0.1:0\"\n");
    let (port, replies) = chat_service();
    set_secret(&h, "hook_token", TOKEN);
    let grant = format!(
        "[inbound]\nverify = \"bearer\"\nsecret = \"hook_token\"\n[inbox]\n[kv]\n\
         [[http]]\nurl = \"http://127.0.0.1:{port}/**\"\nmethods = [\"POST\"]\n[network]\nallow = [\"127.0.0.1\"]\n"
    );
    std::fs::write(h.home.config.join("hook.toml"), &grant).unwrap();
    let grant_file = h.home.config.join("hook.toml");
    ok(
        &h.claw(&[
            "component",
            "add",
            wasm.to_str().unwrap(),
            "--name",
            "hook",
            "--grant",
            grant_file.to_str().unwrap(),
        ]),
        "adding the channel",
    );
    let explained = stdout(&h.claw(&["policy", "explain", "hook"]));
    assert!(explained.contains("inbox: hands messages to the agent"), "{explained}");
    let run = start(&h);
    let line = crate::common::wait_for(&run.err, "gateway: listening on http://");
    let addr = line.rsplit("http://").next().unwrap().trim().to_string();

    let message = serde_json::json!({
        "chat": "c1", "from": "u9", "text": "Hello there", "id": "update-1",
        "reply_to": format!("http://127.0.0.1:{port}/reply"),
    })
    .to_string();
    // Unverified: no token, a wrong one, a channel that does not exist —
    // the same answer, audited, nothing queued.
    let bearer = format!("Bearer {TOKEN}");
    for (path, auth) in [
        ("/channels/hook", None),
        ("/channels/hook", Some("Bearer not-the-token")),
        ("/channels/nosuch", Some(bearer.as_str())),
        ("/channels/repl", Some(bearer.as_str())),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| vec![("authorization", a)]).unwrap_or_default();
        let (status, body) = http(&addr, "POST", path, &headers, message.as_bytes());
        assert_eq!(status, 401, "{path}: {body}");
    }
    let auth = [("authorization", bearer.as_str()), ("content-type", "application/json")];
    let started = Instant::now();
    let (status, body) = http(&addr, "POST", "/channels/hook", &auth, message.as_bytes());
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["new"], true, "{body}");
    assert!(started.elapsed() < Duration::from_secs(2), "acknowledged without waiting for the agent");
    // The provider retries: the same id is nothing new.
    let (status, body) = http(&addr, "POST", "/channels/hook/retry", &auth, message.as_bytes());
    assert_eq!(
        (status, serde_json::from_str::<serde_json::Value>(&body).unwrap()["new"].as_bool()),
        (200, Some(false))
    );
    // The channel's own answer to a body it cannot read.
    let (status, body) = http(&addr, "POST", "/channels/hook", &auth, b"not json");
    assert!(status == 400 && body.contains("not JSON"), "{status} {body}");

    let deadline = Instant::now() + Duration::from_secs(30);
    while replies.lock().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    run.quit();
    let replies = replies.lock().unwrap().clone();
    assert_eq!(replies.len(), 1, "one reply for one message, never two: {replies:?}");
    assert_eq!(replies[0]["chat"], "c1");
    assert_eq!(replies[0]["text"], "Hello from the agent.");
    assert_eq!(llm.requests().len(), 1, "one turn");
    // An unpaired sender: their words reach the agent as external content.
    let said = llm.requests()[0].last_message_text();
    assert!(said.starts_with("<untrusted source=\"a message from u9 on hook, who is not the operator"), "{said}");
    assert!(said.contains("\nHello there\n"), "{said}");

    let audit = stdout(&h.claw(&["audit", "-n", "60"]));
    assert!(audit.contains("POST /channels/hook: missing the authorization header"), "{audit}");
    assert!(audit.contains("POST /channels/nosuch: there is no channel named `nosuch`"), "{audit}");
    assert!(audit.contains("channel `repl` has no [inbound] section"), "{audit}");
    assert!(!audit.contains(TOKEN) && !audit.contains("not-the-token"), "no token in the audit log");
}

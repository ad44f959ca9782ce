//! The Slack channel (components/slack) through the gateway, against a
//! Web API stand-in on 127.0.0.1 (slack_web.rs): events signed exactly as
//! Slack signs them and verified by the host (a stale or unsigned one is
//! refused before the channel sees it), a retry of one event answered
//! once, a mention answered in its thread with drafts updated in place,
//! the bot token added by the boundary only, pairing by `pair` in a
//! direct message, a stranger's words wrapped as external content.

use crate::agent::set_secret;
use crate::common::{guest, ok, stdout, wait_for};
use crate::llm_server::{Format, LlmServer, Step};
use crate::routines::{home_with, http, http_full, start};
use crate::slack_web::{SlackWeb, sign};
use serde_json::json;
use std::time::{Duration, Instant};

const SIGNING: &str = "slack-signing-6f1e2d9c";
const BOT: &str = "xoxb-test-4c7a1b9e";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn slack_events_are_verified_answered_once_in_their_thread_and_strangers_wrapped() {
    let answer = "Hi from claw, answering in your thread word by word.";
    let llm = LlmServer::start(Format::OpenAi, vec![Step::Text(answer.into()), Step::Text("Paired reply.".into())]);
    llm.pause_between_tokens(Duration::from_millis(120));
    let api = SlackWeb::start(BOT);
    let h = home_with(&llm, "[gateway]\nlisten = \"127.0.0.1:0\"\n");
    set_secret(&h, "slack_signing_secret", SIGNING);
    set_secret(&h, "slack_bot_token", BOT);
    let grant = format!(
        "[inbound]\nverify = \"slack\"\nsecret = \"slack_signing_secret\"\n[inbox]\ndrafts = \"250ms\"\n[kv]\n\
         [env]\nSLACK_API = \"{base}\"\n[[http]]\nurl = \"{base}/**\"\nmethods = [\"POST\"]\n\
         [[secrets]]\nname = \"slack_bot_token\"\norigins = [\"http://127.0.0.1:{port}\"]\ninject = \"header\"\n\
         header = \"Authorization\"\nformat = \"Bearer {{secret}}\"\n[network]\nallow = [\"127.0.0.1\"]\n",
        base = api.base(),
        port = api.port
    );
    let file = h.home.config.join("slack.toml");
    std::fs::write(&file, grant).unwrap();
    let wasm = guest("slack");
    ok(
        &h.claw(&["component", "add", wasm.to_str().unwrap(), "--name", "slack", "--grant", file.to_str().unwrap()]),
        "add",
    );
    let run = start(&h);
    let line = wait_for(&run.err, "gateway: listening on http://");
    let addr = line.rsplit("http://").next().unwrap().trim().to_string();
    let send = |body: &str, ts: i64, extra: &[(&str, &str)]| {
        let signed = sign(SIGNING, ts, body);
        let mut headers: Vec<(&str, &str)> = signed.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        headers.push(("content-type", "application/json"));
        headers.extend_from_slice(extra);
        http_full(&addr, "POST", "/channels/slack", &headers, body.as_bytes())
    };

    // Slack checks the URL before it sends events.
    let (status, head, body) = send(r#"{"type":"url_verification","challenge":"ch-42"}"#, now(), &[]);
    assert_eq!((status, body.as_str()), (200, "ch-42"));
    assert!(head.to_ascii_lowercase().contains("content-type: text/plain"), "{head}");

    let mention = json!({"type": "event_callback", "event_id": "Ev100", "authorizations": [{"user_id": "UBOT"}],
        "event": {"type": "app_mention", "channel": "C1", "user": "U7", "ts": "17.01", "text": "<@UBOT> how are things?"}})
    .to_string();
    // Unsigned, stale, or signed with another secret: refused by the host.
    let (status, _) =
        http(&addr, "POST", "/channels/slack", &[("content-type", "application/json")], mention.as_bytes());
    assert_eq!(status, 401);
    assert_eq!(send(&mention, now() - 600, &[]).0, 401, "outside the 5-minute window");
    let forged = sign("another-secret", now(), &mention);
    let headers: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(http(&addr, "POST", "/channels/slack", &headers, mention.as_bytes()).0, 401);
    // Signed: acknowledged at once (Slack's 3-second limit), and its retry is nothing new.
    let started = Instant::now();
    assert_eq!(send(&mention, now(), &[]).0, 200);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(send(&mention, now(), &[("x-slack-retry-num", "1"), ("x-slack-retry-reason", "http_timeout")]).0, 200);
    // A channel message that does not mention the bot is not for it.
    let chatter = json!({"type": "event_callback", "event_id": "Ev101",
        "event": {"type": "message", "channel_type": "channel", "channel": "C1", "user": "U7", "ts": "18", "text": "lunch?"}})
    .to_string();
    assert_eq!(send(&chatter, now(), &[]).0, 200);

    until("the reply", || api.messages("C1").last().is_some_and(|m| m.text == answer));
    let posted = api.messages("C1");
    assert_eq!(posted.len(), 1, "drafts updated into one message: {posted:?}");
    assert_eq!(posted[0].thread_ts.as_deref(), Some("17.01"), "in the mention's thread");
    let calls = api.calls();
    assert!(calls.iter().any(|c| c.method == "chat.update"), "drafted then updated: {calls:?}");
    let want = format!("Bearer {BOT}");
    assert!(calls.iter().all(|c| c.authorization.as_deref() == Some(want.as_str())), "the boundary adds the token");
    let said = llm.requests()[0].last_message_text();
    assert!(said.contains("<untrusted") && said.contains("how are things?") && !said.contains("<@UBOT>"), "{said}");

    // Pairing in a direct message, then the operator's own words.
    let dm = |id: &str, text: &str| {
        json!({"type": "event_callback", "event_id": id,
            "event": {"type": "message", "channel_type": "im", "channel": "D9", "user": "U7", "ts": "20", "text": text}})
        .to_string()
    };
    assert_eq!(send(&dm("Ev200", "pair"), now(), &[]).0, 200);
    until("the pairing code", || !api.messages("D9").is_empty());
    let note = api.messages("D9")[0].text.clone();
    let code = note.rsplit(' ').next().unwrap().to_string();
    assert!(note.contains("claw pairing approve slack"), "{note}");
    ok(&h.claw(&["pairing", "approve", "slack", &code]), "approve");
    assert_eq!(send(&dm("Ev201", "status please"), now(), &[]).0, 200);
    until("the paired reply", || api.messages("D9").iter().any(|m| m.text == "Paired reply."));
    std::thread::sleep(Duration::from_millis(500));
    run.quit();
    let requests = llm.requests();
    assert_eq!(requests.len(), 2, "one turn per event; none for chatter or pairing");
    assert_eq!(requests[1].last_message_text(), "status please", "a paired sender's words are not wrapped");
    let audit = stdout(&h.claw(&["audit", "-n", "200"]));
    assert!(audit.contains("POST /channels/slack"), "refusals audited: {audit}");
    assert!(!audit.contains(SIGNING) && !audit.contains(BOT), "no secret in the audit log");
}

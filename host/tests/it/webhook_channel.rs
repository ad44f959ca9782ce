//! The HTTP webhook channel (components/webhook) through the gateway:
//! JSON in, the agent's answer as JSON out within the caller's wait, or a
//! 202 and the answer at a callback URL the grant allows (through the
//! boundary, to a stand-in on 127.0.0.1) and at `…/replies/ID`. A retry
//! with the same id is the same message: one turn, the same answer.

use crate::agent::set_secret;
use crate::channels::chat_service;
use crate::common::{guest, ok, stdout, wait_for};
use crate::llm_server::{Format, LlmServer, Step};
use crate::routines::{home_with, http, start};
use serde_json::Value;
use std::time::{Duration, Instant};

const TOKEN: &str = "webhook-secret-3e9a71";

#[test]
fn the_webhook_channel_answers_on_the_line_or_at_a_granted_callback_once_per_id() {
    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::Text("Your order ships today.".into()),
            Step::Text("Answer two.".into()),
            Step::Text("Answer three.".into()),
        ],
    );
    let h = home_with(&llm, "[gateway]\nlisten = \"127.0.0.1:0\"\n");
    let (port, callbacks) = chat_service();
    set_secret(&h, "webhook_token", TOKEN);
    let grant = format!(
        "[inbound]\nverify = \"bearer\"\nsecret = \"webhook_token\"\n[inbox]\n[kv]\n[limits]\ntimeout_ms = 65000\n\
         [[http]]\nurl = \"http://127.0.0.1:{port}/**\"\nmethods = [\"POST\"]\n[network]\nallow = [\"127.0.0.1\"]\n"
    );
    let file = h.home.config.join("webhook.toml");
    std::fs::write(&file, grant).unwrap();
    let wasm = guest("webhook");
    ok(
        &h.claw(&["component", "add", wasm.to_str().unwrap(), "--name", "webhook", "--grant", file.to_str().unwrap()]),
        "adding the webhook channel",
    );
    let run = start(&h);
    let line = wait_for(&run.err, "gateway: listening on http://");
    let addr = line.rsplit("http://").next().unwrap().trim().to_string();
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("authorization", bearer.as_str()), ("content-type", "application/json")];
    let post = |body: &str| {
        let (status, body) = http(&addr, "POST", "/channels/webhook", &auth, body.as_bytes());
        (status, serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body)))
    };

    // On the line: the answer in the response.
    let (status, v) = post(r#"{"conversation":"order-7","text":"Where is my order?","id":"m1"}"#);
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["reply"].as_str(), v["notice"].as_bool(), v["id"].as_str()),
        (Some("Your order ships today."), Some(false), Some("m1"))
    );
    // The caller retries: the same message, the same answer, no second turn.
    let (status, v) = post(r#"{"conversation":"order-7","text":"Where is my order?","id":"m1"}"#);
    assert_eq!((status, v["reply"].as_str()), (200, Some("Your order ships today.")));
    assert_eq!(llm.requests().len(), 1);

    // With a callback: 202 at once, the answer POSTed there and kept.
    let body = format!(
        r#"{{"conversation":"order-8","text":"Second question","id":"m2","callback_url":"http://127.0.0.1:{port}/cb"}}"#
    );
    let started = Instant::now();
    let (status, v) = post(&body);
    assert_eq!(status, 202, "{v}");
    assert!(started.elapsed() < Duration::from_secs(2), "no waiting with a callback");
    assert_eq!(v["poll"], "/channels/webhook/replies/m2");
    let deadline = Instant::now() + Duration::from_secs(30);
    while callbacks.lock().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = callbacks.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0]["conversation"].as_str(), got[0]["reply"].as_str()), (Some("order-8"), Some("Answer two.")));
    assert!(got[0]["reply_id"].as_str().unwrap().starts_with("job:"), "{got:?}");
    let (status, text) = http(&addr, "GET", "/channels/webhook/replies/m2", &auth, b"");
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Answer two."), "{text}");

    // A callback the grant does not allow is refused by the boundary, and
    // the caller who waited is told so, in place of the answer.
    let (status, v) = post(
        r#"{"conversation":"order-9","text":"Third","id":"m3","callback_url":"https://evil.example/x","wait_s":20}"#,
    );
    let said = v["reply"].as_str().unwrap_or_default();
    assert_eq!((status, v["notice"].as_bool()), (200, Some(true)), "{v}");
    assert!(said.contains("denied the request to https://evil.example/x") && !said.contains("Answer three"), "{v}");

    // Bad input: a clear status, nothing queued.
    for (body, status, says) in [
        ("{not json", 400, "not JSON"),
        (r#"{"conversation":"c"}"#, 400, "`text` is missing"),
        (r#"{"conversation":"c","text":"t","wait_s":600}"#, 400, "`wait_s`"),
    ] {
        let (got, v) = post(body);
        assert_eq!(got, status, "{body}: {v}");
        assert!(v["error"].as_str().unwrap_or_default().contains(says), "{body}: {v}");
    }
    let (status, _) = http(&addr, "GET", "/channels/webhook/replies/nosuch", &auth, b"");
    assert_eq!(status, 404);
    let (status, _) = http(&addr, "POST", "/channels/webhook", &[], b"{}");
    assert_eq!(status, 401, "unverified");
    std::thread::sleep(Duration::from_millis(1500));
    run.quit();
    assert_eq!(llm.requests().len(), 3, "one turn per message id");
    let audit = stdout(&h.claw(&["audit", "-n", "100"]));
    assert!(audit.contains("evil.example"), "the refused callback is audited: {audit}");
    assert!(!audit.contains(TOKEN));
}

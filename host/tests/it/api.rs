//! The OpenAI-compatible API of `claw run`'s gateway, called by the
//! official `openai` Python package (installed by `scripts/dev test`):
//! models, a turn, a streamed turn that continues the conversation, a
//! second client that sees none of the first's, and the refusals — an
//! unknown key (audited, the key nowhere), an unknown model, bad JSON.

use crate::common::{TestHome, ok, stdout};
use crate::llm_server::{Format, LlmServer, Step};
use crate::routines::{home_with, http, json, start};

/// The client's side: one call per `MODE`, its results as one JSON line.
const CLIENT: &str = r#"
import json, os, openai
base, key, mode = os.environ["BASE"] + "/v1", os.environ["KEY"], os.environ["MODE"]
c = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
first = {"role": "user", "content": os.environ["FIRST"]}
out = {}
if mode == "conversation":
    out["models"] = [m.id for m in c.models.list()]
    r = c.chat.completions.create(model="claw", messages=[first])
    out["text"], out["id"] = r.choices[0].message.content, r.id
    history = [first, {"role": "assistant", "content": out["text"]}, {"role": "user", "content": "And tomorrow?"}]
    chunks = list(c.chat.completions.create(model="claw", messages=history, stream=True))
    out["streamed"] = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    out["finish"] = [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1]
    try:
        c.chat.completions.create(model="gpt-4o", messages=[first])
        out["model_error"] = "accepted"
    except openai.BadRequestError as e:
        out["model_error"] = e.message
elif mode == "one":
    r = c.chat.completions.create(model="claw", messages=[first])
    out["text"] = r.choices[0].message.content
elif mode == "bad-key":
    try:
        c.chat.completions.create(model="claw", messages=[first])
        out["status"] = "accepted"
    except openai.AuthenticationError as e:
        out["status"], out["type"] = e.status_code, e.body.get("type") if isinstance(e.body, dict) else None
print(json.dumps(out))
"#;

fn client(addr: &str, key: &str, mode: &str, first: &str) -> serde_json::Value {
    let out = std::process::Command::new("python3")
        .args(["-c", CLIENT])
        .env("BASE", format!("http://{addr}"))
        .env("KEY", key)
        .env("MODE", mode)
        .env("FIRST", first)
        .output()
        .expect("python3 runs (scripts/dev test installs the openai package)");
    assert!(out.status.success(), "the client failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn add_client(h: &TestHome, name: &str) -> String {
    let added = json(h, &["user", "add", name, "--client"]);
    let token = added["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("claw_") && token.len() > 40, "{added}");
    token
}

#[test]
fn the_openai_client_talks_to_the_agent_each_client_in_its_own_conversations() {
    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::Text("Milk and eggs.".into()),
            Step::Text("Bread, tomorrow.".into()),
            Step::Text("Nothing yet.".into()),
        ],
    );
    let h = home_with(&llm, "[gateway]\nlisten = \"127.0.0.1:0\"\n");
    let ana = add_client(&h, "ana-script");
    let bob = add_client(&h, "bob-script");
    for (name, says) in
        [("Ana Script", "is not a valid user name"), ("ana-script", "already a user named `ana-script`")]
    {
        let refused = h.claw(&["user", "add", name]);
        assert!(!refused.status.success() && crate::common::stderr(&refused).contains(says), "{refused:?}");
    }
    let run = start(&h);
    let line = crate::common::wait_for(&run.err, "gateway: listening on http://");
    let addr = line.rsplit("http://").next().unwrap().trim().to_string();

    let a = client(&addr, &ana, "conversation", "What is on my shopping list?");
    assert_eq!(a["models"], serde_json::json!(["claw"]));
    assert_eq!(a["text"], "Milk and eggs.");
    assert_eq!((a["streamed"].as_str(), a["finish"].as_str()), (Some("Bread, tomorrow."), Some("stop")));
    assert!(a["model_error"].as_str().unwrap().contains("does not exist here"), "{a}");
    // The second turn continued the first's session: the agent kept it.
    let second = &llm.requests()[1];
    let text = second.all_text();
    assert!(text.contains("What is on my shopping list?") && text.contains("Milk and eggs."), "{text}");
    assert_eq!(second.last_message_text(), "And tomorrow?");

    // Another client, the same first words: a conversation of its own.
    let b = client(&addr, &bob, "one", "What is on my shopping list?");
    assert_eq!(b["text"], "Nothing yet.");
    let theirs = llm.requests()[2].all_text();
    assert!(!theirs.contains("Milk and eggs.") && !theirs.contains("And tomorrow?"), "no cross-talk: {theirs}");

    // Refused: a key of nobody's, no key, bad JSON, an empty conversation.
    let bad = client(&addr, "claw_not-a-key-of-anyone-here-0000000000000000", "bad-key", "hi");
    assert_eq!((bad["status"].as_i64(), bad["type"].as_str()), (Some(401), Some("authentication_error")), "{bad}");
    let (status, body) = http(&addr, "GET", "/v1/models", &[], b"");
    assert_eq!(status, 401, "{body}");
    let auth = format!("Bearer {ana}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let (status, body) =
        http(&addr, "POST", "/v1/chat/completions", &headers, b"{\"model\": \"claw\", \"messages\": [");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not a chat completion request") && body.contains("invalid_request_error"), "{body}");
    let (status, body) = http(&addr, "POST", "/v1/chat/completions", &headers, br#"{"model": "claw", "messages": []}"#);
    assert!(status == 400 && body.contains("`messages` is empty"), "{status} {body}");
    run.quit();
    assert_eq!(llm.requests().len(), 3, "the refused requests reached no LLM");

    let audit = stdout(&h.claw(&["audit", "-n", "50"]));
    assert!(audit.contains("POST /v1/chat/completions: a token that belongs to no user"), "{audit}");
    assert!(audit.contains("GET /v1/models: no bearer token"), "{audit}");
    assert!(!audit.contains("claw_not-a-key"), "the presented key is not recorded");
    let users = json(&h, &["user", "list"]);
    let listed = users.to_string();
    assert!(!listed.contains(&ana[5..]) && !listed.contains(&bob[5..]), "tokens are never listed: {listed}");
    assert!(users[0]["tokens"][0]["last_used_ms"].is_i64(), "{users}");
    let removed = h.claw(&["user", "rm", "bob-script"]);
    ok(&removed, "user rm");
    assert_eq!(json(&h, &["user", "list"]).as_array().unwrap().len(), 1);
}

/// Over HTTPS with the operator's certificate: the client gets its turn
/// place or a 503, and past the per-minute limit a 429 with Retry-After.
const LIMITED: &str = r#"
import json, os, ssl, threading, time, openai
ctx = ssl.create_default_context(cafile=os.environ["CA"])
c = openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0,
                  http_client=openai.DefaultHttpxClient(verify=ctx))
ask = lambda: c.chat.completions.create(model="claw", messages=[{"role": "user", "content": "hello"}])
out = {"models": [m.id for m in c.models.list()]}
threading.Thread(target=lambda: ask(), daemon=True).start()  # its turn hangs: the one place is taken
time.sleep(1.0)
for name in ["busy", "limited"]:
    try:
        ask()
        out[name] = "accepted"
    except openai.APIStatusError as e:
        out[name] = [e.status_code, e.response.headers.get("retry-after"), e.message]
print(json.dumps(out))
"#;

#[test]
fn https_with_the_operators_certificate_and_limits_that_answer_429_and_503() {
    let llm = LlmServer::start(Format::OpenAi, vec![Step::Hang]);
    let h = home_with(
        &llm,
        "[gateway]\nlisten = \"127.0.0.1:0\"\ntls_cert = \"gw.pem\"\ntls_key = \"gw.key\"\nper_minute = 3\nmax_turns = 1\n",
    );
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(h.home.config.join("gw.pem"), cert.cert.pem()).unwrap();
    std::fs::write(h.home.config.join("gw.key"), cert.signing_key.serialize_pem()).unwrap();
    let key = add_client(&h, "script");
    let run = start(&h);
    let line = crate::common::wait_for(&run.err, "gateway: listening on https://");
    let port = line.rsplit(':').next().unwrap().trim().to_string();
    let out = std::process::Command::new("python3")
        .args(["-c", LIMITED])
        .env("BASE", format!("https://localhost:{port}"))
        .env("KEY", &key)
        .env("CA", h.home.config.join("gw.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out["models"], serde_json::json!(["claw"]), "{out}");
    assert_eq!(out["busy"][0], 503, "{out}");
    assert!(out["busy"][2].as_str().unwrap().contains("1 agent turns at once"), "{out}");
    assert_eq!((out["limited"][0].as_i64(), out["limited"][1].as_str().is_some()), (Some(429), true), "{out}");
    assert!(out["limited"][2].as_str().unwrap().contains("more than 3 requests a minute"), "{out}");
    // Plain HTTP to the TLS port gets no answer from the API.
    let (status, _) = http(&format!("127.0.0.1:{port}"), "GET", "/healthz", &[], b"");
    assert_eq!(status, 0, "no plaintext on the HTTPS port");
    assert_eq!(llm.requests().len(), 1, "only the one turn that got its place reached the LLM");
    run.quit();
}

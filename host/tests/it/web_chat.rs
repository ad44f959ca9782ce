//! The web chat's API on `claw run`'s gateway, over real HTTP: a person
//! signs in with a password (a cookie session with a CSRF token), sends a
//! message and gets the agent's reply, lists conversations and reads the
//! history; another person sees none of it; a change without the CSRF
//! token, from another origin, or after logout is refused; a wrong
//! password is audited without the password.

use crate::common::{TestHome, ok, stdout};
use crate::llm_server::{Format, LlmServer, Step};
use crate::routines::{home_with, http_full, json, start};

fn person(h: &TestHome, name: &str, password: &str) {
    ok(&h.claw(&["user", "add", name]), "user add");
    ok(&h.claw_with_stdin(&["user", "password", name], &format!("{password}\n")), "user password");
}

/// Sign in; the cookie to send back and the CSRF token.
fn login(addr: &str, name: &str, password: &str) -> (String, String) {
    let body = serde_json::json!({"name": name, "password": password}).to_string();
    let (status, head, answer) =
        http_full(addr, "POST", "/login", &[("content-type", "application/json")], body.as_bytes());
    assert_eq!(status, 200, "{answer}");
    let set = head.lines().find_map(|l| l.strip_prefix("set-cookie: ")).unwrap_or_else(|| panic!("no cookie: {head}"));
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let csrf = serde_json::from_str::<serde_json::Value>(&answer).unwrap()["csrf"].as_str().unwrap().to_string();
    (cookie, csrf)
}

fn call(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, serde_json::Value) {
    let (status, _, answer) = http_full(addr, method, path, headers, body.as_bytes());
    (status, serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}")))
}

#[test]
fn a_person_signs_in_chats_and_reads_their_history_and_nobody_elses() {
    let llm =
        LlmServer::start(Format::OpenAi, vec![Step::Text("Tuesday at 10.".into()), Step::Text("Hello Bo.".into())]);
    let h = home_with(&llm, "[gateway]\nlisten = \"127.0.0.1:0\"\n");
    person(&h, "ana", "a long passphrase for ana");
    person(&h, "bo", "another passphrase for bo");
    let short = h.claw_with_stdin(&["user", "password", "ana"], "short\n");
    assert!(!short.status.success() && crate::common::stderr(&short).contains("shorter than 12"), "{short:?}");
    let run = start(&h);
    let line = crate::common::wait_for(&run.err, "gateway: listening on http://");
    let addr = line.rsplit("http://").next().unwrap().trim().to_string();

    // A wrong password: refused, audited, no cookie.
    let wrong = serde_json::json!({"name": "ana", "password": "not-the-passphrase-x"}).to_string();
    let (status, head, _) = http_full(&addr, "POST", "/login", &[], wrong.as_bytes());
    assert!(status == 401 && !head.contains("set-cookie"), "{status} {head}");
    // A password typed into the name field is not recorded either.
    let swapped = serde_json::json!({"name": "my Secret pass 99", "password": "x"}).to_string();
    assert_eq!(http_full(&addr, "POST", "/login", &[], swapped.as_bytes()).0, 401);

    let (cookie, csrf) = login(&addr, "ana", "a long passphrase for ana");
    let send = r#"{"text": "When is the dentist?"}"#;
    let path = "/api/conversations/errands/messages";
    // No CSRF token, a wrong one, another origin: refused, nothing queued.
    let (status, e) = call(&addr, "POST", path, &[("cookie", &cookie)], send);
    assert_eq!((status, e["error"]["layer"].as_str()), (403, Some("csrf")), "{e}");
    let (status, _) = call(&addr, "POST", path, &[("cookie", &cookie), ("x-csrf-token", "0000")], send);
    assert_eq!(status, 403);
    let evil = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str()), ("origin", "https://evil.example")];
    let (status, e) = call(&addr, "POST", path, &evil, send);
    assert!(status == 403 && e["error"]["message"].as_str().unwrap().contains("another origin"), "{e}");
    assert!(llm.requests().is_empty(), "nothing reached the agent");

    let good = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str()), ("origin", &*format!("http://{addr}"))];
    let (status, reply) = call(&addr, "POST", path, &good, send);
    assert_eq!((status, reply["reply"].as_str()), (200, Some("Tuesday at 10.")), "{reply}");
    let (_, list) = call(&addr, "GET", "/api/conversations", &[("cookie", &cookie)], "");
    assert_eq!(list["conversations"][0]["id"], "errands", "{list}");
    let (_, history) = call(&addr, "GET", path, &[("cookie", &cookie)], "");
    let said: Vec<(&str, &str)> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["text"].as_str().unwrap()))
        .collect();
    assert_eq!(said, [("user", "When is the dentist?"), ("assistant", "Tuesday at 10.")]);

    // Bo, in a conversation of the same name: none of Ana's.
    let (bo_cookie, bo_csrf) = login(&addr, "bo", "another passphrase for bo");
    let (_, list) = call(&addr, "GET", "/api/conversations", &[("cookie", &bo_cookie)], "");
    assert_eq!(list["conversations"], serde_json::json!([]), "{list}");
    let (_, history) = call(&addr, "GET", path, &[("cookie", &bo_cookie)], "");
    assert_eq!(history["messages"], serde_json::json!([]), "{history}");
    let bo = [("cookie", bo_cookie.as_str()), ("x-csrf-token", bo_csrf.as_str())];
    let (_, reply) = call(&addr, "POST", path, &bo, r#"{"text": "Hi, I am Bo"}"#);
    assert_eq!(reply["reply"], "Hello Bo.");
    let theirs = llm.requests()[1].all_text();
    assert!(!theirs.contains("dentist") && !theirs.contains("Tuesday"), "no cross-talk: {theirs}");

    // Logged out, the cookie opens nothing.
    let (status, _) = call(&addr, "POST", "/logout", &good, "");
    assert_eq!(status, 200);
    let (status, _) = call(&addr, "GET", "/api/conversations", &[("cookie", &cookie)], "");
    assert_eq!(status, 401);
    run.quit();

    let audit = stdout(&h.claw(&["audit", "-n", "50"]));
    assert!(audit.contains("POST /login: wrong credentials for `ana`"), "{audit}");
    assert!(
        !audit.contains("not-the-passphrase") && !audit.contains("a long passphrase"),
        "no password in the audit log"
    );
    let users = json(&h, &["user", "list"]).to_string();
    assert!(!users.contains("passphrase") && !users.contains("argon2"), "{users}");
}

/// The browser's side, in real headless Chromium driven by Playwright:
/// sign in, send, watch the tool call start and finish and the reply
/// arrive token by token, reload and see the history, a screenshot; then a
/// second person in a fresh browser context sees none of it.
const BROWSER: &str = r##"
const { chromium } = require("playwright-core");
(async () => {
  const out = {};
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ["--no-sandbox"] });
  try {
    const signIn = async (page, name, password) => {
      await page.goto(process.env.BASE + "/");
      await page.fill("#name", name);
      await page.fill("#password", password);
      await page.click("#login");
      await page.waitForSelector("#composer", { state: "visible" });
    };
    const ana = await (await browser.newContext()).newPage();
    const errors = [];
    ana.on("pageerror", (e) => errors.push(String(e)));
    await ana.goto(process.env.BASE + "/");
    await ana.fill("#name", "ana");
    await ana.fill("#password", "wrong password here");
    await ana.click("#login");
    await ana.waitForFunction(() => document.getElementById("login-error").textContent.length > 0);
    out.login_error = await ana.textContent("#login-error");
    await signIn(ana, "ana", "a long passphrase for ana");
    // Every state the reply's text and the tool calls pass through.
    await ana.evaluate(() => {
      window.seen = { texts: [], calls: [] };
      new MutationObserver(() => {
        const t = document.querySelector(".msg.assistant .text");
        if (t && window.seen.texts[window.seen.texts.length - 1] !== t.textContent) window.seen.texts.push(t.textContent);
        const calls = [...document.querySelectorAll(".call")].map((c) => c.className).join(",");
        if (calls && window.seen.calls[window.seen.calls.length - 1] !== calls) window.seen.calls.push(calls);
      }).observe(document.getElementById("messages"), { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await ana.fill("#text", "When is the dentist?");
    await ana.click("#send");
    await ana.waitForSelector(".msg.assistant:not(.pending):not(.streaming)");
    out.reply = await ana.textContent(".msg.assistant .text");
    out.call = await ana.textContent(".call");
    out.seen = await ana.evaluate(() => window.seen);
    await ana.screenshot({ path: process.env.SHOT.replace(".png", "-live.png"), fullPage: true });
    await ana.reload();
    await ana.waitForSelector(".msg.assistant");
    out.after_reload = await ana.$$eval(".msg", (ms) => ms.map((m) => [m.className, m.textContent]));
    out.conversations = await ana.$$eval("#conversations a", (as) => as.map((a) => a.textContent));
    await ana.screenshot({ path: process.env.SHOT, fullPage: true });
    const bo = await (await browser.newContext()).newPage();
    await signIn(bo, "bo", "another passphrase for bo");
    out.bo_conversations = await bo.$$eval("#conversations a", (as) => as.length);
    out.bo_sees = await bo.textContent("body");
    out.errors = errors;
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"##;

#[test]
fn in_chromium_a_person_signs_in_chats_reloads_to_their_history_and_another_sees_none() {
    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::ToolCalls(vec![("call_1".into(), "echo".into(), r#"{"text":"dentist"}"#.into())]),
            Step::Text("Tuesday at ten, after lunch.".into()),
        ],
    );
    llm.pause_between_tokens(std::time::Duration::from_millis(150));
    let h = home_with(&llm, "[gateway]\nlisten = \"127.0.0.1:0\"\n");
    person(&h, "ana", "a long passphrase for ana");
    person(&h, "bo", "another passphrase for bo");
    let run = start(&h);
    let line = crate::common::wait_for(&run.err, "gateway: listening on http://");
    let addr = line.rsplit("http://").next().unwrap().trim().to_string();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let modules = std::env::var("CLAW_NODE_MODULES").map_or_else(|_| root.join("target/npm/node_modules"), Into::into);
    assert!(
        modules.join("playwright-core").is_dir(),
        "playwright-core is missing in {}: run `scripts/dev test`",
        modules.display()
    );
    let shot = root.join("target/web-chat.png");
    let out = std::process::Command::new("node")
        .args(["-e", BROWSER])
        .env("NODE_PATH", &modules)
        .env("CHROMIUM", std::env::var("CLAW_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()))
        .env("BASE", format!("http://{addr}"))
        .env("SHOT", &shot)
        .output()
        .expect("node runs (scripts/dev test installs Chromium and playwright-core)");
    if !out.status.success() {
        let log: Vec<String> = run.err.try_iter().collect();
        panic!(
            "the browser run failed: {}\nclaw said: {log:#?}\nthe LLM was asked {} time(s)",
            String::from_utf8_lossy(&out.stderr),
            llm.requests().len()
        );
    }
    let out: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    run.quit();
    assert!(out["login_error"].as_str().unwrap().contains("do not match a user"), "{out}");
    let reply = "Tuesday at ten, after lunch.";
    assert_eq!(out["reply"], reply, "{out}");
    // Tokens arrived one by one: the text grew through prefixes of the reply.
    let texts: Vec<String> = serde_json::from_value(out["seen"]["texts"].clone()).unwrap();
    let partial: Vec<&String> =
        texts.iter().filter(|t| !t.is_empty() && reply.starts_with(t.as_str()) && t.len() < reply.len()).collect();
    assert!(partial.len() >= 3, "the reply was seen growing, not only whole: {texts:?}");
    // The tool call was shown running, then done.
    let calls: Vec<String> = serde_json::from_value(out["seen"]["calls"].clone()).unwrap();
    assert_eq!(calls.first().map(String::as_str), Some("call running"), "{calls:?}");
    assert_eq!(calls.last().map(String::as_str), Some("call done"), "{calls:?}");
    assert!(out["call"].as_str().unwrap().starts_with("echo {\"text\":\"dentist\"}"), "{out}");
    let after: Vec<(String, String)> = serde_json::from_value(out["after_reload"].clone()).unwrap();
    assert_eq!(
        after,
        [("msg user".into(), "When is the dentist?".into()), ("msg assistant".into(), reply.into())],
        "the history, after a reload: {out}"
    );
    assert_eq!(out["conversations"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["bo_conversations"], 0, "{out}");
    assert!(!out["bo_sees"].as_str().unwrap().contains("dentist"), "{out}");
    assert_eq!(out["errors"], serde_json::json!([]), "no script errors: {out}");
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "a screenshot of the page at {}", shot.display());
}

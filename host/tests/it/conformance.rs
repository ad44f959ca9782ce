//! The conformance suite's attacks and benign requests, run against this
//! host: `raw-http` sends exactly what each case says. Every attack must
//! fail and be audited; every benign request must pass (zero false blocks).

use crate::common::{TestHome, TestServer, add, guest, stderr};
use base64::Engine as _;
use claw::boundary::audit::{AuditLog, Record};
use claw::runtime::{CallError, Runtime};
use claw::vault::Vault;
use serde_json::{Value, json};
use std::sync::Arc;

const VALUE: &str = "s3cr3t-V4lue/with+odd=chars";

struct Setup {
    h: TestHome,
    rt: Arc<Runtime>,
    server: TestServer,
    other: TestServer,
}

/// raw-http may reach `/**` on one loopback server and `/public/**` on the
/// other; `key` may only go to the first (its scheme, host and port) as a
/// header; `bot` only into the path segment the `/bot{secret:bot}/**`
/// rules write it in.
async fn setup(extra: &str) -> Setup {
    let other = TestServer::start(0);
    let server = TestServer::start(other.port);
    let h = TestHome::new();
    let mut v = Vault::open(&h.home, true).unwrap();
    v.set("key", VALUE.as_bytes()).unwrap();
    v.set("bot", b"123456:bot-token-value").unwrap();
    let rt = h.runtime();
    let grant = format!(
        r#"
[[http]]
url = "http://127.0.0.1:{0}/**"
methods = ["GET", "POST"]

[[http]]
url = "http://127.0.0.1:{0}/bot{{secret:bot}}/**"
methods = ["GET", "POST"]

[[http]]
url = "http://127.0.0.1:{1}/public/**"

[[http]]
url = "https://api.example.com/bot{{secret:bot}}/**"

[[secrets]]
name = "key"
origins = ["http://127.0.0.1:{0}"]
inject = "header"
header = "x-api-key"

[[secrets]]
name = "bot"
inject = "placeholder"
{extra}"#,
        server.port, other.port
    );
    add(&rt, "raw", "raw_http", &grant).await.unwrap();
    Setup { h, rt, server, other }
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.server.port)
    }

    async fn send(&self, req: Value) -> Result<Value, CallError> {
        self.rt.call("raw", &req.to_string()).await.map(|s| serde_json::from_str(&s).unwrap())
    }

    fn last_audit(&self) -> Record {
        self.rt.boundary().flush_audit();
        AuditLog::new(&self.h.home.data.join("audit.jsonl")).read().unwrap().pop().expect("an audit record")
    }

    /// The request fails as denied, nothing reached either server, and the
    /// audit's last record is a denial whose reason contains `why`.
    async fn assert_blocked(&self, req: Value, why: &str) {
        self.rt.boundary().flush_audit();
        let before = AuditLog::new(&self.h.home.data.join("audit.jsonl")).read().unwrap().len();
        let err = self.send(req.clone()).await.expect_err(&format!("attack succeeded: {req}"));
        assert!(err.to_string().contains("denied") || err.to_string().contains("limit"), "{req}: {err}");
        assert!(self.server.seen().is_empty() && self.other.seen().is_empty(), "{req}: a request reached a server");
        self.rt.boundary().flush_audit();
        let records = AuditLog::new(&self.h.home.data.join("audit.jsonl")).read().unwrap();
        assert_eq!(records.len(), before + 1, "{req}: not audited");
        let last = records.last().unwrap();
        assert_eq!(last.decision, "deny", "{req}");
        assert!(last.rule.contains(why), "{req}: audit says `{}`, expected `{why}`", last.rule);
        let raw = std::fs::read_to_string(self.h.home.data.join("audit.jsonl")).unwrap();
        assert!(!raw.contains(VALUE), "a secret value reached the audit log");
        // A leak holds the component; release it for the table's next row.
        let q = self.rt.boundary().quarantine();
        assert_eq!(q.get("raw").is_some(), last.rule.starts_with("leak:"), "{req}: quarantine after `{}`", last.rule);
        q.release("raw").unwrap();
    }
}

#[tokio::test]
async fn hosts_ports_and_addresses_outside_the_grant_are_refused() {
    let s = setup("").await;
    for (url, why) in [
        (format!("http://127.0.0.1:{}/hello", s.other.port), "no [[http]] rule"),
        ("http://10.0.0.1/".to_string(), "no [[http]] rule"),
        ("http://169.254.169.254/latest/meta-data/".to_string(), "no [[http]] rule"),
        ("http://[fd00:ec2::254]/latest/meta-data/".to_string(), "no [[http]] rule"),
        ("http://not-granted.example/".to_string(), "no [[http]] rule"),
        (format!("http://127.0.0.1:{}/hello", s.server.port).replace("http://", "https://"), "no [[http]] rule"),
    ] {
        s.assert_blocked(json!({"url": url}), why).await;
    }
}

#[tokio::test]
async fn a_redirect_to_a_disallowed_host_stops_at_the_next_hop() {
    let s = setup("").await;
    let err = s.send(json!({"url": s.url("/redirect"), "follow": 1})).await.unwrap_err();
    assert!(err.to_string().contains("denied"), "{err}");
    assert_eq!(s.server.seen().len(), 1, "the first hop was allowed");
    assert!(s.other.seen().is_empty(), "the redirect target was not reached");
    assert!(s.last_audit().rule.contains("no [[http]] rule"));
}

/// Every encoding the detector must catch.
fn encodings() -> Vec<(&'static str, String)> {
    let b = VALUE.as_bytes();
    let mut out = vec![
        ("raw", VALUE.to_string()),
        ("hex", hex::encode(b)),
        ("HEX", hex::encode_upper(b)),
        (
            "percent",
            b.iter()
                .map(|c| if c.is_ascii_alphanumeric() { (*c as char).to_string() } else { format!("%{c:02X}") })
                .collect(),
        ),
        ("json", serde_json::to_string(VALUE).unwrap().trim_matches('"').replace('/', "\\/")),
    ];
    for prefix in ["", "a", "ab"] {
        let mut bytes = prefix.as_bytes().to_vec();
        bytes.extend_from_slice(b);
        out.push(("base64", base64::engine::general_purpose::STANDARD.encode(&bytes)));
        out.push(("base64url", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes)));
    }
    out
}

#[tokio::test]
async fn a_vault_value_smuggled_in_any_encoding_is_blocked() {
    let s = setup("").await;
    for (label, enc) in encodings() {
        let url_safe = enc.bytes().all(|c| c.is_ascii_alphanumeric() || b"-._~%".contains(&c));
        if url_safe {
            s.assert_blocked(json!({"url": s.url(&format!("/hello?q={enc}"))}), "leak: vault secret `key`").await;
        }
        s.assert_blocked(json!({"url": s.url("/hello"), "headers": [["x-note", enc]]}), "leak: vault secret `key`")
            .await;
        s.assert_blocked(
            json!({"method": "POST", "url": s.url("/hello"), "body": format!("{{\"data\":\"{enc}\"}}")}),
            "leak: vault secret `key`",
        )
        .await;
        let _ = label;
    }
}

#[tokio::test]
async fn credential_patterns_are_blocked_even_when_not_in_the_vault() {
    let s = setup("").await;
    for (body, name) in [
        ("aws=AKIAZQADLC4K2G733XDX", "AWS access key id"),
        ("token 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", "GitHub personal access token"),
        ("db = postgres://billing:an93uCst-GxXYxN@db.internal:5432", "URL with a password"),
    ] {
        s.assert_blocked(json!({"method": "POST", "url": s.url("/hello"), "body": body}), name).await;
    }
}

#[tokio::test]
async fn a_placeholder_is_filled_only_where_the_grant_declares_it() {
    let s = setup("").await;
    // Its declared place: the path segment the rule writes.
    s.send(json!({"url": s.url("/bot{secret:bot}/sendMessage")})).await.unwrap();
    assert_eq!(s.server.seen().last().unwrap(), "GET /bot123456%3Abot-token-value/sendMessage HTTP/1.1");
    // Anywhere else the granted service could store or forward it.
    for (req, place) in [
        (json!({"url": s.url("/bot{secret:bot}/sendMessage?text={secret:bot}")}), "in query parameter `text`"),
        (json!({"url": s.url("/sendMessage?chat_id=1&text={secret:bot}")}), "in query parameter `text`"),
        (json!({"url": s.url("/bot{secret:bot}/x/{secret:bot}")}), "path segment 3"),
        (json!({"url": s.url("/x/bot{secret:bot}")}), "path segment 2"),
        (json!({"url": s.url("/x"), "headers": [["x-t", "{secret:bot}"]]}), "header `x-t`"),
        (json!({"url": s.url("/x"), "headers": [["x-t", "{secret:key}"]]}), "header `x-t`"),
        (json!({"url": format!("http://127.0.0.1:{}/public/bot{{secret:bot}}", s.other.port)}), "path segment 2"),
    ] {
        let before = s.server.seen().len();
        let err = s.send(req.clone()).await.expect_err(&format!("{req}"));
        assert!(err.to_string().contains(place), "{req}: {err}");
        assert_eq!(s.server.seen().len(), before, "{req} reached the server");
        assert!(s.last_audit().rule.contains(place), "{req}: {}", s.last_audit().rule);
    }
}

#[tokio::test]
async fn a_secret_goes_only_to_its_scheme_host_and_port() {
    let s = setup("").await;
    // Same host, another port (the other server's /public rule allows it).
    s.send(json!({"url": format!("http://127.0.0.1:{}/public/echo", s.other.port)})).await.unwrap();
    let head = s.other.heads().pop().unwrap();
    assert!(!head.contains("x-api-key") && !head.contains(VALUE), "{head}");
    assert!(s.last_audit().secrets.is_empty());
}

#[tokio::test]
async fn a_path_a_server_would_read_as_leaving_the_glob_is_refused() {
    let s = setup("").await;
    let base = format!("http://127.0.0.1:{}", s.other.port);
    for path in [
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/public/%2E%2E/admin",
        "/public/.%2e/admin",
        "/public/..%2fadmin",
        "/public%2f..%2fadmin",
        "/public/%252e%252e/admin",
        "/public/..;/admin",
        "/public/%5c..%5cadmin",
        "/public//admin",
    ] {
        s.assert_blocked(json!({"url": format!("{base}{path}")}), "path refused").await;
    }
    // The plain form of a path inside the glob still passes.
    s.send(json!({"url": format!("{base}/public/a%20b/c.txt")})).await.unwrap();
}

#[tokio::test]
async fn a_vault_value_in_the_path_or_host_never_reaches_a_record() {
    let s = setup("").await;
    let hex = hex::encode(VALUE);
    // Not granted (other port, outside /public): denied by the rules, and
    // the record shows the place with the value cut out.
    let url = format!("http://127.0.0.1:{}/steal/{VALUE}", s.other.port).replace('+', "%2B");
    s.assert_blocked(json!({"url": url}), "no [[http]] rule").await;
    assert!(s.last_audit().path.contains("[redacted: secret key]"), "{}", s.last_audit().path);
    s.assert_blocked(json!({"url": format!("http://{hex}.example/")}), "no [[http]] rule").await;
    // Granted: the leak scan denies, naming the secret and the place.
    s.assert_blocked(json!({"url": s.url(&format!("/x/{hex}"))}), "leak: vault secret `key`").await;
    let last = s.last_audit();
    assert!(last.rule.contains("in the URL") && last.path.contains("[redacted: secret key]"), "{last:?}");
    let raw = std::fs::read_to_string(s.h.home.data.join("audit.jsonl")).unwrap();
    assert!(!raw.contains(&hex), "a hex spelling of the value reached the audit log");
}

#[tokio::test]
async fn a_reply_the_boundary_cannot_redact_never_reaches_the_component() {
    let s = setup("").await;
    // The component's Accept-Encoding is replaced: redaction must read
    // the reply as the component would.
    let err = s
        .send(json!({"url": s.url("/echo-gzip"), "headers": [["accept-encoding", "gzip"]]}))
        .await
        .expect_err("an encoded reply to a request with an injected key");
    assert!(!err.to_string().contains(VALUE), "{err}");
    let head = s.server.heads().pop().unwrap().to_ascii_lowercase();
    assert!(head.contains("accept-encoding: identity") && !head.contains("gzip"), "{head}");
    assert!(s.last_audit().rule.contains("cannot be redacted"), "{}", s.last_audit().rule);
    // Escapes that spell the value byte by byte cannot be cut in place.
    let err = s.send(json!({"url": s.url("/echo-escaped")})).await.expect_err("a \\u-escaped echo");
    assert!(!err.to_string().contains(VALUE), "{err}");
    assert!(s.last_audit().rule.contains("escapes"), "{}", s.last_audit().rule);
    // Hex in mixed case is redacted.
    let out = s.send(json!({"url": s.url("/echo-hex")})).await.unwrap();
    let body = out["hops"][0]["body"].as_str().unwrap().to_string();
    assert!(body.contains("[REDACTED:key]"), "{body}");
}

#[tokio::test]
async fn the_guests_own_authorization_header_never_leaves() {
    let s = setup("").await;
    let out = s
        .send(json!({"url": s.url("/echo"), "headers": [["authorization", "Bearer guest-made-credential"]]}))
        .await
        .unwrap();
    let head = &s.server.heads()[0];
    assert!(!head.to_ascii_lowercase().contains("authorization:"), "{head}");
    assert!(!head.contains("guest-made-credential"), "{head}");
    // The boundary injected the granted key instead, and redacted its echo.
    assert!(head.contains(&format!("x-api-key: {VALUE}")), "{head}");
    let text = out.to_string();
    assert!(!text.contains(VALUE) && text.contains("[REDACTED:key]"), "{text}");
}

#[tokio::test]
async fn userinfo_in_the_authority_is_refused() {
    let s = setup("").await;
    s.assert_blocked(json!({"url": format!("http://user:pw@127.0.0.1:{}/hello", s.server.port)}), "user info").await;
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused_before_anything_is_sent() {
    let s = setup("[limits]\nhttp_request_kib = 4\n").await;
    s.assert_blocked(
        json!({"method": "POST", "url": s.url("/hello"), "body": "x".repeat(5000)}),
        "request body over the limit",
    )
    .await;
    // Under the cap passes.
    s.send(json!({"method": "POST", "url": s.url("/hello"), "body": "x".repeat(3000)})).await.unwrap();
}

#[test]
fn a_component_that_opens_sockets_is_refused_at_add_time() {
    let h = TestHome::new();
    let out = h.claw(&["component", "add", guest("socket_opener").to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("wasi:sockets") && err.contains("may not open sockets"), "{err}");
}

#[tokio::test]
async fn benign_requests_pass_without_false_blocks() {
    let s = setup("").await;
    let benign_bodies = [
        r#"{"query":"what is my password policy?","token_count":42}"#.to_string(),
        "sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_string(),
        "uuid 123e4567-e89b-12d3-a456-426614174000 and base64 aGVsbG8gd29ybGQ=".to_string(),
        "the key is in the vault; sk- prefixes and AKIA words are fine here".to_string(),
        // documentation examples and placeholders are no evidence
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE".to_string(),
        "token: ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx and sk_live_000000000000000000000000".to_string(),
        "connect to postgres://user:password@localhost/db".to_string(),
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE".to_string(),
        "x".repeat(3000),
    ];
    for body in benign_bodies {
        let out = s.send(json!({"method": "POST", "url": s.url("/hello"), "body": body})).await;
        assert!(out.is_ok(), "false block on {body:?}: {:?}", out.err().map(|e| e.to_string()));
    }
    let out = s.send(json!({"url": s.url("/hello?page=2&sort=desc")})).await.unwrap();
    assert_eq!(out["hops"][0]["status"], 200);
    s.rt.boundary().flush_audit();
    let records = AuditLog::new(&s.h.home.data.join("audit.jsonl")).read().unwrap();
    assert!(records.iter().all(|r| r.decision == "allow"), "{records:#?}");
    assert_eq!(AuditLog::new(&s.h.home.data.join("audit.jsonl")).verify().unwrap(), records.len());
}

#[tokio::test]
async fn a_component_that_trips_the_leak_scan_is_held_until_the_operator_releases_it() {
    // Otherwise it could learn a vault value it was never granted by
    // watching which of its guesses are blocked.
    let s = setup("").await;
    let err = s.send(json!({"url": s.url(&format!("/hello?q={}", hex::encode(VALUE)))})).await.unwrap_err();
    assert!(err.to_string().contains("quarantined until `claw component release raw`"), "{err}");
    s.rt.boundary().flush_audit();
    let records = AuditLog::new(&s.h.home.data.join("audit.jsonl")).read().unwrap().len();
    // Its next call, however harmless, does not run.
    let err = s.send(json!({"url": s.url("/hello")})).await.unwrap_err();
    assert!(matches!(&err, CallError::Quarantined { .. }), "{err}");
    assert!(err.hint().unwrap().contains("claw component release raw"));
    assert!(s.server.seen().is_empty());
    s.rt.boundary().flush_audit();
    assert_eq!(AuditLog::new(&s.h.home.data.join("audit.jsonl")).read().unwrap().len(), records);
    // Another process sees it, and the operator releases it there.
    let list = crate::common::stdout(&s.h.claw(&["component", "list"]));
    assert!(list.lines().any(|l| l.starts_with("raw ") && l.contains("quarantined")), "{list}");
    let explain = crate::common::stdout(&s.h.claw(&["policy", "explain", "raw"]));
    assert!(explain.contains("state: QUARANTINED") && explain.contains("leak: vault secret `key`"), "{explain}");
    assert!(!explain.contains(VALUE) && !explain.contains(&hex::encode(VALUE)));
    let out = s.h.claw(&["component", "release", "raw"]);
    assert!(out.status.success() && stderr(&out).contains("released raw"), "{}", stderr(&out));
    // A running host picks the release up on its next sync, as `claw run` does.
    s.rt.sync().unwrap();
    s.send(json!({"url": s.url("/hello")})).await.unwrap();
    assert_eq!(s.server.seen().len(), 1);
}

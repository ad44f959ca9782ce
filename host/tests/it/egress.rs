//! The HTTP egress hook: deny by default against the grant's allow rules;
//! allowed requests reach a real server on 127.0.0.1; redirects are not
//! followed inside the host.

use crate::common::{TestHome, TestServer, add};
use claw::runtime::CallError;

fn grant_for(port: u16) -> String {
    format!("[[http]]\nurl = \"http://127.0.0.1:{port}/hello\"\nmethods = [\"GET\"]\n")
}

#[tokio::test]
async fn an_allowed_request_reaches_the_server() {
    let server = TestServer::start(0);
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "fetch", "http_fetch", &grant_for(server.port)).await.unwrap();
    let out = rt.call("fetch", &format!(r#"{{"url":"http://127.0.0.1:{}/hello"}}"#, server.port)).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["text"], "hello from the test server");
    assert_eq!(server.seen(), vec!["GET /hello HTTP/1.1".to_string()]);
}

#[tokio::test]
async fn requests_outside_the_grant_are_denied_and_never_sent() {
    let server = TestServer::start(0);
    let other = TestServer::start(0);
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "fetch", "http_fetch", &grant_for(server.port)).await.unwrap();
    for url in [
        format!("http://127.0.0.1:{}/other", server.port),  // path not granted
        format!("http://127.0.0.1:{}/hello", other.port),   // port not granted
        format!("http://localhost:{}/hello", server.port),  // host not granted
        format!("https://127.0.0.1:{}/hello", server.port), // scheme not granted
    ] {
        let err = rt.call("fetch", &format!(r#"{{"url":"{url}"}}"#)).await.unwrap_err();
        match &err {
            CallError::Tool { error, .. } => {
                assert_eq!(error.kind, claw::wit::claw::runtime::types::ErrorKind::Denied, "{url}: {err}");
            }
            other => panic!("{url}: expected a denial, got {other}"),
        }
    }
    assert!(server.seen().is_empty(), "nothing reached the server: {:?}", server.seen());
    assert!(other.seen().is_empty(), "nothing reached the other server");
}

#[tokio::test]
async fn a_redirect_comes_back_to_the_component_and_is_not_followed() {
    let target = TestServer::start(0);
    let server = TestServer::start(target.port);
    let h = TestHome::new();
    let rt = h.runtime();
    let grant = format!("[[http]]\nurl = \"http://127.0.0.1:{}/redirect\"\n", server.port);
    add(&rt, "fetch", "http_fetch", &grant).await.unwrap();
    let out = rt.call("fetch", &format!(r#"{{"url":"http://127.0.0.1:{}/redirect"}}"#, server.port)).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], 302, "{v}");
    assert!(target.seen().is_empty(), "the host did not follow the redirect");
}

#[tokio::test]
async fn a_tool_granted_one_port_cannot_reach_another() {
    let server = TestServer::start(0);
    let h = TestHome::new();
    let rt = h.runtime();
    // http-fetch imports wasi:http, so it needs *a* rule to be added; give it
    // one for another port and try this server.
    add(&rt, "fetch", "http_fetch", "[[http]]\nurl = \"http://127.0.0.1:1/\"\n").await.unwrap();
    let err = rt.call("fetch", &format!(r#"{{"url":"http://127.0.0.1:{}/hello"}}"#, server.port)).await.unwrap_err();
    assert!(err.to_string().contains("denied") && err.to_string().contains("no [[http]] rule"), "{err}");
    assert!(server.seen().is_empty());
}

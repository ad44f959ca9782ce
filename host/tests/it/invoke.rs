//! Tool-to-tool calls: only aliases the grant names, each hop in its own
//! instance, and a cap on depth.

use crate::common::{TestHome, add};
use claw::runtime::CallError;
use claw::wit::claw::runtime::types::ErrorKind;

#[tokio::test]
async fn a_granted_alias_calls_the_other_tool_one_level_deeper() {
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "echo", "echo", "").await.unwrap();
    add(&rt, "caller", "caller", "[invoke]\nsay = \"echo\"\nagain = \"caller\"\n").await.unwrap();
    let out = rt.call("caller", r#"{"alias":"say","params":{"text":"via invoke"}}"#).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["inner"], "via invoke");
    assert_eq!(v["depth"], 0);
    // caller → caller → echo: the middle hop reports the depth it ran at.
    let params = r#"{"alias":"again","params":{"alias":"say","params":{"text":"two hops"}}}"#;
    let v: serde_json::Value = serde_json::from_str(&rt.call("caller", params).await.unwrap()).unwrap();
    assert_eq!(v["depth"], 0);
    assert_eq!(v["inner"]["depth"], 1, "{v}");
    assert_eq!(v["inner"]["inner"], "two hops");
}

#[tokio::test]
async fn an_alias_outside_the_grant_is_denied() {
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "echo", "echo", "").await.unwrap();
    add(&rt, "caller", "caller", "[invoke]\nsay = \"echo\"\n").await.unwrap();
    let err = rt.call("caller", r#"{"alias":"echo","params":{"text":"x"}}"#).await.unwrap_err();
    match err {
        CallError::Tool { error, .. } => {
            assert_eq!(error.kind, ErrorKind::Denied);
            assert!(error.message.contains("names no tool `echo`"), "{}", error.message);
        }
        other => panic!("expected a denial, got {other}"),
    }
}

#[tokio::test]
async fn a_chain_deeper_than_the_cap_is_refused() {
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "echo", "echo", "").await.unwrap();
    add(&rt, "caller", "caller", "[invoke]\nme = \"caller\"\nsay = \"echo\"\n").await.unwrap();
    // caller → caller → ... ten deep, ending in echo.
    let mut params = serde_json::json!({"alias": "say", "params": {"text": "bottom"}});
    for _ in 0..10 {
        params = serde_json::json!({"alias": "me", "params": params});
    }
    let err = rt.call("caller", &params.to_string()).await.unwrap_err();
    match err {
        CallError::Tool { error, .. } => {
            assert_eq!(error.kind, ErrorKind::Limit, "{}", error.message);
            assert!(error.message.contains("call depth of 4"), "{}", error.message);
        }
        other => panic!("expected a depth error, got {other}"),
    }
    // Within the cap the same chain works.
    let mut params = serde_json::json!({"alias": "say", "params": {"text": "bottom"}});
    for _ in 0..2 {
        params = serde_json::json!({"alias": "me", "params": params});
    }
    let out = rt.call("caller", &params.to_string()).await.unwrap();
    assert!(out.contains("bottom"), "{out}");
}

#[tokio::test]
async fn the_describe_call_at_add_time_runs_with_no_capability() {
    // The probe tries egress, the workspace and invoke while it describes
    // itself, and says what it was allowed; its grant allows all three.
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "echo", "echo", "").await.unwrap();
    let grant =
        "[[http]]\nurl = \"http://127.0.0.1:1/**\"\n[workspace]\nread = [\"notes/\"]\n[invoke]\necho = \"echo\"\n";
    let record = add(&rt, "probe", "describe_probe", grant).await.unwrap();
    assert!(record.description.contains("http=denied workspace=denied invoke=denied"), "{}", record.description);
    // The same calls from execute reach the capabilities the grant opens.
    let out = rt.call("probe", "{}").await.unwrap();
    assert_eq!(out, "\"http=allowed workspace=allowed invoke=allowed\"");
}

#[tokio::test]
async fn a_tool_called_by_another_runs_under_its_own_grant_not_its_callers() {
    let server = crate::common::TestServer::start(0);
    let h = TestHome::new();
    let rt = h.runtime();
    let to_server = format!("[[http]]\nurl = \"http://127.0.0.1:{}/**\"\n", server.port);
    let elsewhere = "[[http]]\nurl = \"http://127.0.0.1:1/**\"\n";
    // The caller may reach the server; the fetch it calls may not.
    add(&rt, "narrow", "http_fetch", elsewhere).await.unwrap();
    add(&rt, "wide-caller", "caller", &format!("{to_server}[invoke]\nfetch = \"narrow\"\n")).await.unwrap();
    let params = format!(r#"{{"alias":"fetch","params":{{"url":"http://127.0.0.1:{}/hello"}}}}"#, server.port);
    let err = rt.call("wide-caller", &params).await.unwrap_err();
    assert!(err.to_string().contains("no [[http]] rule"), "{err}");
    assert!(server.seen().is_empty(), "the caller's grant did not carry over");
    // And the other way: a caller with no network calls a fetch that has it.
    add(&rt, "wide", "http_fetch", &to_server).await.unwrap();
    add(&rt, "narrow-caller", "caller", "[invoke]\nfetch = \"wide\"\n").await.unwrap();
    let out = rt.call("narrow-caller", &params).await.unwrap();
    assert!(out.contains("hello from the test server"), "{out}");
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn invoking_a_tool_that_needs_a_person_is_no_way_around_the_approval() {
    let h = TestHome::new();
    let rt = h.runtime();
    add(&rt, "echo", "echo", "[approval]\ncalls = \"always\"\n").await.unwrap();
    add(&rt, "caller", "caller", "[invoke]\nsay = \"echo\"\n").await.unwrap();
    let params = r#"{"alias":"say","params":{"text":"around"}}"#;
    let err = rt.call("caller", params).await.unwrap_err();
    let id = match err {
        CallError::Tool { error, .. } => {
            assert_eq!(error.kind, ErrorKind::Denied, "{}", error.message);
            assert!(error.message.contains("needs a person's approval"), "{}", error.message);
            let store =
                claw::store::Store::connect(&claw::store::DatabaseUrl::resolve(&h.home).unwrap()).await.unwrap();
            let waiting = store.approvals().list(false).await.unwrap();
            assert_eq!(waiting.len(), 1);
            assert_eq!((waiting[0].tool.as_str(), waiting[0].arguments.as_str()), ("echo", r#"{"text":"around"}"#));
            waiting[0].id.clone()
        }
        other => panic!("expected a denial, got {other}"),
    };
    // Once a person approves it, the same invoke runs.
    let store = claw::store::Store::connect(&claw::store::DatabaseUrl::resolve(&h.home).unwrap()).await.unwrap();
    store.approvals().approve(&id, claw::store::approvals::Scope::Once).await.unwrap();
    let out = rt.call("caller", params).await.unwrap();
    assert!(out.contains("around"), "{out}");
}

//! Approvals end to end: a tool whose grant says every call needs a person
//! is not run; the LLM is told a request waits; `claw approvals` lists it
//! with the exact call, approves it once or denies it with a reason, and
//! the scripted LLM's next calls see each outcome.

use crate::agent::{add_provider, install_router};
use crate::common::{TestHome, guest, ok, stderr, stdout};
use crate::llm_server::{Format, LlmServer, Step};

const CALL: &str = r#"{"text": "hi there"}"#;

fn echo_call(id: &str) -> Step {
    Step::ToolCalls(vec![(id.into(), "echo".into(), CALL.into())])
}

pub(crate) fn waiting(h: &TestHome) -> Vec<serde_json::Value> {
    let out = h.claw(&["--json", "approvals", "list"]);
    ok(&out, "approvals list");
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

#[test]
fn a_call_that_needs_a_person_waits_runs_once_approved_and_a_denial_reaches_the_llm() {
    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            echo_call("c1"),
            Step::Text("it waits".into()),
            echo_call("c2"),
            Step::Text("it ran".into()),
            echo_call("c3"),
            Step::Text("it waits again".into()),
            echo_call("c4"),
            Step::Text("understood".into()),
        ],
    );
    let h = TestHome::new();
    install_router(&h);
    let grant = h.grant_file("echo.toml", "[approval]\ncalls = \"always\"\n");
    let wasm = guest("echo");
    ok(
        &h.claw(&["component", "add", wasm.to_str().unwrap(), "--name", "echo", "--grant", grant.to_str().unwrap()]),
        "add echo",
    );
    add_provider(&h, "main", "openai", &llm, &[]);
    let explained = h.claw(&["policy", "explain", "echo"]);
    assert!(stdout(&explained).contains("approval: every call waits for a person"), "{}", stdout(&explained));

    // 1. Nothing runs; the LLM is told a request waits, and the list says exactly what would run.
    ok(&h.claw(&["chat", "-m", "say hi"]), "chat 1");
    let told = llm.requests()[1].all_text();
    assert!(told.contains("needs a person's approval") && told.contains("It has not run"), "{told}");
    assert!(!told.contains("<untrusted source=\"tool echo\">"), "echo did not run: {told}");
    let list = waiting(&h);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!((list[0]["tool"].as_str(), list[0]["state"].as_str()), (Some("echo"), Some("pending")));
    assert_eq!(list[0]["arguments"], r#"{"text":"hi there"}"#);
    let id = list[0]["id"].as_str().unwrap().to_string();
    assert!(told.contains(&id), "the LLM can name the request: {told}");
    let human = h.claw(&["approvals", "list"]);
    assert!(stdout(&human).contains(&format!("{id}  call echo with {{\"text\":\"hi there\"}}")), "{}", stdout(&human));

    // 2. Approved once: the next identical call runs.
    ok(&h.claw(&["approvals", "approve", &id]), "approve");
    ok(&h.claw(&["chat", "-m", "say hi again"]), "chat 2");
    let ran = llm.requests()[3].all_text();
    assert!(ran.contains("<untrusted source=\"tool echo\">") && ran.contains("hi there"), "{ran}");
    assert!(waiting(&h).is_empty());

    // 3. Once is once: the call after asks again; denied, the LLM reads why.
    ok(&h.claw(&["chat", "-m", "and again"]), "chat 3");
    let second = waiting(&h);
    assert_eq!(second.len(), 1);
    let id2 = second[0]["id"].as_str().unwrap().to_string();
    assert_ne!(id2, id);
    ok(&h.claw(&["approvals", "deny", &id2, "--reason", "enough greetings today"]), "deny");
    ok(&h.claw(&["chat", "-m", "one more"]), "chat 4");
    let denied = llm.requests()[7].all_text();
    assert!(denied.contains("the operator denied this call") && denied.contains("enough greetings today"), "{denied}");
    let this_turn = &denied[denied.rfind("one more").unwrap()..];
    assert!(!this_turn.contains("<untrusted source=\"tool echo\">"), "echo did not run: {this_turn}");

    // The decisions are in the audit log; bad ids are clear errors that change nothing.
    let audit = h.claw(&["audit", "-n", "20"]);
    assert!(stdout(&audit).contains(&format!("claw approvals approve {id}")), "{}{}", stdout(&audit), stderr(&audit));
    let bad = h.claw(&["approvals", "approve", "NOPE"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("no approval request has the id `NOPE`"), "{}", stderr(&bad));
    let twice = h.claw(&["approvals", "deny", &id]);
    assert!(stderr(&twice).contains("already decided (used)"), "{}", stderr(&twice));
    assert!(waiting(&h).is_empty());
}

/// An `[[http]]` rule with `approval = "always"`: a request under it waits
/// for a person, asked by method, host and path, before anything is
/// injected or sent; "always for these arguments" is that host and path
/// from then on; the operator's own `claw tool call` is not asked.
#[tokio::test]
async fn a_rule_that_asks_holds_its_request_at_the_boundary_until_a_person_approves() {
    use claw::runtime::CallError;
    use claw::store::approvals::Scope;
    let server = crate::common::TestServer::start(0);
    let h = TestHome::new();
    let rt = h.runtime();
    let grant = format!(
        "[[http]]\nurl = \"http://127.0.0.1:{p}/hello\"\n\n[[http]]\nurl = \"http://127.0.0.1:{p}/**\"\nmethods = [\"POST\"]\napproval = \"always\"\n",
        p = server.port
    );
    crate::common::add(&rt, "raw", "raw_http", &grant).await.unwrap();
    let call = |method: &str| format!(r#"{{"method":"{method}","url":"http://127.0.0.1:{}/hello"}}"#, server.port);
    let posts = || server.seen().iter().filter(|l| l.starts_with("POST")).count();

    rt.call_as("raw", &call("GET"), None, 0, None).await.unwrap();
    let request = format!("POST http://127.0.0.1:{}/hello", server.port);
    match rt.call_as("raw", &call("POST"), None, 0, None).await.unwrap_err() {
        CallError::Unapproved { why, .. } => {
            assert!(why.contains("the grant's rule on line 5 asks a person before each request it allows"), "{why}");
            assert!(why.contains(&format!("It stopped there: {request} was not sent.")), "{why}");
        }
        other => panic!("expected the POST to wait, got {other}"),
    }
    assert_eq!(posts(), 0);
    let store = claw::store::Store::connect(&claw::store::DatabaseUrl::resolve(&h.home).unwrap()).await.unwrap();
    let waiting = store.approvals().list(false).await.unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!((waiting[0].tool.as_str(), waiting[0].arguments.as_str()), ("raw", request.as_str()));

    // Always for this host and path: every later request there goes out.
    store.approvals().approve(&waiting[0].id, Scope::Arguments).await.unwrap();
    for _ in 0..2 {
        rt.call_as("raw", &call("POST"), None, 0, None).await.unwrap();
    }
    assert_eq!(posts(), 2);
    // The operator calling the tool is a person present.
    let other = format!(r#"{{"method":"POST","url":"http://127.0.0.1:{}/other"}}"#, server.port);
    rt.call("raw", &other).await.unwrap();
    assert_eq!(posts(), 3);
    // Another path is another request, and asks again.
    assert!(matches!(rt.call_as("raw", &other, None, 0, None).await, Err(CallError::Unapproved { .. })));
    let explained = claw::grant::explain(&claw::grant::Grant::parse(&grant, "g").unwrap(), &[]);
    assert!(explained.iter().any(|l| l.contains("each request waits for a person")), "{explained:?}");
}

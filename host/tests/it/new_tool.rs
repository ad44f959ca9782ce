//! `claw new tool` → cargo build → `claw component add` → call, end to end.

use crate::agent::{add_provider, install};
use crate::common::{TestHome, build_guest, guest, ok, stderr, stdout};
use crate::llm_server::{Format, LlmServer, Step};
use std::path::Path;

#[test]
fn a_new_tool_builds_adds_and_runs_unchanged() {
    let h = TestHome::new();
    let project = h.dir.path().join("greet-me");
    let out = h.claw(&["new", "tool", "greet-me", "--path", project.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(project.join("src/lib.rs").is_file() && project.join("grant.toml").is_file());
    // No checkout needed: the SDK is the one inside the binary, written into the home.
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    let sdk_dir = h.home.data.join("sdk");
    assert!(manifest.contains(&sdk_dir.display().to_string()), "{manifest}");
    assert!(!manifest.contains(env!("CARGO_MANIFEST_DIR")), "{manifest}");
    assert!(stderr(&out).contains("the SDK inside claw"), "{}", stderr(&out));

    let wasm = build_guest(&project, "greet_me");

    let out = h.claw(&[
        "component",
        "add",
        wasm.to_str().unwrap(),
        "--grant",
        project.join("grant.toml").to_str().unwrap(),
        "--name",
        "greet-me",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = h.claw(&["tool", "call", "greet-me", r#"{"text":"héllo"}"#]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["length"], 5);
    assert_eq!(v["text"], "héllo");
    let out = h.claw(&["tool", "call", "greet-me", r#"{"text":""}"#]);
    assert!(stderr(&out).contains("text must not be empty"), "{}", stderr(&out));
}

#[test]
fn new_refuses_bad_names_and_existing_directories() {
    let h = TestHome::new();
    let out = h.claw(&["new", "tool", "../escape"]);
    assert!(stderr(&out).contains("not a valid tool name"), "{}", stderr(&out));
    let existing = h.dir.path().join("taken");
    std::fs::create_dir(&existing).unwrap();
    let out = h.claw(&["new", "tool", "taken", "--path", existing.to_str().unwrap()]);
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
}

#[test]
fn claw_sdk_path_overrides_the_embedded_sdk_and_a_wrong_one_is_named() {
    let h = TestHome::new();
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk").canonicalize().unwrap();
    let project = h.dir.path().join("from-checkout");
    let out = h
        .command(&["new", "tool", "from-checkout", "--path", project.to_str().unwrap()])
        .env("CLAW_SDK_PATH", &checkout)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(manifest.contains(&checkout.display().to_string()), "{manifest}");
    assert!(!h.home.data.join("sdk").exists(), "the embedded SDK was not written");

    let other = h.dir.path().join("other");
    let out = h
        .command(&["new", "tool", "other", "--path", other.to_str().unwrap()])
        .env("CLAW_SDK_PATH", h.dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success() && !other.exists());
    assert!(stderr(&out).contains("holds no SDK") && stderr(&out).contains("hint:"), "{}", stderr(&out));
}

#[test]
fn a_new_provider_adapter_builds_plugs_into_the_router_and_answers_with_tool_calls() {
    let h = TestHome::new();
    let project = h.dir.path().join("my-provider");
    let out = h.claw(&["new", "provider", "my-provider", "--path", project.to_str().unwrap()]);
    ok(&out, "new provider");
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(manifest.contains(&format!("{}/", h.home.data.join("sdk").display())), "{manifest}");
    let adapter = build_guest(&project, "my_provider");

    // The router, composed with the new adapter for the OpenAI wire format.
    let openai = format!("openai={}", adapter.display());
    let anthropic = format!("anthropic={}", guest("llm_anthropic").display());
    install(&h, "llm-router", &["--plug", &openai, "--plug", &anthropic]);
    install(&h, "echo", &[]);
    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::ToolCalls(vec![("c1".into(), "echo".into(), "{\"text\": \"ping\"}".into())]),
            Step::Text("The echo said ping.".into()),
        ],
    );
    add_provider(&h, "mine", "openai", &llm, &[]);
    let out = h.claw(&["chat", "-m", "echo ping please"]);
    ok(&out, "chat through the new adapter");
    assert!(stdout(&out).contains("The echo said ping."), "{}", stdout(&out));
    let requests = llm.requests();
    assert_eq!(requests.len(), 2, "a tool call and the answer after it");
    assert_eq!(requests[0].tool_names(), vec!["echo".to_string()]);
    // The template's own wire form (llm-openai would send `content: null`
    // beside tool calls, and ask to stream).
    let messages = requests[1].body["messages"].as_array().unwrap();
    let assistant = messages.iter().find(|m| m["role"] == "assistant").unwrap();
    assert_eq!(assistant["content"], "", "{assistant}");
    assert_eq!(assistant["tool_calls"][0]["function"]["name"], "echo");
    assert!(messages.iter().any(|m| m["role"] == "tool" && m["tool_call_id"] == "c1"), "{messages:?}");
    assert!(requests[1].body.get("stream").is_none());
}

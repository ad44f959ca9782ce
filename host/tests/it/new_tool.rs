//! `claw new tool` → cargo build → `claw component add` → call, end to end.

use crate::common::{TestHome, stderr, stdout};
use std::path::Path;
use std::process::Command;

#[test]
fn a_new_tool_builds_adds_and_runs_unchanged() {
    let h = TestHome::new();
    let project = h.dir.path().join("greet-me");
    let out = h.claw(&["new", "tool", "greet-me", "--path", project.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(project.join("src/lib.rs").is_file() && project.join("grant.toml").is_file());

    // Share the guest target dir so dependencies are not rebuilt.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guest");
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--target", "wasm32-wasip2", "--release"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", stderr(&build));
    let wasm = target.join("wasm32-wasip2/release/greet_me.wasm");

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

//! `claw component ...` and `claw tool call` end to end, and homes that
//! never mix.

use crate::common::{TestHome, guest, stderr, stdout};

#[test]
fn add_list_inspect_call_remove() {
    let h = TestHome::new();
    let out = h.claw(&["component", "add", guest("clock").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("added clock (sha256:"), "{}", stdout(&out));

    let out = h.claw(&["component", "list"]);
    assert!(stdout(&out).contains("clock"), "{}", stdout(&out));

    let out = h.claw(&["--json", "component", "list"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], "clock");
    assert_eq!(list[0]["world"], "tool");
    assert!(list[0]["digest"].as_str().unwrap().starts_with("sha256:"));

    let out = h.claw(&["component", "inspect", "clock"]);
    let text = stdout(&out);
    assert!(text.contains("world:       claw:runtime/tool@0.1.0"), "{text}");
    assert!(text.contains("utc_offset_minutes"), "the schema is shown: {text}");
    assert!(text.contains("network: none"), "the grant is explained: {text}");

    let out = h.claw(&["tool", "call", "clock", r#"{"utc_offset_minutes": 60}"#]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["rfc3339"].as_str().unwrap().ends_with("+01:00"), "{v}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((v["unix"].as_i64().unwrap() - now).abs() < 60, "{v}");

    let out = h.claw(&["component", "remove", "clock"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = h.claw(&["tool", "call", "clock", "{}"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no tool named `clock`"), "{}", stderr(&out));
    let out = h.claw(&["component", "remove", "clock"]);
    assert!(stderr(&out).contains("no component named `clock`"));
}

#[test]
fn upgrade_keeps_the_grant_unless_given_a_new_one() {
    let h = TestHome::new();
    let grant = h.grant_file("g.toml", "[limits]\ntimeout_ms = 1234\n");
    let out = h.claw(&[
        "component",
        "add",
        guest("versioned_1").to_str().unwrap(),
        "--name",
        "v",
        "--grant",
        grant.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = h.claw(&["component", "upgrade", "v", guest("versioned_2").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = h.claw(&["tool", "call", "v", "{}"]);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["version"], 2);
    let text = stdout(&h.claw(&["component", "inspect", "v"]));
    assert!(text.contains("1234 ms per call"), "{text}");
    let out = h.claw(&["component", "upgrade", "missing", guest("echo").to_str().unwrap()]);
    assert!(stderr(&out).contains("no component named `missing`"));
}

#[test]
fn two_homes_never_mix() {
    let a = TestHome::new();
    let b = TestHome::new();
    assert!(a.claw(&["component", "add", guest("echo").to_str().unwrap()]).status.success());
    let out = b.claw(&["tool", "call", "echo", r#"{"text":"x"}"#]);
    assert!(!out.status.success(), "home b does not see home a's tools");
    assert!(a.dir.path().join("data/components/index.json").is_file());
    assert!(!b.dir.path().join("data/components/index.json").exists());
}

#[test]
fn first_party_components_install_with_their_shipped_grants() {
    // What `scripts/dev run` does before `claw run`: each must be accepted as shipped.
    let h = TestHome::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (name, file) in [("echo", "echo"), ("clock", "clock"), ("http-fetch", "http_fetch")] {
        let grant = root.join(format!("components/{name}/grant.toml"));
        let out = h.claw(&[
            "component",
            "add",
            guest(file).to_str().unwrap(),
            "--grant",
            grant.to_str().unwrap(),
            "--name",
            name,
        ]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
    }
    let text = stdout(&h.claw(&["policy", "explain", "http-fetch"]));
    assert!(text.contains("GET https://en.wikipedia.org:443") && !text.contains("warning:"), "{text}");
}

#[test]
fn terminal_control_sequences_in_tool_output_never_reach_the_terminal() {
    // echo returns its text: an escape sequence in it would set the window
    // title, clear the screen, or fake a line (carriage return).
    let h = TestHome::new();
    assert!(h.claw(&["component", "add", guest("echo").to_str().unwrap()]).status.success());
    let dirty = r#"{"text": "\u001b]0;pwned\u0007\u001b[2Jok\rfake \u009b31m"}"#;
    let out = h.claw(&["tool", "call", "echo", dirty]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(!shown.contains('\u{1b}') && !shown.contains('\r') && !shown.contains('\u{9b}'), "{shown:?}");
    assert!(shown.contains("okfake 31m"), "{shown:?}");
    // JSON output escapes them.
    let out = h.claw(&["--json", "tool", "call", "echo", dirty]);
    assert!(!stdout(&out).contains('\u{1b}'), "{:?}", stdout(&out));
}

//! `claw component add --deny-ungranted`: a component that imports more
//! than the operator grants is composed with deny stubs, installs with the
//! narrower grant, and each stubbed call fails with `denied` inside the
//! component — the host never sees it.

use crate::common::{TestHome, guest, ok, stderr, stdout};

#[test]
fn a_component_wider_than_its_grant_installs_with_deny_stubs_and_each_stubbed_call_is_denied() {
    let h = TestHome::new();
    let wasm = guest("workspace");
    let narrow = h.grant_file("narrow.toml", "[limits]\ntimeout_ms = 5000\n");
    let add = |extra: &[&str]| {
        let mut args = vec!["component", "add", wasm.to_str().unwrap(), "--grant", narrow.to_str().unwrap()];
        args.extend_from_slice(extra);
        h.claw(&args)
    };
    // Without the flag: refused, deny by default, and the hint names the flag.
    let out = add(&["--name", "ws"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("has no [workspace] paths") && stderr(&out).contains("--deny-ungranted"),
        "{}",
        stderr(&out)
    );

    let out = add(&["--name", "ws", "--deny-ungranted"]);
    ok(&out, "add with deny stubs");
    assert!(
        stderr(&out).contains("deny stubs fill") && stderr(&out).contains("claw:runtime/workspace@0.1.0"),
        "{}",
        stderr(&out)
    );
    let inspect = stdout(&h.claw(&["component", "inspect", "ws"]));
    let stubbed = inspect.split("stubbed (not granted").nth(1).unwrap_or_else(|| panic!("{inspect}"));
    assert!(stubbed.contains("claw:runtime/workspace@0.1.0"), "{inspect}");
    let imports = inspect.split("imports:").nth(1).unwrap().split("stubbed").next().unwrap();
    assert!(!imports.contains("claw:runtime/workspace"), "no longer an import: {inspect}");
    let v: serde_json::Value =
        serde_json::from_slice(&h.claw(&["--json", "component", "inspect", "ws"]).stdout).unwrap();
    assert_eq!(v["stubbed"], serde_json::json!(["claw:runtime/workspace@0.1.0"]));

    // The document exists, but the stubbed component cannot read it.
    h.memory_write("notes/plan.md", "the plan is in the workspace");
    let out = h.claw(&["tool", "call", "ws", r#"{"action": "read", "path": "notes/plan.md"}"#]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("denied") && stderr(&out).contains("not granted"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("the plan") && !stderr(&out).contains("the plan"));

    // Granted what it imports, the same component needs no stub and reads.
    let full = h.grant_file("full.toml", "[workspace]\nread = [\"\"]\n");
    let out = h.claw(&[
        "component",
        "add",
        wasm.to_str().unwrap(),
        "--grant",
        full.to_str().unwrap(),
        "--name",
        "ws2",
        "--deny-ungranted",
    ]);
    ok(&out, "add with a covering grant");
    assert!(stderr(&out).contains("nothing to stub"), "{}", stderr(&out));
    let out = h.claw(&["tool", "call", "ws2", r#"{"action": "read", "path": "notes/plan.md"}"#]);
    ok(&out, "read");
    assert!(stdout(&out).contains("the plan is in the workspace"), "{}", stdout(&out));
}

#[test]
fn a_stubbed_http_import_sends_nothing() {
    let h = TestHome::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let wasm = guest("http_fetch");
    let out = h.claw(&["component", "add", wasm.to_str().unwrap(), "--name", "fetch", "--deny-ungranted"]);
    ok(&out, "add http-fetch with no grant at all");
    assert!(stderr(&out).contains("wasi:http/outgoing-handler@0.2.12"), "{}", stderr(&out));
    let out = h.claw(&["tool", "call", "fetch", &format!(r#"{{"url": "http://127.0.0.1:{port}/x"}}"#)]);
    assert!(!out.status.success());
    assert!(stderr(&out).to_lowercase().contains("denied"), "{}", stderr(&out));
    assert!(listener.accept().is_err(), "no connection was made");
    let audit = std::fs::read_to_string(h.home.data.join("audit.jsonl")).unwrap_or_default();
    assert!(!audit.contains(&port.to_string()), "the host's boundary never saw it: {audit}");
}

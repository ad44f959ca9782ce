//! A tool that tries its capabilities while it describes itself, and says
//! in its description what it was allowed: the host's `describe` call at
//! `claw component add` must give it no egress, no workspace and no invoke.
//! `execute` tries the same, for contrast.

use claw_sdk::bindings::claw::runtime::types::{CallContext, ToolError};
use claw_sdk::{ErrorKind, http, invoke, workspace};

struct Probe;

/// `denied` when the host refused, `allowed` otherwise (the request may
/// still fail for other reasons: the target port is closed on purpose).
fn probe() -> String {
    let verdict = |denied: bool| if denied { "denied" } else { "allowed" };
    let req = http::Request {
        method: "GET".into(),
        url: "http://127.0.0.1:1/".into(),
        headers: Vec::new(),
        body: Vec::new(),
        max_response_bytes: 1024,
        timeout_ms: Some(500),
    };
    let net = http::send(&req).map_err(claw_sdk::Error::from).err().is_some_and(|e| e.kind == ErrorKind::Denied);
    let ws = workspace::read("notes/probe.md").err().is_some_and(|e| e.kind == ErrorKind::Denied);
    let inv = invoke::call::<_, claw_sdk::serde_json::Value>("echo", &claw_sdk::serde_json::json!({"text": "x"}))
        .err()
        .is_some_and(|e| e.kind == ErrorKind::Denied);
    format!("http={} workspace={} invoke={}", verdict(net), verdict(ws), verdict(inv))
}

impl claw_sdk::bindings::Guest for Probe {
    fn description() -> String {
        format!("Conformance: describe probe ({})", probe())
    }

    fn parameters_schema() -> String {
        "{\"type\":\"object\"}".into()
    }

    fn execute(_params: String, _context: CallContext) -> Result<String, ToolError> {
        Ok(format!("\"{}\"", probe()))
    }
}

claw_sdk::bindings::export!(Probe with_types_in claw_sdk::bindings);

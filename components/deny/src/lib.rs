//! `deny`: the deny stubs. `claw component add --deny-ungranted` plugs
//! these exports into the imports a component's grant does not cover, so
//! the component runs with the narrower grant and each such call fails
//! with `denied` (a `tool-error` of kind `denied`, an `Err` string, or
//! HTTP's `HTTP-request-denied`), never reaching the host.

#[allow(missing_docs, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "claw:runtime/deny-stubs",
        generate_all,
    });
}

use bindings::claw::runtime::types::{ErrorKind, ToolError};
use bindings::exports::claw::runtime::{inbox, invoke, kv, memory, secrets, toolgen, workspace};
use bindings::exports::wasi::http::outgoing_handler;
use bindings::wasi::http::types::{ErrorCode, FutureIncomingResponse, OutgoingRequest, RequestOptions};

struct Deny;

/// The words every stubbed call fails with.
fn why(interface: &str) -> String {
    format!("denied: claw:runtime/{interface} is not granted to this component (stubbed at install)")
}

fn denied(interface: &str) -> ToolError {
    ToolError { kind: ErrorKind::Denied, message: why(interface) }
}

impl workspace::Guest for Deny {
    fn read(_: String) -> Result<String, ToolError> {
        Err(denied("workspace"))
    }
    fn write(_: String, _: String) -> Result<(), ToolError> {
        Err(denied("workspace"))
    }
    fn append(_: String, _: String) -> Result<(), ToolError> {
        Err(denied("workspace"))
    }
    fn list(_: String) -> Result<Vec<workspace::Entry>, ToolError> {
        Err(denied("workspace"))
    }
    fn delete(_: String) -> Result<(), ToolError> {
        Err(denied("workspace"))
    }
}

impl memory::Guest for Deny {
    fn search(_: String, _: u32) -> Result<Vec<memory::Hit>, ToolError> {
        Err(denied("memory"))
    }
}

impl secrets::Guest for Deny {
    /// No secret exists for a component that was granted none.
    fn exists(_: String) -> bool {
        false
    }
}

impl invoke::Guest for Deny {
    fn call(_: String, _: String) -> Result<String, ToolError> {
        Err(denied("invoke"))
    }
}

impl kv::Guest for Deny {
    fn get(_: String) -> Result<Option<String>, ToolError> {
        Err(denied("kv"))
    }
    fn set(_: String, _: String) -> Result<(), ToolError> {
        Err(denied("kv"))
    }
    fn delete(_: String) -> Result<bool, ToolError> {
        Err(denied("kv"))
    }
    fn keys(_: String) -> Result<Vec<String>, ToolError> {
        Err(denied("kv"))
    }
}

impl inbox::Guest for Deny {
    fn send(_: inbox::Message) -> Result<bool, String> {
        Err(why("inbox"))
    }
    fn wait(_: String, _: u32) -> Result<Option<inbox::Answer>, String> {
        Err(why("inbox"))
    }
    fn pair(_: String) -> Result<String, String> {
        Err(why("inbox"))
    }
}

impl toolgen::Guest for Deny {
    fn request(_: String, _: String) -> Result<String, ToolError> {
        Err(denied("toolgen"))
    }
}

impl outgoing_handler::Guest for Deny {
    fn handle(_: OutgoingRequest, _: Option<RequestOptions>) -> Result<FutureIncomingResponse, ErrorCode> {
        Err(ErrorCode::HttpRequestDenied)
    }
}

bindings::export!(Deny with_types_in bindings);

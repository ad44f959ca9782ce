//! Write claw tools in Rust.
//!
//! A tool is a parameters type that derives [`serde::Deserialize`] and
//! [`schemars::JsonSchema`] and implements [`Tool`]. The SDK does the rest:
//! it exports the `claw:runtime/tool` world, publishes the JSON Schema of the
//! parameters, parses and validates the parameters of each call, and maps
//! errors to the structured `tool-error` the host understands.
//!
//! [`http`], [`log`] and [`Error`] come from `claw-client`, which every
//! kind of component shares; this crate adds what only tools have.
//!
//! ```ignore
//! use claw_sdk::{Context, Error, Tool, export_tool};
//!
//! /// Echo a message back.
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Echo {
//!     /// The text to send back.
//!     text: String,
//! }
//!
//! impl Tool for Echo {
//!     const DESCRIPTION: &'static str = "Echo a message back.";
//!     type Output = String;
//!     fn execute(self, _ctx: &Context) -> Result<String, Error> {
//!         Ok(self.text)
//!     }
//! }
//!
//! export_tool!(Echo);
//! ```
//!
//! Build with `cargo build --target wasm32-wasip2 --release` and add the
//! result with `claw component add target/wasm32-wasip2/release/NAME.wasm`.

#![deny(missing_docs)]

#[doc(hidden)]
pub mod bindings {
    #![allow(missing_docs, clippy::too_many_arguments)]
    // The interfaces of the `client` world are claw-client's: one copy of
    // each, whichever crate calls them.
    wit_bindgen::generate!({
        path: "../wit",
        world: "claw:runtime/tool",
        pub_export_macro: true,
        default_bindings_module: "claw_sdk::bindings",
        with: {
            "claw:runtime/log@0.1.0": claw_client::bindings::claw::runtime::log,
            "wasi:http/types@0.2.12": claw_client::bindings::wasi::http::types,
            "wasi:http/outgoing-handler@0.2.12": claw_client::bindings::wasi::http::outgoing_handler,
            "wasi:io/error@0.2.12": claw_client::bindings::wasi::io::error,
            "wasi:io/poll@0.2.12": claw_client::bindings::wasi::io::poll,
            "wasi:io/streams@0.2.12": claw_client::bindings::wasi::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": claw_client::bindings::wasi::clocks::monotonic_clock,
        },
        generate_all,
    });
}

mod error;
pub mod invoke;
pub mod kv;
pub mod memory;
pub mod toolgen;
pub mod workspace;

pub use claw_client;
pub use claw_client::{Error, ErrorKind, http, log};
pub use schemars;
pub use serde;
pub use serde_json;

use std::marker::PhantomData;

/// A tool: its parameters type, what it does, and how it runs.
///
/// The JSON Schema the LLM sees is derived from the type with
/// [`schemars::JsonSchema`]; doc comments on fields become descriptions.
pub trait Tool: serde::de::DeserializeOwned + schemars::JsonSchema {
    /// One or two sentences for the LLM: what the tool does and when to use it.
    const DESCRIPTION: &'static str;
    /// What a successful call returns; serialised to JSON for the caller.
    type Output: serde::Serialize;
    /// Run the tool with parsed, validated parameters.
    ///
    /// # Errors
    ///
    /// Any [`Error`]: its kind tells the host and the LLM how to react.
    fn execute(self, ctx: &Context) -> Result<Self::Output, Error>;
}

/// Who is calling, and how deep in a chain of tool-to-tool calls.
#[derive(Debug, Clone)]
pub struct Context {
    /// A unique id for this call (appears in the host's logs).
    pub call_id: String,
    /// The name the operator gave this tool.
    pub tool: String,
    /// The tool that invoked this one, if any.
    pub caller: Option<String>,
    /// 0 for a direct call; one more per tool-to-tool hop.
    pub depth: u32,
}

/// Whether the vault holds a secret named `name` that this tool's grant
/// names. The value itself never reaches a tool: the host injects it into
/// outbound requests at the boundary.
pub fn secret_exists(name: &str) -> bool {
    bindings::claw::runtime::secrets::exists(name)
}

#[doc(hidden)]
pub struct Export<T>(PhantomData<T>);

impl<T: Tool> bindings::Guest for Export<T> {
    fn description() -> String {
        T::DESCRIPTION.to_string()
    }

    fn parameters_schema() -> String {
        let schema = schemars::schema_for!(T);
        serde_json::to_string(&schema).unwrap_or_else(|_| "{}".to_string())
    }

    fn execute(
        params_json: String,
        context: bindings::claw::runtime::types::CallContext,
    ) -> Result<String, bindings::claw::runtime::types::ToolError> {
        let params: T = serde_json::from_str(&params_json)
            .map_err(|e| Error::invalid_params(format!("parameters do not match the schema: {e}")))?;
        let ctx =
            Context { call_id: context.call_id, tool: context.tool, caller: context.caller, depth: context.depth };
        let output = params.execute(&ctx)?;
        serde_json::to_string(&output)
            .map_err(|e| Error::failed(format!("output is not serialisable as JSON: {e}")).into())
    }
}

/// Export a [`Tool`] implementation as the component's `tool` world.
///
/// Use it once per crate, with the parameters type.
#[macro_export]
macro_rules! export_tool {
    ($tool:ty) => {
        type __ClawToolExport = $crate::Export<$tool>;
        $crate::bindings::export!(__ClawToolExport with_types_in $crate::bindings);
    };
}

//! claw: the thin host.
//!
//! Everything beyond this crate (channels, the LLM router, every tool) is a
//! WASI 0.2 component whose imports are its capabilities. The parts:
//!
//! - [`engine`]: the wasmtime engine (pooling, epochs, the on-disk compile cache).
//! - [`components`]: installed components: digest store, world check, the live table.
//! - [`grant`]: what a component may do (plain data), parsed and checked.
//! - [`capabilities`]: one module per host interface a component may import.
//! - [`boundary`]: the one door out for every outbound request.
//! - [`runtime`]: one tool call: a fresh instance under limits.
//! - [`cli`]: the `claw` command.

pub mod boundary;
pub mod capabilities;
pub mod cli;
pub mod components;
pub mod config;
pub mod engine;
pub mod grant;
pub mod home;
pub mod inbound;
pub mod memory;
pub mod problem;
pub mod runtime;
pub mod store;
pub mod vault;

/// The host's generated bindings for the `claw:runtime` WIT package.
/// Kept private to the crate behind this module; capabilities implement
/// the generated `Host` traits.
pub mod wit {
    #![allow(missing_docs, missing_debug_implementations)]
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "claw:runtime/tool",
        imports: {
            "claw:runtime/invoke": async | trappable,
            "claw:runtime/workspace": async | trappable,
            "claw:runtime/memory": async | trappable,
            default: trappable,
        },
        exports: { default: async },
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
        require_store_data_send: true,
    });
}

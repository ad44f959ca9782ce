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
//! - [`runtime`]: one call of a component: a fresh instance under limits.
//! - [`llm`]: the configured providers and the router's request and reply.
//! - [`agent`]: sessions, context assembly and the tool-calling loop.
//! - [`cli`]: the `claw` command; [`terminal`]: text made safe to print.

pub mod agent;
pub mod boundary;
pub mod capabilities;
pub mod cli;
pub mod components;
pub mod config;
pub mod engine;
pub mod gateway;
pub mod grant;
pub mod home;
pub mod inbound;
pub mod jobs;
pub mod llm;
pub mod mcp;
pub mod memory;
pub mod problem;
pub mod runtime;
pub mod store;
pub mod terminal;
pub mod toolgen;
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
            "claw:runtime/kv": async | trappable,
            "claw:runtime/toolgen": async | trappable,
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

    // The other worlds reuse the tool world's log, types and WASI
    // bindings, so each capability has one `Host` implementation.

    /// The `llm` world: the router with its adapters plugged in.
    pub mod llm {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "claw:runtime/llm",
            imports: { default: trappable },
            exports: { default: async },
            with: {
                "claw:runtime/log": crate::wit::claw::runtime::log,
                "wasi:io": wasmtime_wasi::p2::bindings::io,
                "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
                "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            },
            require_store_data_send: true,
        });
    }

    /// The `channel` world: HTTP in (verified by the host), polls, its
    /// state and inbox.
    pub mod channel {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "claw:runtime/channel",
            imports: { "claw:runtime/inbox": async | trappable, default: trappable },
            exports: { default: async },
            with: {
                "claw:runtime/log": crate::wit::claw::runtime::log,
                "claw:runtime/types": crate::wit::claw::runtime::types,
                "claw:runtime/kv": crate::wit::claw::runtime::kv,
                "wasi:io": wasmtime_wasi::p2::bindings::io,
                "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
                "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            },
            require_store_data_send: true,
        });
    }
}

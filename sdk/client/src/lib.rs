//! What every claw guest may import: a log, and HTTP through the host's
//! egress boundary (the `claw:runtime/client` world).
//!
//! Tools get this through `claw-sdk`, which re-exports it. Components of
//! other worlds (LLM adapters, channels) depend on this crate alone: it
//! links no world with exports, so a component that uses it is expected to
//! export only what its own world says.
//!
//! A component that generates bindings of its own for a world that
//! includes `client` maps the shared interfaces to [`bindings`] with
//! wit-bindgen's `with` option, so that there is one copy of each —
//! [`generate_with_client!`] writes exactly this for a world:
//!
//! ```ignore
//! wit_bindgen::generate!({
//!     path: "../../wit",
//!     world: "claw:runtime/llm-adapter",
//!     with: {
//!         "claw:runtime/log@0.1.0": claw_client::bindings::claw::runtime::log,
//!         "wasi:http/types@0.2.12": claw_client::bindings::wasi::http::types,
//!         "wasi:http/outgoing-handler@0.2.12": claw_client::bindings::wasi::http::outgoing_handler,
//!         "wasi:io/error@0.2.12": claw_client::bindings::wasi::io::error,
//!         "wasi:io/poll@0.2.12": claw_client::bindings::wasi::io::poll,
//!         "wasi:io/streams@0.2.12": claw_client::bindings::wasi::io::streams,
//!         "wasi:clocks/monotonic-clock@0.2.12": claw_client::bindings::wasi::clocks::monotonic_clock,
//!     },
//!     generate_all,
//! });
//! ```

#![deny(missing_docs)]

/// The generated bindings of the `claw:runtime/client` world. Public so
/// that other bindings can reuse them through `with` (see the crate docs).
pub mod bindings {
    #![allow(missing_docs, clippy::too_many_arguments)]
    wit_bindgen::generate!({
        path: "../../wit",
        world: "claw:runtime/client",
        generate_all,
    });
}

/// Generate the bindings of `world` (at `path`, the caller's `wit/`
/// directory) with the shared interfaces mapped onto [`bindings`], as the
/// crate docs show by hand: `claw_client::generate_with_client!("../../wit",
/// "claw:runtime/channel");` inside a `mod bindings`.
#[macro_export]
macro_rules! generate_with_client {
    ($path:tt, $world:tt) => {
        wit_bindgen::generate!({
            path: $path,
            world: $world,
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
    };
}

mod error;
pub mod http;
pub mod log;
pub mod serve;

pub use error::{Error, ErrorKind};

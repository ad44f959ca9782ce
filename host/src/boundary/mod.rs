//! The boundary: the one door out. Every outbound request of every
//! component passes through [`Boundary::send`], in this order:
//!
//! 1. [`allow`]: the component's grant rules (scheme, host, port, path,
//!    method); deny by default;
//! 2. [`client`]: the only HTTP client in the host, which sends it.
//!
//! Redirects are never followed here: a 3xx goes back to the component,
//! and its next hop comes through this door again.
//! (Vault injection, leak scanning, the post-DNS address policy and the
//! audit log slot in between these two steps.)

mod allow;
mod client;

pub use allow::{Decision, Policy, decide};

use std::future::Future;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// What `wasi:http` expects back from a send.
pub type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

/// The egress boundary, shared by every component.
#[derive(Debug, Default)]
pub struct Boundary {
    _priv: (),
}

impl Boundary {
    /// A boundary with no vault attached.
    pub fn new() -> Boundary {
        Boundary { _priv: () }
    }

    /// Decide synchronously, then hand an allowed request to the client.
    /// A denied request never leaves: the guest sees `HttpRequestDenied`.
    pub fn send(
        &self,
        policy: &Policy,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> SendFuture {
        let decision = decide(policy, request.method().as_str(), request.uri());
        match decision {
            Decision::Allow { rule_line } => {
                tracing::debug!(target: "claw::boundary", component = %policy.component, method = %request.method(), uri = %request.uri(), rule_line, "allowed");
                Box::new(client::send(request, options))
            }
            Decision::Deny { reason } => {
                tracing::warn!(target: "claw::boundary", component = %policy.component, method = %request.method(), uri = %request.uri(), "denied: {reason}");
                Box::new(async { Err(Error::HttpRequestDenied) })
            }
        }
    }
}

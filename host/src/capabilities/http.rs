//! `wasi:http/outgoing-handler`: outbound HTTP, handed to the boundary
//! and nothing else.

use super::{CallInfo, CallState, HostServices};
use crate::boundary::{Boundary, Denials, Policy, SendFuture};
use crate::grant::Grant;
use std::sync::Arc;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks};

/// Link `wasi:http/types` and `wasi:http/outgoing-handler`.
///
/// # Errors
///
/// When wasmtime refuses a definition.
pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}

/// The component's egress policy, from its grant.
#[derive(Debug)]
pub struct Config {
    policy: Arc<Policy>,
}

impl Config {
    /// `quarantine`: whether tripping the leak scan holds the component.
    pub(super) fn from_grant(tool: &str, grant: &Grant, quarantine: bool) -> Config {
        let mut policy = Policy::from_grant(tool, grant);
        policy.quarantine = quarantine;
        Config { policy: Arc::new(policy) }
    }

    /// The policy the boundary applies to this component.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

/// One instance's HTTP state.
pub struct Instance {
    ctx: WasiHttpCtx,
    hooks: Hooks,
}

struct Hooks {
    boundary: Arc<Boundary>,
    policy: Arc<Policy>,
    /// Made at the first request: most calls send none.
    denials: Option<Arc<Denials>>,
    /// Set when untrusted content drove the call (the data-flow policy).
    sinks: Option<Arc<super::sinks::Sinks>>,
}

impl Instance {
    pub(super) fn prepare(config: &Config, call: &CallInfo, host: &HostServices) -> Instance {
        let mut ctx = WasiHttpCtx::new();
        ctx.set_field_size_limit(super::sandbox::FIELDS_BYTES);
        let hooks = Hooks {
            boundary: host.boundary.clone(),
            policy: config.policy.clone(),
            denials: None,
            sinks: call.sinks.clone(),
        };
        Instance { ctx, hooks }
    }

    /// Why the boundary refused this instance's requests, if it did.
    pub(super) fn denials(&self) -> Vec<String> {
        self.hooks.denials.as_ref().map(|d| d.reasons()).unwrap_or_default()
    }

    pub(super) fn view<'a>(&'a mut self, table: &'a mut ResourceTable) -> WasiHttpCtxView<'a> {
        WasiHttpCtxView { ctx: &mut self.ctx, table, hooks: &mut self.hooks }
    }
}

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> SendFuture {
        let sinks = &self.sinks;
        let denials = self.denials.get_or_insert_with(|| Arc::new(Denials::with_sinks(sinks.clone())));
        self.boundary.send(&self.policy, request, options, denials)
    }
}

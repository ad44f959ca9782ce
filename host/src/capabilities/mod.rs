//! One module per host interface a component may import.
//!
//! Each capability has three moments, as in Spin's factors:
//! - `link`: once per engine, add its functions to the shared linker;
//! - `Config::from_grant`: once per component version, read its grant;
//! - `Instance::prepare`: once per call, the state one instance sees.
//!
//! Adding a capability touches its own module, the grant schema and the
//! three lists below — nothing else.

pub mod http;
pub mod inbox;
pub mod invoke;
pub mod kv;
pub mod log;
pub mod memory;
pub mod reply_stream;
pub mod sandbox;
pub mod secrets;
pub mod sinks;
pub mod toolgen;
pub mod workspace;

use crate::boundary::Boundary;
use crate::grant::Grant;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker, ResourceTable};

/// What every call needs from the host, shared by all components.
#[derive(Clone)]
pub struct HostServices {
    /// The one door out.
    pub boundary: Arc<Boundary>,
    /// The store (workspace documents, memory).
    pub store: Arc<crate::store::LazyStore>,
    /// The memory index over the store.
    pub memory: Arc<crate::memory::index::LazyMemory>,
    /// Runs tool-to-tool calls.
    pub invoker: Arc<dyn invoke::Invoker>,
}

impl std::fmt::Debug for HostServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostServices").field("store", &self.store).finish()
    }
}

/// Who is being called, by whom, how deep.
#[derive(Debug, Clone)]
pub struct CallInfo {
    /// A unique id for the call.
    pub call_id: String,
    /// The tool's name.
    pub tool: String,
    /// The calling tool, if any.
    pub caller: Option<String>,
    /// Tool-to-tool depth (0 for a direct call).
    pub depth: u32,
    /// Set when the turn's untrusted content drove the call: its sinks
    /// wait for a person (the data-flow policy).
    pub sinks: Option<Arc<sinks::Sinks>>,
}

/// Every capability configured from one component's grant.
#[derive(Debug)]
pub struct Config {
    sandbox: sandbox::Config,
    http: Arc<http::Config>,
    workspace: Arc<workspace::Config>,
    memory: Arc<memory::Config>,
    secrets: Arc<secrets::Config>,
    invoke: Arc<invoke::Config>,
    kv: Arc<kv::Config>,
    inbox: Arc<inbox::Config>,
    toolgen: Arc<toolgen::Config>,
}

impl Config {
    /// The component's egress policy (its limits, and what waits on them).
    pub fn egress(&self) -> &crate::boundary::Policy {
        self.http.policy()
    }

    /// Configure every capability from `grant`, for a component of `world`.
    pub fn from_grant(tool: &str, world: crate::components::World, grant: &Grant) -> Config {
        // The router's requests carry the turn's context, which the agent
        // redacts first; a leak there fails the turn, not the router.
        let quarantine = world != crate::components::World::Llm;
        Config {
            sandbox: sandbox::Config::from_grant(grant),
            http: Arc::new(http::Config::from_grant(tool, grant, quarantine)),
            workspace: Arc::new(workspace::Config::from_grant(tool, grant)),
            memory: Arc::new(memory::Config::from_grant(grant)),
            secrets: Arc::new(secrets::Config::from_grant(grant)),
            invoke: Arc::new(invoke::Config::from_grant(grant)),
            kv: Arc::new(kv::Config::from_grant(tool, grant)),
            inbox: Arc::new(inbox::Config::from_grant(tool, grant)),
            toolgen: Arc::new(toolgen::Config::from_grant(tool, grant)),
        }
    }
}

/// The data of one instance's store: the sandbox plus every capability.
pub struct CallState {
    table: ResourceTable,
    /// The sandboxed WASI basics (and the limits tracker).
    pub sandbox: sandbox::Instance,
    log: log::Instance,
    http: http::Instance,
    workspace: workspace::Instance,
    memory: memory::Instance,
    secrets: secrets::Instance,
    invoke: invoke::Instance,
    reply_stream: reply_stream::Instance,
    kv: kv::Instance,
    inbox: inbox::Instance,
    toolgen: toolgen::Instance,
    sinks: Option<Arc<sinks::Sinks>>,
}

impl CallState {
    /// Prepare the state for one call.
    pub fn prepare(config: &Config, call: &CallInfo, host: &HostServices) -> CallState {
        // Host-side resources (header maps, streams, pollables) live in the
        // host's memory: the table's size times the largest header map is
        // held to the component's own memory limit.
        let mut table = ResourceTable::new();
        table.set_max_capacity(config.sandbox.max_resources());
        CallState {
            table,
            sandbox: sandbox::Instance::prepare(&config.sandbox),
            log: log::Instance::prepare(call),
            http: http::Instance::prepare(&config.http, call, host),
            workspace: workspace::Instance::prepare(&config.workspace, call, host),
            memory: memory::Instance::prepare(&config.memory, host),
            secrets: secrets::Instance::prepare(&config.secrets, host),
            invoke: invoke::Instance::prepare(&config.invoke, call, host),
            reply_stream: reply_stream::Instance::prepare(),
            kv: kv::Instance::prepare(&config.kv, host),
            inbox: inbox::Instance::prepare(&config.inbox, host),
            toolgen: toolgen::Instance::prepare(&config.toolgen, host),
            sinks: call.sinks.clone(),
        }
    }

    /// Pass the text this call streams to `sink` (the LLM's, for a turn
    /// someone waits on).
    pub fn stream_reply_to(&mut self, sink: reply_stream::Sink) {
        self.reply_stream.to(sink);
    }

    /// How many new messages this call handed to the agent.
    pub fn inbox_queued(&self) -> usize {
        self.inbox.queued()
    }

    /// What the first sink held for a person said (the data-flow policy).
    pub fn held_sink(&self) -> Option<String> {
        self.sinks.as_ref().and_then(|s| s.held())
    }

    /// Why the boundary refused this call's outbound requests, in order.
    pub fn boundary_denials(&self) -> Vec<String> {
        self.http.denials()
    }
}

/// Link every capability into the shared linker, once.
///
/// # Errors
///
/// When wasmtime refuses a definition (a bug, not a user error).
pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    sandbox::link(linker)?;
    crate::wit::claw::runtime::types::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)?;
    log::link(linker)?;
    http::link(linker)?;
    workspace::link(linker)?;
    memory::link(linker)?;
    secrets::link(linker)?;
    invoke::link(linker)?;
    reply_stream::link(linker)?;
    kv::link(linker)?;
    inbox::link(linker)?;
    toolgen::link(linker)?;
    Ok(())
}

impl crate::wit::claw::runtime::types::Host for CallState {}

impl wasmtime_wasi::WasiView for CallState {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        wasmtime_wasi::WasiCtxView { ctx: &mut self.sandbox.wasi, table: &mut self.table }
    }
}

impl wasmtime_wasi_http::WasiHttpView for CallState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        self.http.view(&mut self.table)
    }
}

//! The runtime: the engine, the shared linker, the component store and the
//! live table, and the operations on them — add, upgrade, remove, call.

mod approval;
mod call;
mod channel;
mod error;
mod llm;
mod slots;
mod trial;

pub use error::CallError;
pub use llm::{ADD_PROVIDER, LlmFailure};

use crate::boundary::{Boundary, Secrets};
use crate::capabilities::{self, CallInfo, CallState, Config, HostServices, invoke};
use crate::components::{
    ComponentStore, Digest, Index, LiveTable, LoadedComponent, Pre, Record, World, inspect, sniff,
};
use crate::engine::Engine;
use crate::grant::{Grant, check_imports};
use crate::home::Home;
use crate::problem::Problem;
use crate::vault::Vault;
use crate::wit::ToolPre;
use crate::wit::channel::ChannelPre;
use crate::wit::claw::runtime::types::{CallContext, ToolError};
use crate::wit::llm::LlmPre;
use anyhow::{Context as _, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use wasmtime::component::Linker;

/// How deep tool-to-tool calls may nest.
pub const MAX_CALL_DEPTH: u32 = 4;

/// A component ready to be recorded (validated, compiled, described).
#[derive(Debug)]
pub struct Prepared {
    /// The tool, ready to run.
    pub tool: Arc<LoadedComponent>,
    /// Its export names (what a registry's config lists).
    pub exports: Vec<String>,
    bytes: Vec<u8>,
}

impl Prepared {
    /// Record that deny stubs fill `imports` (composed in before it was
    /// prepared). It is called on what [`Runtime::prepare`] just returned,
    /// whose component no one else holds yet.
    #[must_use]
    pub fn with_stubbed(mut self, imports: Vec<String>) -> Prepared {
        if let Some(tool) = Arc::get_mut(&mut self.tool) {
            tool.record.stubbed = imports;
        }
        self
    }
}

/// What a [`Runtime::sync`] changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Newly loaded names.
    pub added: Vec<String>,
    /// Names whose digest or grant changed.
    pub upgraded: Vec<String>,
    /// Names no longer installed.
    pub removed: Vec<String>,
    /// Names that failed to load, with why.
    pub failed: Vec<(String, String)>,
}

/// The host's runtime.
pub struct Runtime {
    engine: Engine,
    tool_slots: slots::ToolSlots,
    linker: Linker<CallState>,
    store: ComponentStore,
    live: LiveTable,
    services: HostServices,
    stamp: Mutex<(Option<u64>, Option<u64>)>,
    vault_stamp: Mutex<Option<u64>>,
    home: Home,
    calls: AtomicU64,
    feeds: Arc<crate::agent::events::Feeds>,
    mcp: Arc<crate::mcp::Mcp>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("engine", &self.engine).field("tools", &self.live.names()).finish()
    }
}

/// Lets the `invoke` capability call back into the runtime without a cycle.
struct WeakInvoker(Weak<Runtime>);

impl invoke::Invoker for WeakInvoker {
    fn invoke(
        &self,
        tool: String,
        params_json: String,
        caller: String,
        depth: u32,
        tainted_by: Option<String>,
    ) -> invoke::InvokeFuture {
        let runtime = self.0.upgrade();
        Box::pin(async move {
            let Some(runtime) = runtime else {
                return Err(ToolError {
                    kind: crate::wit::claw::runtime::types::ErrorKind::Unavailable,
                    message: "the host is shutting down".into(),
                });
            };
            runtime
                .call_as(&tool, &params_json, Some(caller), depth, tainted_by.as_deref())
                .await
                .map_err(|e| e.to_tool_error())
        })
    }
}

impl Runtime {
    /// Open the runtime for a home: engine, linker and store (tools load lazily).
    ///
    /// # Errors
    ///
    /// When the engine cannot start.
    pub fn open(home: &Home) -> Result<Arc<Runtime>> {
        let engine = Engine::new(&home.compile_cache())?;
        let mut linker = Linker::new(engine.wasmtime());
        capabilities::link(&mut linker).map_err(anyhow::Error::from).context("linking host capabilities")?;
        let store = ComponentStore::new(&home.components());
        // The vault is loaded by `with_vault` below (and reloaded on change).
        let network = crate::config::Config::load(home)
            .and_then(|c| crate::boundary::Network::from_config(&c.network, &home.config))?;
        let boundary = Arc::new(
            Boundary::new(Some(crate::boundary::audit::AuditLog::new(&home.data.join("audit.jsonl"))))
                .with_quarantine(&home.data.join("quarantine.json"))
                .with_network(network),
        );
        let store_handle = Arc::new(crate::store::LazyStore::new(home));
        // Stdio MCP servers are started through this binary's jail.
        let exe = std::env::current_exe().unwrap_or_else(|_| "claw".into());
        let mcp = Arc::new(crate::mcp::Mcp::new(home, boundary.clone(), exe));
        Ok(Arc::new_cyclic(|weak| Runtime {
            engine,
            tool_slots: slots::ToolSlots::new(crate::engine::POOL_INSTANCES as usize),
            linker,
            store,
            live: LiveTable::default(),
            services: HostServices {
                memory: Arc::new(crate::memory::index::LazyMemory::new(home, store_handle.clone(), boundary.clone())),
                boundary,
                store: store_handle,
                invoker: Arc::new(WeakInvoker(weak.clone())),
            },
            stamp: Mutex::new((None, None)),
            vault_stamp: Mutex::new(None),
            home: home.clone(),
            calls: AtomicU64::new(0),
            feeds: Arc::default(),
            mcp,
        })
        .with_vault())
    }

    /// Load the vault into the boundary (done at open and when it changes).
    fn with_vault(self: Arc<Self>) -> Arc<Self> {
        self.reload_vault();
        self
    }

    /// Re-read the vault if its file changed. A vault that exists but
    /// cannot be opened locks the boundary: every outbound request is
    /// refused until it can (fail closed).
    pub fn reload_vault(&self) {
        let path = Vault::path_in(&self.home.data);
        let stamp = crate::home::content_stamp(&path);
        // Held until the new snapshot is in place (as in `sync`).
        let mut last = self.vault_stamp.lock().unwrap_or_else(|p| p.into_inner());
        if *last == stamp && stamp.is_some() {
            return;
        }
        *last = stamp;
        self.services.boundary.set_secrets(Secrets::load(&self.home));
    }

    /// What every call gets from the host (boundary, store, invoker).
    pub fn services(&self) -> &HostServices {
        &self.services
    }

    /// The MCP servers and their tools.
    pub fn mcp(&self) -> &Arc<crate::mcp::Mcp> {
        &self.mcp
    }

    /// What people waiting on this process's turns see happen.
    pub fn feeds(&self) -> &Arc<crate::agent::events::Feeds> {
        &self.feeds
    }

    /// The home it runs in.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// The boundary.
    pub fn boundary(&self) -> &Arc<Boundary> {
        &self.services.boundary
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The component store.
    pub fn store(&self) -> &ComponentStore {
        &self.store
    }

    /// The live table.
    pub fn live(&self) -> &LiveTable {
        &self.live
    }

    /// Validate a component for `name` with its grant: check the bytes,
    /// compile (or load from cache), check the world and every import
    /// against the grant, link, and ask the tool to describe itself.
    /// Nothing is written except the compile cache.
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming what is wrong and the fix.
    pub async fn prepare(
        &self,
        name: &str,
        file: &str,
        bytes: Vec<u8>,
        grant_text: String,
        grant_source: String,
        on_compile: impl FnOnce(),
    ) -> Result<Prepared> {
        if !crate::grant::valid_name(name) {
            return Err(Problem::new(format!("`{name}` is not a valid component name"))
                .hint("names use letters, digits, `-` and `_` (pass --name NAME)")
                .into());
        }
        sniff(&bytes, file)?;
        let grant = self.effective_grant(&grant_text, &grant_source)?;
        let digest = Digest::of(&bytes);
        let component = self.engine.load(&bytes, &digest, on_compile).map_err(|e| {
            Problem::new(format!("{file} is not a valid component: {e:#}"))
                .hint("rebuild it with `cargo build --target wasm32-wasip2 --release`")
        })?;
        let shape = inspect(self.engine.wasmtime(), &component, file)?;
        check_world_grant(shape.world, &grant, &grant_source)?;
        check_imports(&shape.imports, &grant, &grant_source)?;
        let pre = self.instance_pre(&component, shape.world)?;
        let exports = shape.exports;
        let mut record = Record {
            name: name.to_string(),
            digest,
            world: shape.world,
            size: bytes.len() as u64,
            description: String::new(),
            schema: String::new(),
            imports: shape.imports,
            grant: grant_text,
            grant_source,
            updated_ms: crate::components::store_now_ms(),
            stubbed: Vec::new(),
        };
        let config = Arc::new(Config::from_grant(name, shape.world, &grant));
        let mut tool = LoadedComponent { record: record.clone(), grant, pre, config };
        let (description, schema) = match shape.world {
            World::Tool => self.describe(&tool).await?,
            World::Llm => {
                ("the LLM router: sends the agent's requests to the configured providers".into(), "{}".into())
            }
            World::Channel => ("a channel: carries messages between people and the agent".into(), "{}".into()),
        };
        record.description = description;
        record.schema = schema;
        tool.record = record;
        Ok(Prepared { tool: Arc::new(tool), exports, bytes })
    }

    /// Parse a grant; the LLM router's also gets the configured providers.
    /// (Only an `llm`-world component may say `[providers] use = true`:
    /// see [`check_world_grant`].)
    ///
    /// # Errors
    ///
    /// When the grant does not parse, or the providers file is broken.
    pub fn effective_grant(&self, text: &str, source: &str) -> Result<Grant> {
        let mut grant = Grant::parse(text, source).map_err(|e| {
            let hint = e.hint.clone().unwrap_or_default();
            Problem::new(format!("the grant does not parse: {e}")).hint(hint)
        })?;
        if grant.providers {
            crate::llm::Providers::load(&self.home)?.extend_grant(&mut grant);
        }
        Ok(grant)
    }

    fn instance_pre(&self, component: &wasmtime::component::Component, world: World) -> Result<Pre> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| Problem::new(format!("cannot link the component: {e:#}")))?;
        let mismatch = |e: wasmtime::Error| {
            Problem::new(format!("the component's exports do not match the {} world: {e:#}", world.wit_name()))
                .hint("rebuild it against the current WIT (claw-sdk for tools)")
        };
        Ok(match world {
            World::Tool => Pre::Tool(ToolPre::new(pre).map_err(mismatch)?),
            World::Llm => Pre::Llm(LlmPre::new(pre).map_err(mismatch)?),
            World::Channel => Pre::Channel(ChannelPre::new(pre).map_err(mismatch)?),
        })
    }

    /// Ask a tool for its description and parameters schema.
    async fn describe(&self, tool: &LoadedComponent) -> Result<(String, String)> {
        let name = tool.record.name.clone();
        let info = CallInfo { call_id: self.next_call_id(), tool: name.clone(), caller: None, depth: 0, sinks: None };
        // Describing itself needs nothing: the call runs under the grant's
        // limits and no capability (no egress, workspace, memory, invoke).
        let sandbox_only = Grant { limits: tool.grant.limits, ..Grant::default() };
        let config = Config::from_grant(&name, World::Tool, &sandbox_only);
        let mut store = call::new_store_with(self.engine.wasmtime(), tool.grant.limits, &config, &info, &self.services);
        let Pre::Tool(pre) = &tool.pre else { unreachable!("describe is called for tools only") };
        let run = async {
            let instance = pre.instantiate_async(&mut store).await?;
            let description = instance.call_description(&mut store).await?;
            let schema = instance.call_parameters_schema(&mut store).await?;
            wasmtime::Result::Ok((description, schema))
        };
        let limits = tool.grant.limits;
        let (description, schema) = match tokio::time::timeout(Duration::from_millis(limits.timeout_ms + 250), run)
            .await
        {
            Err(_) => {
                return Err(
                    Problem::new(format!("`{name}` did not describe itself within {} ms", limits.timeout_ms)).into()
                );
            }
            Ok(Err(trap)) => {
                let e = call::classify(trap, &store, name.clone(), limits.timeout_ms, limits.memory_bytes);
                return Err(Problem::new(format!("asking the tool to describe itself failed: {e}")).into());
            }
            Ok(Ok(v)) => v,
        };
        let parsed: serde_json::Value = serde_json::from_str(&schema)
            .map_err(|e| Problem::new(format!("`{name}` reports a parameters schema that is not JSON: {e}")))?;
        if !parsed.is_object() {
            return Err(Problem::new(format!("`{name}` reports a parameters schema that is not a JSON object")).into());
        }
        if description.trim().is_empty() {
            return Err(Problem::new(format!("`{name}` has an empty description"))
                .hint("set Tool::DESCRIPTION: the LLM reads it to decide when to call the tool")
                .into());
        }
        Ok((description, schema))
    }

    /// Record a prepared component under its name. With `upgrade`, the
    /// name must exist; without, it must not.
    ///
    /// # Errors
    ///
    /// When the name is taken (or missing for an upgrade), or on I/O failure.
    pub fn commit(&self, prepared: Prepared, upgrade: bool) -> Result<Record> {
        let record = prepared.tool.record.clone();
        self.store.put_blob(&record.digest, &prepared.bytes)?;
        self.store.update(|index| {
            let exists = index.components.contains_key(&record.name);
            if upgrade && !exists {
                return Err(Problem::new(format!("no component named `{}` is installed", record.name))
                    .hint("use `claw component add` for a new component")
                    .into());
            }
            if !upgrade && exists {
                return Err(Problem::new(format!("a component named `{}` is already installed", record.name))
                    .hint(format!(
                        "use `claw component upgrade {} FILE` to replace it, or pick another --name",
                        record.name
                    ))
                    .into());
            }
            index.components.insert(record.name.clone(), record.clone());
            Ok(())
        })?;
        self.live.insert(prepared.tool);
        Ok(record)
    }

    /// Remove an installed component.
    ///
    /// # Errors
    ///
    /// When it is not installed.
    pub fn remove(&self, name: &str) -> Result<Record> {
        let record = self.store.update(|index| {
            index.components.remove(name).ok_or_else(|| {
                Problem::new(format!("no component named `{name}` is installed"))
                    .hint("`claw component list` shows what is installed")
                    .into()
            })
        })?;
        let mut next = HashMap::clone(&self.live.snapshot());
        next.remove(name);
        self.live.replace(next);
        Ok(record)
    }

    /// Load a recorded component from the compile cache (or its blob).
    ///
    /// # Errors
    ///
    /// When its blob is missing or damaged, or its grant no longer covers it.
    pub fn load(&self, record: &Record) -> Result<Arc<LoadedComponent>> {
        let component = match self.engine.load_cached(&record.digest) {
            Ok(c) => c,
            Err(_) => {
                let bytes = self.store.blob(&record.digest)?;
                self.engine.load(&bytes, &record.digest, || {})?
            }
        };
        let grant = self.effective_grant(&record.grant, &record.grant_source)?;
        check_world_grant(record.world, &grant, &record.grant_source)?;
        check_imports(&record.imports, &grant, &record.grant_source)?;
        let pre = self.instance_pre(&component, record.world)?;
        let config = Arc::new(Config::from_grant(&record.name, record.world, &grant));
        Ok(Arc::new(LoadedComponent { record: record.clone(), grant, pre, config }))
    }

    /// Bring the live table in line with the store, if the store changed
    /// since the last sync. Unchanged tools keep their loaded instance.
    ///
    /// # Errors
    ///
    /// When the index cannot be read.
    pub fn sync(&self) -> Result<SyncReport> {
        self.reload_vault();
        self.services.boundary.quarantine().refresh();
        let providers_path = crate::llm::Providers::path(&self.home);
        let stamp = (self.store.stamp(), crate::home::content_stamp(&providers_path));
        // Held to the end: a second sync meanwhile (the watcher, a line)
        // waits for this one's table instead of seeing the new stamp
        // with the old table still live.
        let mut last = self.stamp.lock().unwrap_or_else(|p| p.into_inner());
        if *last == stamp && stamp.0.is_some() {
            return Ok(SyncReport::default());
        }
        let providers_changed = last.1 != stamp.1;
        *last = stamp;
        let index: Index = self.store.index()?;
        let current = self.live.snapshot();
        let mut next = HashMap::new();
        let mut report = SyncReport::default();
        for (name, record) in &index.components {
            match current.get(name) {
                // A changed provider list changes the router's grant.
                Some(t) if t.record == *record && !(providers_changed && t.grant.providers) => {
                    next.insert(name.clone(), t.clone());
                }
                old => match self.load(record) {
                    Ok(t) => {
                        if old.is_some() {
                            report.upgraded.push(name.clone())
                        } else {
                            report.added.push(name.clone())
                        }
                        next.insert(name.clone(), t);
                    }
                    Err(e) => report.failed.push((name.clone(), format!("{e:#}"))),
                },
            }
        }
        report.removed = current.keys().filter(|n| !index.components.contains_key(*n)).cloned().collect();
        report.removed.sort();
        self.live.replace(next);
        Ok(report)
    }

    fn next_call_id(&self) -> String {
        format!("{:x}-{}", std::process::id(), self.calls.fetch_add(1, Ordering::Relaxed))
    }

    /// The tool named `name`, loading it from the store if needed.
    ///
    /// # Errors
    ///
    /// `NotFound`, or a host error when it cannot be loaded.
    pub fn tool(&self, name: &str) -> Result<Arc<LoadedComponent>, CallError> {
        if let Some(t) = self.live.get(name) {
            if t.record.world != World::Tool {
                return Err(CallError::NotATool { name: name.to_string(), world: t.record.world });
            }
            return Ok(t);
        }
        let index = self.store.index().map_err(CallError::Host)?;
        let record = index.components.get(name).ok_or_else(|| CallError::NotFound { tool: name.to_string() })?;
        if record.world != World::Tool {
            return Err(CallError::NotATool { name: name.to_string(), world: record.world });
        }
        let tool = self.load(record).map_err(CallError::Host)?;
        self.live.insert(tool.clone());
        Ok(tool)
    }

    /// Call a tool directly (as the operator or the agent).
    ///
    /// # Errors
    ///
    /// A [`CallError`] saying what failed.
    pub async fn call(&self, name: &str, params_json: &str) -> Result<String, CallError> {
        self.call_with(name, params_json, None, 0, None, true).await
    }

    /// Call a tool as `caller` at `depth`; `tainted_by` names the
    /// untrusted content of the turn it serves (its sinks then wait for a
    /// person, unless the grant declares them safe).
    ///
    /// # Errors
    ///
    /// As [`Runtime::call`], and `TooDeep` past [`MAX_CALL_DEPTH`].
    pub async fn call_as(
        &self,
        name: &str,
        params_json: &str,
        caller: Option<String>,
        depth: u32,
        tainted_by: Option<&str>,
    ) -> Result<String, CallError> {
        self.call_with(name, params_json, caller, depth, tainted_by, false).await
    }

    /// [`Runtime::call_as`]; with `present` (the operator's own call), no
    /// approval inside the call asks them again.
    async fn call_with(
        &self,
        name: &str,
        params_json: &str,
        caller: Option<String>,
        depth: u32,
        tainted_by: Option<&str>,
        present: bool,
    ) -> Result<String, CallError> {
        if depth > MAX_CALL_DEPTH {
            return Err(CallError::TooDeep { tool: name.to_string(), max: MAX_CALL_DEPTH });
        }
        let tool = self.tool(name)?;
        if let Some(hold) = self.services.boundary.quarantine().get(name) {
            return Err(CallError::Quarantined { tool: name.to_string(), reason: hold.reason });
        }
        if depth > 0 {
            // A tool's `invoke` is no way around a person's approval.
            self.approved(name, params_json, tainted_by).await?;
        }
        let Some(_slot) = self.tool_slots.take(depth).await else {
            return Err(CallError::Host(anyhow::anyhow!(
                "no instance is free for `{name}`: the pool's tool slots are all in use (the rest is kept for the LLM router and the channels)"
            )));
        };
        // Checked without building the value: the guest parses it again.
        match serde_json::from_str::<serde::de::IgnoredAny>(params_json) {
            Ok(_) if params_json.trim_start().starts_with('{') => {}
            Ok(_) => {
                return Err(CallError::BadParams {
                    tool: name.to_string(),
                    message: "they must be a JSON object, e.g. {\"text\": \"hi\"}".into(),
                });
            }
            Err(e) => {
                return Err(CallError::BadParams { tool: name.to_string(), message: format!("not valid JSON: {e}") });
            }
        }
        let sinks = match present {
            true => None,
            false => {
                capabilities::sinks::Sinks::new(name, &tool.grant, params_json, tainted_by, self.services.store.clone())
                    .map(Arc::new)
            }
        };
        let info = CallInfo { call_id: self.next_call_id(), tool: name.to_string(), caller, depth, sinks };
        call::execute(self.engine.wasmtime(), &tool, info, params_json, &self.services).await
    }

    /// The loaded tools, by name (what the agent offers the LLM).
    pub fn tools(&self) -> Vec<Arc<LoadedComponent>> {
        let mut v: Vec<_> = self.live.snapshot().values().filter(|c| c.record.world == World::Tool).cloned().collect();
        v.sort_by(|a, b| a.record.name.cmp(&b.record.name));
        v
    }

    /// The loaded component `name`, of any world.
    pub fn named(&self, name: &str) -> Option<Arc<LoadedComponent>> {
        self.live.snapshot().get(name).cloned()
    }

    /// The first loaded component of `world`, by name order.
    pub fn first_of(&self, world: World) -> Option<Arc<LoadedComponent>> {
        let snapshot = self.live.snapshot();
        let mut v: Vec<_> = snapshot.values().filter(|c| c.record.world == world).collect();
        v.sort_by(|a, b| a.record.name.cmp(&b.record.name));
        v.first().map(|c| (*c).clone())
    }

    /// The terminal's channel: the one whose grant gives it the terminal
    /// (`[terminal] output = true`), else the first channel with no inbox
    /// of its own — never a webhook channel, whatever its name.
    pub fn terminal_channel(&self) -> Option<Arc<LoadedComponent>> {
        let snapshot = self.live.snapshot();
        let mut v: Vec<_> = snapshot.values().filter(|c| c.record.world == World::Channel).collect();
        v.sort_by_key(|c| (!c.grant.terminal_output, c.grant.inbox.is_some(), c.record.name.clone()));
        v.first().filter(|c| c.grant.terminal_output || c.grant.inbox.is_none()).map(|c| (*c).clone())
    }

    /// A call context for benchmarks and tests that drive instances directly.
    pub fn context(&self, tool: &str) -> CallContext {
        CallContext { call_id: self.next_call_id(), tool: tool.to_string(), caller: None, depth: 0 }
    }
}

/// Sections of a grant that only one world may use: `[providers]` hands
/// the component every provider's origin and key, which is the router's
/// job alone.
///
/// # Errors
///
/// A [`Problem`] naming the section and the world.
fn check_world_grant(world: World, grant: &Grant, source: &str) -> Result<(), Problem> {
    if grant.providers && world != World::Llm {
        return Err(Problem::new(format!(
            "{source}: [providers] use = true is for the LLM router only; this component is a {}",
            world.wit_name()
        ))
        .hint("remove [providers] from the grant; name the hosts it needs in [[http]] rules"));
    }
    Ok(())
}

//! One tool call: a fresh instance from the `InstancePre`, the grant's
//! limits on memory, time and output, and a precise error when any is hit.

use super::error::CallError;
use crate::capabilities::{CallInfo, CallState, HostServices};
use crate::components::{LoadedComponent, Pre};
use crate::wit::claw::runtime::types::CallContext;
use std::time::{Duration, Instant};
use wasmtime::{Store, UpdateDeadline};

/// Marks a trap raised by our epoch deadline.
#[derive(Debug)]
struct DeadlineHit;

impl std::fmt::Display for DeadlineHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline reached")
    }
}

impl std::error::Error for DeadlineHit {}

/// A store for one call of `tool`, with its limits installed.
pub(super) fn new_store(
    engine: &wasmtime::Engine,
    tool: &LoadedComponent,
    info: &CallInfo,
    services: &HostServices,
) -> Store<CallState> {
    new_store_with(engine, tool.grant.limits, &tool.config, info, services)
}

/// A store under `limits`, its capabilities configured by `config`.
pub(super) fn new_store_with(
    engine: &wasmtime::Engine,
    limits: crate::grant::Limits,
    config: &crate::capabilities::Config,
    info: &CallInfo,
    services: &HostServices,
) -> Store<CallState> {
    let state = CallState::prepare(config, info, services);
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.sandbox.limiter);
    let deadline = Instant::now() + Duration::from_millis(limits.timeout_ms);
    // Every epoch tick, yield to the executor (so a busy guest cannot hog
    // a worker) and trap once the wall-clock deadline has passed.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline { Err(wasmtime::Error::new(DeadlineHit)) } else { Ok(UpdateDeadline::Yield(1)) }
    });
    store
}

/// Run `execute` on a fresh instance of `tool`.
pub(super) async fn execute(
    engine: &wasmtime::Engine,
    tool: &LoadedComponent,
    info: CallInfo,
    params: &str,
    services: &HostServices,
) -> Result<String, CallError> {
    execute_with(engine, tool, &tool.config, info, params, services).await
}

/// [`execute`], its capabilities configured by `config` rather than the
/// tool's own grant (a trial run with none).
pub(super) async fn execute_with(
    engine: &wasmtime::Engine,
    tool: &LoadedComponent,
    config: &crate::capabilities::Config,
    info: CallInfo,
    params: &str,
    services: &HostServices,
) -> Result<String, CallError> {
    let limits = tool.grant.limits;
    let name = info.tool.clone();
    let Pre::Tool(pre) = &tool.pre else {
        return Err(CallError::NotATool { name, world: tool.record.world });
    };
    let mut store = new_store_with(engine, limits, config, &info, services);
    let context = CallContext { call_id: info.call_id, tool: info.tool, caller: info.caller, depth: info.depth };
    // The epoch deadline stops guest code; this also bounds time the guest
    // spends waiting on the host (an HTTP response, a nested call).
    let outer = outer_timeout(limits.timeout_ms);
    let run = async {
        let instance = pre.instantiate_async(&mut store).await?;
        instance.call_execute(&mut store, params, &context).await
    };
    let result = match tokio::time::timeout(outer, run).await {
        Err(_) => {
            return Err(CallError::Timeout { tool: name, ms: limits.timeout_ms });
        }
        Ok(r) => r,
    };
    // A sink held for a person is the call's result, whatever the tool
    // made of its refusal: the LLM is told what waits, and why.
    if let Some(why) = store.data().held_sink() {
        return Err(CallError::Unapproved { tool: name, why });
    }
    match result {
        Ok(Ok(output)) => {
            if output.len() > limits.output_bytes {
                return Err(CallError::OutputTooLarge { tool: name, bytes: output.len(), limit: limits.output_bytes });
            }
            if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&output) {
                return Err(CallError::OutputNotJson { tool: name, message: e.to_string() });
            }
            Ok(output)
        }
        Ok(Err(mut error)) => {
            // The tool saw only "denied"; the person is told why.
            let refused = store.data().boundary_denials();
            if !refused.is_empty() {
                error.message.push_str(&format!("; the boundary refused: {}", refused.join("; ")));
            }
            if error.message.len() > limits.output_bytes {
                let mut cut = limits.output_bytes;
                while !error.message.is_char_boundary(cut) {
                    cut -= 1;
                }
                error.message.truncate(cut);
            }
            Err(CallError::Tool { tool: name, error })
        }
        Err(trap) => Err(classify(trap, &store, name, limits.timeout_ms, limits.memory_bytes)),
    }
}

/// How long the host waits for a call in all: the epoch deadline stops
/// guest code, this also bounds time spent waiting on the host.
pub(super) fn outer_timeout(ms: u64) -> Duration {
    Duration::from_millis(ms) + Duration::from_millis(250)
}

/// Turn a trap into the error that says which limit, if any, caused it.
pub(super) fn classify(
    trap: wasmtime::Error,
    store: &Store<CallState>,
    tool: String,
    ms: u64,
    memory: usize,
) -> CallError {
    if trap.downcast_ref::<DeadlineHit>().is_some() {
        return CallError::Timeout { tool, ms };
    }
    if store.data().sandbox.limiter.hit {
        return CallError::Memory { tool, mib: memory >> 20 };
    }
    let mut message = match trap.downcast_ref::<wasmtime::Trap>() {
        Some(t) => t.to_string(),
        None => format!("{trap:#}"),
    };
    let stderr = store.data().sandbox.stderr();
    if !stderr.is_empty() {
        message.push_str(&format!("; it printed: {stderr}"));
    }
    let refused = store.data().boundary_denials();
    if !refused.is_empty() {
        message.push_str(&format!("; the boundary refused: {}", refused.join("; ")));
    }
    CallError::Trap { tool, message }
}

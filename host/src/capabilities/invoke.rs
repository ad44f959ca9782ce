//! `claw:runtime/invoke`: call another tool by the alias the grant gives
//! it. Each hop runs in its own fresh instance under its own grant; the
//! runtime refuses chains deeper than its depth cap.

use super::{CallInfo, CallState, HostServices};
use crate::grant::Grant;
use crate::wit::claw::runtime::invoke::{Host, add_to_linker};
use crate::wit::claw::runtime::types::{ErrorKind, ToolError};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// A boxed tool call, so calls can nest.
pub type InvokeFuture = Pin<Box<dyn Future<Output = Result<String, ToolError>> + Send>>;

/// Runs a tool on behalf of another (implemented by the runtime).
pub trait Invoker: Send + Sync {
    /// Call `tool` with `params_json`, as `caller` at `depth`, under the
    /// untrusted content the calling turn holds (`tainted_by`).
    fn invoke(
        &self,
        tool: String,
        params_json: String,
        caller: String,
        depth: u32,
        tainted_by: Option<String>,
    ) -> InvokeFuture;
}

/// Link `claw:runtime/invoke`.
///
/// # Errors
///
/// When wasmtime refuses a definition.
pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    add_to_linker::<CallState, HasSelf<Instance>>(linker, |s| &mut s.invoke)
}

/// Alias → tool name, from the grant.
#[derive(Debug)]
pub struct Config {
    aliases: BTreeMap<String, String>,
}

impl Config {
    pub(super) fn from_grant(grant: &Grant) -> Config {
        Config { aliases: grant.invoke.clone() }
    }
}

/// One instance's invoke state.
pub struct Instance {
    config: Arc<Config>,
    invoker: Arc<dyn Invoker>,
    caller: String,
    depth: u32,
    /// Set when untrusted content drove the call: an invoke is a sink,
    /// and the content's provenance goes on to the tool invoked.
    sinks: Option<Arc<super::sinks::Sinks>>,
}

impl Instance {
    pub(super) fn prepare(config: &Arc<Config>, call: &CallInfo, host: &HostServices) -> Instance {
        Instance {
            config: config.clone(),
            invoker: host.invoker.clone(),
            caller: call.tool.clone(),
            depth: call.depth,
            sinks: call.sinks.clone(),
        }
    }
}

impl Host for Instance {
    async fn call(&mut self, alias: String, params_json: String) -> wasmtime::Result<Result<String, ToolError>> {
        let Some(tool) = self.config.aliases.get(&alias).cloned() else {
            return Ok(Err(ToolError {
                kind: ErrorKind::Denied,
                message: format!("the grant of `{}` names no tool `{alias}` under [invoke]", self.caller),
            }));
        };
        let tainted_by = match &self.sinks {
            Some(sinks) => {
                if let Err(message) = sinks.enter(&format!("invoke {alias}")).await {
                    return Ok(Err(ToolError { kind: ErrorKind::Denied, message }));
                }
                sinks.tainted_by().map(str::to_string)
            }
            None => None,
        };
        Ok(self.invoker.invoke(tool, params_json, self.caller.clone(), self.depth + 1, tainted_by).await)
    }
}

//! `claw:runtime/toolgen`: a tool asks claw to write a new tool, for
//! components whose grant says `[toolgen] request = true`. The request is
//! a durable `tool.generate` job (`toolgen::job`); what it makes waits for
//! the operator's approval, so this capability installs nothing.

use super::{CallState, HostServices};
use crate::grant::Grant;
use crate::store::LazyStore;
use crate::toolgen::job::Request;
use crate::wit::claw::runtime::toolgen::{Host, add_to_linker};
use crate::wit::claw::runtime::types::{ErrorKind, ToolError};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// Link `claw:runtime/toolgen`.
///
/// # Errors
///
/// When wasmtime refuses a definition.
pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    add_to_linker::<CallState, HasSelf<Instance>>(linker, |s| &mut s.toolgen)
}

/// Whether the grant allows requests, and whose they are.
#[derive(Debug)]
pub struct Config {
    granted: bool,
    component: String,
}

impl Config {
    pub(super) fn from_grant(component: &str, grant: &Grant) -> Config {
        Config { granted: grant.toolgen, component: component.to_string() }
    }
}

/// One instance's access to the queue.
pub struct Instance {
    config: Arc<Config>,
    store: Arc<LazyStore>,
}

impl Instance {
    pub(super) fn prepare(config: &Arc<Config>, host: &HostServices) -> Instance {
        Instance { config: config.clone(), store: host.store.clone() }
    }
}

fn error(kind: ErrorKind, message: impl Into<String>) -> ToolError {
    ToolError { kind, message: message.into() }
}

impl Host for Instance {
    async fn request(&mut self, name: String, description: String) -> wasmtime::Result<Result<String, ToolError>> {
        if !self.config.granted {
            return Ok(Err(error(ErrorKind::Denied, "the grant has no [toolgen] request = true")));
        }
        let request = Request { name, description, asked_by: format!("tool:{}", self.config.component) };
        if let Err(why) = request.check() {
            return Ok(Err(error(ErrorKind::InvalidParams, why)));
        }
        let store = match self.store.get().await {
            Ok(s) => s,
            Err(e) => return Ok(Err(error(ErrorKind::Unavailable, format!("the store is unavailable: {e}")))),
        };
        Ok(match store.jobs().enqueue(&request.job()).await {
            Ok(q) => Ok(format!(
                "queued as job {}{}: claw writes, builds and checks `{}`; it is installed only when the operator approves it (`claw tool approve {}`)",
                q.id,
                if q.created { "" } else { " (asked before)" },
                request.name,
                request.name
            )),
            Err(e) => Err(error(ErrorKind::Unavailable, format!("queueing the request failed: {e}"))),
        })
    }
}

//! `claw:runtime/memory`: hybrid search of the agent's memory, for
//! components whose grant says `[memory] search = true` — over the
//! documents under the grant's `[workspace] read` prefixes only: search
//! must not read what the workspace grant would not.

use super::{CallState, HostServices};
use crate::grant::{Grant, WorkspaceGrant};
use crate::memory::index::LazyMemory;
use crate::wit::claw::runtime::memory::{Hit, Host, add_to_linker};
use crate::wit::claw::runtime::types::{ErrorKind, ToolError};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// The most results one search may return.
pub const MAX_RESULTS: u32 = 50;

/// Link `claw:runtime/memory`.
///
/// # Errors
///
/// When wasmtime refuses a definition.
pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    add_to_linker::<CallState, HasSelf<Instance>>(linker, |s| &mut s.memory)
}

/// Whether the grant allows search.
#[derive(Debug)]
pub struct Config {
    search: bool,
    readable: WorkspaceGrant,
}

impl Config {
    pub(super) fn from_grant(grant: &Grant) -> Config {
        Config { search: grant.memory_search, readable: grant.workspace.clone() }
    }
}

/// One instance's memory access.
pub struct Instance {
    config: Arc<Config>,
    memory: Arc<LazyMemory>,
}

impl Instance {
    pub(super) fn prepare(config: &Arc<Config>, host: &HostServices) -> Instance {
        Instance { config: config.clone(), memory: host.memory.clone() }
    }
}

impl Host for Instance {
    async fn search(&mut self, query: String, limit: u32) -> wasmtime::Result<Result<Vec<Hit>, ToolError>> {
        if !self.config.search {
            return Ok(Err(ToolError {
                kind: ErrorKind::Denied,
                message: "the grant does not allow memory search".into(),
            }));
        }
        let run = async {
            let memory = self.memory.get().await.map_err(|e| ToolError {
                kind: ErrorKind::Unavailable,
                message: format!("memory is unavailable: {e}"),
            })?;
            let limit = limit.clamp(1, MAX_RESULTS) as usize;
            // Ask for more, then keep what the grant may read.
            let result = memory.search(&query, limit * 4, "").await.map_err(|e| ToolError {
                kind: ErrorKind::Unavailable,
                message: format!("memory search failed: {e}"),
            })?;
            Ok(result
                .hits
                .into_iter()
                .filter(|h| self.config.readable.may_read(&h.path))
                .take(limit)
                .map(|h| Hit { path: h.path, chunk: h.chunk, score: h.score })
                .collect())
        };
        Ok(run.await)
    }
}

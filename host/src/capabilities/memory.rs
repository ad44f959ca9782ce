//! `claw:runtime/memory`: hybrid search of the agent's memory, for
//! components whose grant says `[memory] search = true`.

use super::{CallState, HostServices};
use crate::grant::Grant;
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
#[derive(Debug, Clone, Copy)]
pub struct Config {
    search: bool,
}

impl Config {
    pub(super) fn from_grant(grant: &Grant) -> Config {
        Config { search: grant.memory_search }
    }
}

/// One instance's memory access.
pub struct Instance {
    config: Config,
    memory: Arc<LazyMemory>,
}

impl Instance {
    pub(super) fn prepare(config: &Config, host: &HostServices) -> Instance {
        Instance { config: *config, memory: host.memory.clone() }
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
            let result = memory.search(&query, limit.clamp(1, MAX_RESULTS) as usize, "").await.map_err(|e| {
                ToolError { kind: ErrorKind::Unavailable, message: format!("memory search failed: {e}") }
            })?;
            Ok(result.hits.into_iter().map(|h| Hit { path: h.path, chunk: h.chunk, score: h.score }).collect())
        };
        Ok(run.await)
    }
}

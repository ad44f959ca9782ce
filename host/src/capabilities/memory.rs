//! `claw:runtime/memory`: search of the agent's long-term memory.
//!
//! The memory index arrives with the store; until then a granted search
//! answers `unavailable` with that reason, and an ungranted one `denied`.

use super::CallState;
use crate::grant::Grant;
use crate::wit::claw::runtime::memory::{Hit, Host, add_to_linker};
use crate::wit::claw::runtime::types::{ErrorKind, ToolError};
use wasmtime::component::{HasSelf, Linker};

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
}

impl Instance {
    pub(super) fn prepare(config: &Config) -> Instance {
        Instance { config: *config }
    }
}

impl Host for Instance {
    fn search(&mut self, _query: String, _limit: u32) -> wasmtime::Result<Result<Vec<Hit>, ToolError>> {
        Ok(Err(if self.config.search {
            ToolError { kind: ErrorKind::Unavailable, message: "this claw has no memory index yet".into() }
        } else {
            ToolError { kind: ErrorKind::Denied, message: "the grant does not allow memory search".into() }
        }))
    }
}

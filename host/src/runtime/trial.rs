//! A call of a prepared tool that is not installed, with no capability at
//! all: how a generated tool's examples run before anyone approved what
//! it asks for.

use super::{CallError, Prepared, Runtime, call};
use crate::capabilities::{CallInfo, Config};
use crate::components::World;
use crate::grant::Grant;

impl Runtime {
    /// Run `prepared` once on `params` under its grant's limits, with the
    /// sandbox only: every request, workspace read or nested call is denied.
    ///
    /// # Errors
    ///
    /// A [`CallError`], as for an installed tool.
    pub async fn trial(&self, prepared: &Prepared, params: &str) -> Result<String, CallError> {
        let tool = &prepared.tool;
        let name = tool.record.name.clone();
        let nothing = Grant { limits: tool.grant.limits, ..Grant::default() };
        let config = Config::from_grant(&name, World::Tool, &nothing);
        let info = CallInfo { call_id: self.next_call_id(), tool: name, caller: None, depth: 0, sinks: None };
        call::execute_with(self.engine.wasmtime(), tool, &config, info, params, &self.services).await
    }
}

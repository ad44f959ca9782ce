//! The approval gate: a tool whose grant says `[approval]` runs only when
//! the store's approvals let it — for the agent's calls and for a tool's
//! `invoke` of it alike (the operator's own `claw tool call` is a person
//! present, and is not asked).

use super::{CallError, Runtime};
use crate::grant::Approval;
use crate::store::approvals::Gate;

impl Runtime {
    /// Whether `tool` may run with `args` now. Fails closed: when the
    /// approvals cannot be read, the call waits.
    ///
    /// # Errors
    ///
    /// [`CallError::Unapproved`], saying which request waits or why a
    /// person said no.
    pub async fn approved(&self, tool: &str, args: &str) -> Result<(), CallError> {
        let Some(need) = self.named(tool).map(|c| c.grant.approval) else { return Ok(()) };
        if need == Approval::Never {
            return Ok(());
        }
        // One spelling per set of arguments, so "always with these arguments" holds.
        let args = serde_json::from_str::<serde_json::Value>(args).map_or_else(|_| args.to_string(), |v| v.to_string());
        let gate = match self.services.store.get().await {
            Ok(store) => store.approvals().gate(tool, &args, need).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let why = match gate {
            Ok(Gate::Pass) => return Ok(()),
            Ok(Gate::Pending(r)) => format!(
                "the tool `{tool}` needs a person's approval before it runs, and approval request {id} waits for one \
                 (the operator answers with `claw approvals approve {id}` or `claw approvals deny {id}`). It has not run. \
                 Do not call it again in this turn: tell the person what you want to do and why.",
                id = r.id
            ),
            Ok(Gate::Denied(r)) => format!(
                "the operator denied this call of `{tool}` (approval request {}): {}. Do not ask again in this turn.",
                r.id,
                r.reason.as_deref().unwrap_or("no reason given")
            ),
            Err(e) => format!(
                "the tool `{tool}` needs a person's approval, and the approvals could not be read ({e}); it has not run."
            ),
        };
        Err(CallError::Unapproved { tool: tool.to_string(), why })
    }
}

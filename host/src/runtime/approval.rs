//! The approval gate before a call: a tool runs only when the store's
//! approvals let it, if its grant says `[approval]`, or — the data-flow
//! policy — if the turn holds content from outside and the tool is a sink
//! in itself (`[policy] sink = true`, an MCP tool not marked read-only).
//! The sinks a tool reaches while it runs (a write, an unsafe HTTP method,
//! an invoke) are gated where they are used (`capabilities::sinks`). The
//! agent's calls and a tool's `invoke` pass the same gate (the operator's
//! own `claw tool call` is a person present, and is not asked).

use super::{CallError, Runtime};
use crate::grant::Approval;
use crate::store::approvals::canonical;

impl Runtime {
    /// Whether `tool` may start with `args` now; `tainted_by` names the
    /// untrusted content in the turn, if any. Fails closed: when the
    /// approvals cannot be read, the call waits.
    ///
    /// # Errors
    ///
    /// [`CallError::Unapproved`], saying which request waits or why a
    /// person said no.
    pub async fn approved(&self, tool: &str, args: &str, tainted_by: Option<&str>) -> Result<(), CallError> {
        let Some(component) = self.named(tool) else { return Ok(()) };
        let whole = tainted_by.is_some() && component.grant.guarded_sinks().iter().any(|s| s == "tool");
        let sink = if whole { "the tool itself ([policy] sink = true)" } else { "" };
        self.ask(tool, args, component.grant.approval, tainted_by, sink).await
    }

    /// [`Runtime::approved`] for an MCP server's tool: its server's
    /// `approval` setting (destructive tools by default), and under the
    /// data-flow policy, one not marked read-only is a sink.
    ///
    /// # Errors
    ///
    /// As [`Runtime::approved`].
    pub async fn approved_mcp(
        &self,
        tool: &crate::mcp::McpTool,
        args: &str,
        tainted_by: Option<&str>,
    ) -> Result<(), CallError> {
        let sink = if tool.read_only { "" } else { "an MCP tool not marked read-only" };
        self.ask(&tool.name, args, tool.approval, tainted_by, sink).await
    }

    async fn ask(
        &self,
        tool: &str,
        args: &str,
        grant_needs: Approval,
        tainted_by: Option<&str>,
        sink: &str,
    ) -> Result<(), CallError> {
        // Untrusted content driving a sink waits every time, unless a
        // person's "always" covers it.
        let dataflow = tainted_by.filter(|_| !sink.is_empty());
        let need = if dataflow.is_some() { Approval::Always } else { grant_needs };
        if need == Approval::Never {
            return Ok(());
        }
        let why = dataflow.map(|from| crate::capabilities::sinks::reason(from, sink)).unwrap_or_default();
        let args = canonical(args);
        let gate = match self.services.store.get().await {
            Ok(store) => store.approvals().gate(tool, &args, need, Some(why.as_str()).filter(|w| !w.is_empty())).await,
            Err(e) => return Err(unreadable(tool, &why, &e)),
        };
        match gate {
            Ok(gate) => match gate.refusal(tool, &why, "It has not run.") {
                None => Ok(()),
                Some(why) => Err(CallError::Unapproved { tool: tool.to_string(), why }),
            },
            Err(e) => Err(unreadable(tool, &why, &e.to_string())),
        }
    }
}

fn unreadable(tool: &str, why: &str, e: &str) -> CallError {
    let because = if why.is_empty() { String::new() } else { format!(" because {why}") };
    CallError::Unapproved {
        tool: tool.to_string(),
        why: format!(
            "the tool `{tool}` needs a person's approval{because}, and the approvals could not be read ({e}); it has not run."
        ),
    }
}

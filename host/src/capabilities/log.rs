//! `claw:runtime/log`: always granted; each call may log at most
//! [`BUDGET`] bytes, the rest is dropped with one notice.

use super::{CallInfo, CallState};
use crate::wit::claw::runtime::log::{Host, Level, add_to_linker};
use wasmtime::component::{HasSelf, Linker};

/// Bytes of log one call may write.
pub const BUDGET: usize = 64 * 1024;

/// Link `claw:runtime/log`.
///
/// # Errors
///
/// When wasmtime refuses a definition.
pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    add_to_linker::<CallState, HasSelf<Instance>>(linker, |s| &mut s.log)
}

/// One call's log state.
pub struct Instance {
    tool: String,
    call_id: String,
    left: usize,
}

impl Instance {
    pub(super) fn prepare(call: &CallInfo) -> Instance {
        Instance { tool: call.tool.clone(), call_id: call.call_id.clone(), left: BUDGET }
    }
}

impl Host for Instance {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if self.left == 0 {
            return Ok(());
        }
        let mut message = message;
        if message.len() >= self.left {
            let mut cut = self.left;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(" [log budget used up; further lines dropped]");
            self.left = 0;
        } else {
            self.left -= message.len();
        }
        let (tool, call) = (&self.tool, &self.call_id);
        match level {
            Level::Trace => tracing::trace!(target: "claw::tool", tool, call, "{message}"),
            Level::Debug => tracing::debug!(target: "claw::tool", tool, call, "{message}"),
            Level::Info => tracing::info!(target: "claw::tool", tool, call, "{message}"),
            Level::Warn => tracing::warn!(target: "claw::tool", tool, call, "{message}"),
            Level::Error => tracing::error!(target: "claw::tool", tool, call, "{message}"),
        }
        Ok(())
    }
}

//! Why a tool call failed: plain data, rendered for people and for the
//! calling tool or LLM.

use crate::wit::claw::runtime::types::{ErrorKind, ToolError};
use std::fmt;

/// A failed tool call.
#[derive(Debug)]
pub enum CallError {
    /// No tool by that name is installed.
    NotFound {
        /// The name asked for.
        tool: String,
    },
    /// The name is installed, but it is not a tool (the LLM router, a channel).
    NotATool {
        /// The name asked for.
        name: String,
        /// What it is.
        world: crate::components::World,
    },
    /// The parameters are not JSON, or not a JSON object.
    BadParams {
        /// The tool.
        tool: String,
        /// What is wrong.
        message: String,
    },
    /// The tool returned its own error.
    Tool {
        /// The tool.
        tool: String,
        /// Its error.
        error: ToolError,
    },
    /// The tool trapped (crashed).
    Trap {
        /// The tool.
        tool: String,
        /// The trap, and what the guest printed to stderr.
        message: String,
    },
    /// The call ran past its time limit and was stopped.
    Timeout {
        /// The tool.
        tool: String,
        /// The limit.
        ms: u64,
    },
    /// The tool tried to grow memory past its limit.
    Memory {
        /// The tool.
        tool: String,
        /// The limit in MiB.
        mib: usize,
    },
    /// The output was larger than the limit.
    OutputTooLarge {
        /// The tool.
        tool: String,
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The output was not JSON.
    OutputNotJson {
        /// The tool.
        tool: String,
        /// The parser's complaint.
        message: String,
    },
    /// A chain of tool-to-tool calls went too deep.
    TooDeep {
        /// The tool that would have been called.
        tool: String,
        /// The cap.
        max: u32,
    },
    /// The component tripped the boundary's leak scan and is held until
    /// the operator releases it.
    Quarantined {
        /// The component.
        tool: String,
        /// The boundary's reason.
        reason: String,
    },
    /// Its grant says a person must confirm the call, and none has (or
    /// one denied it).
    Unapproved {
        /// The tool.
        tool: String,
        /// What waits or who said no, and what to do.
        why: String,
    },
    /// The host failed (not the tool's fault).
    Host(anyhow::Error),
}

fn kind_name(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::InvalidParams => "invalid parameters",
        ErrorKind::Denied => "denied",
        ErrorKind::NotFound => "not found",
        ErrorKind::Limit => "limit",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::Failed => "failed",
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::NotFound { tool } => write!(f, "no tool named `{tool}` is installed"),
            CallError::NotATool { name, world } => write!(f, "`{name}` is a {world:?} component, not a tool"),
            CallError::BadParams { tool, message } => {
                write!(f, "parameters for `{tool}` are invalid: {message}")
            }
            CallError::Tool { tool, error } => {
                write!(f, "`{tool}` failed ({}): {}", kind_name(error.kind), error.message)
            }
            CallError::Trap { tool, message } => write!(f, "`{tool}` crashed: {message}"),
            CallError::Timeout { tool, ms } => write!(f, "`{tool}` ran past its time limit of {ms} ms and was stopped"),
            CallError::Memory { tool, mib } => {
                write!(f, "`{tool}` tried to use more than its memory limit of {mib} MiB and was stopped")
            }
            CallError::OutputTooLarge { tool, bytes, limit } => {
                write!(f, "`{tool}` returned {bytes} bytes; its output limit is {limit} bytes")
            }
            CallError::OutputNotJson { tool, message } => {
                write!(f, "`{tool}` returned output that is not JSON: {message}")
            }
            CallError::TooDeep { tool, max } => {
                write!(f, "calling `{tool}` would exceed the tool-to-tool call depth of {max}")
            }
            CallError::Quarantined { tool, reason } => {
                write!(f, "`{tool}` is quarantined: a request of it tripped the leak scan ({reason})")
            }
            CallError::Unapproved { why, .. } => write!(f, "{why}"),
            CallError::Host(e) => write!(f, "host error: {e:#}"),
        }
    }
}

impl std::error::Error for CallError {}

impl CallError {
    /// How to fix it, where the host knows.
    pub fn hint(&self) -> Option<String> {
        match self {
            CallError::NotFound { .. } => {
                Some("`claw component list` shows what is installed; `claw component add FILE.wasm` adds one".into())
            }
            CallError::BadParams { tool, .. } => {
                Some(format!("`claw component inspect {tool}` shows the parameters schema"))
            }
            CallError::Tool { tool, error } if error.kind == ErrorKind::InvalidParams => {
                Some(format!("`claw component inspect {tool}` shows the parameters schema"))
            }
            CallError::Tool { tool, error } if error.message.contains("the boundary refused") => Some(format!(
                "`claw audit -n 5` shows the boundary's records; `claw policy explain {tool}` shows what its grant allows"
            )),
            CallError::Tool { tool, error } if error.kind == ErrorKind::Denied => Some(format!(
                "`claw component inspect {tool}` shows its grant; upgrade it with a grant that allows this"
            )),
            CallError::Quarantined { tool, .. } => Some(format!(
                "`claw audit --component {tool} -n 5` shows what it sent; `claw component release {tool}` lets it run again"
            )),
            CallError::Timeout { .. } | CallError::Memory { .. } | CallError::OutputTooLarge { .. } => {
                Some("raise the limit under [limits] in the tool's grant if this is expected".into())
            }
            _ => None,
        }
    }

    /// The error as the calling tool sees it through `invoke`.
    pub fn to_tool_error(&self) -> ToolError {
        let kind = match self {
            CallError::Tool { error, .. } => error.kind,
            CallError::NotFound { .. } | CallError::NotATool { .. } => ErrorKind::NotFound,
            CallError::Quarantined { .. } | CallError::Unapproved { .. } => ErrorKind::Denied,
            CallError::BadParams { .. } => ErrorKind::InvalidParams,
            CallError::Timeout { .. }
            | CallError::Memory { .. }
            | CallError::OutputTooLarge { .. }
            | CallError::TooDeep { .. } => ErrorKind::Limit,
            CallError::Trap { .. } | CallError::OutputNotJson { .. } | CallError::Host(_) => ErrorKind::Failed,
        };
        let message = match self {
            CallError::Tool { error, .. } => error.message.clone(),
            other => other.to_string(),
        };
        ToolError { kind, message }
    }
}

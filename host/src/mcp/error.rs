//! What can go wrong with an MCP server, each with the fix where there is one.

use std::time::Duration;

/// An MCP failure; the text names the server.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// No server of that name is configured.
    #[error("no MCP server named `{0}` is configured")]
    Unknown(String),
    /// The server did not start.
    #[error("MCP server `{server}` did not start: {reason}")]
    Start { server: String, reason: String },
    /// It started but did not complete the MCP handshake.
    #[error("MCP server `{server}` did not complete the MCP handshake: {reason}")]
    Handshake { server: String, reason: String },
    /// The boundary refused a request to a remote server.
    #[error("claw's boundary refused a request to MCP server `{server}`: {reason}")]
    Refused { server: String, reason: String },
    /// A remote server wants a credential claw did not send (or refused it).
    #[error("MCP server `{server}` requires authorization: it answered {challenge}")]
    Unauthorized { server: String, challenge: String },
    /// It gave no answer in time.
    #[error("MCP server `{server}` did not answer {what} within {} s", after.as_secs_f32())]
    Timeout { server: String, what: String, after: Duration },
    /// It answered something that is not MCP.
    #[error("MCP server `{server}` broke the protocol: {reason}")]
    Protocol { server: String, reason: String },
    /// It has no tool of that name.
    #[error("MCP server `{server}` has no tool `{tool}`; its tools are: {tools}")]
    NoTool { server: String, tool: String, tools: String },
    /// The tool refused the call (a JSON-RPC error).
    #[error("MCP tool `{tool}` of `{server}` failed: {message}")]
    Tool { server: String, tool: String, message: String },
    /// The arguments are not a JSON object.
    #[error("the arguments of `{tool}` must be a JSON object: {reason}")]
    BadArguments { tool: String, reason: String },
    /// Its configuration names a vault secret the vault lacks.
    #[error("MCP server `{server}` is given vault secret `{secret}`, which is not set")]
    MissingSecret { server: String, secret: String },
    /// The configuration could not be read.
    #[error("{0}")]
    Config(String),
}

impl McpError {
    /// How to fix it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            McpError::Unknown(_) => "`claw mcp list` shows the configured servers".into(),
            McpError::Start { server, .. } => {
                format!("check its command with `claw mcp list`; `claw mcp rm {server}` and add it again to change it")
            }
            McpError::Handshake { .. } => {
                "a --command must start an MCP server speaking JSON-RPC on stdin and stdout; a --url must be the server's MCP endpoint".into()
            }
            McpError::Refused { server, .. } => format!(
                "the server's grant does not allow it: edit config/mcp/{server}.grant.toml (`claw mcp list` shows it), or add the server again"
            ),
            McpError::Unauthorized { server, .. } => format!(
                "store its token with `claw secret set {server}_token` and add the server with `--bearer {server}_token` (`claw mcp rm {server}` first if it is configured)"
            ),
            McpError::MissingSecret { secret, .. } => format!("set it with `claw secret set {secret}`"),
            McpError::NoTool { server, .. } => format!("`claw mcp tools {server}` lists them"),
            McpError::Timeout { .. } => {
                "a slow server needs a longer --timeout-ms; one that never answers is not an MCP server on stdio".into()
            }
            McpError::Protocol { server, .. } => {
                format!("the server may have crashed: its stderr is in claw's log (target claw::mcp, server {server})")
            }
            _ => return None,
        })
    }
}

impl From<McpError> for crate::problem::Problem {
    fn from(e: McpError) -> Self {
        let hint = e.hint();
        let p = crate::problem::Problem::new(e.to_string());
        match hint {
            Some(h) => p.hint(h),
            None => p,
        }
    }
}

//! One running MCP server, spoken to with `rmcp`: a stdio server started
//! through the jail with a cleared environment in a process group of its
//! own (its stderr scanned for vault values and logged; dropping the
//! session kills the whole group), or a Streamable HTTP server reached
//! through the boundary.

use super::config::Server;
use super::error::McpError;
use super::jail::{ERROR_PREFIX, Isolation};
use crate::boundary::Boundary;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig, Implementation, Tool};
use rmcp::service::RunningService;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// The only `PATH` a server gets besides what its configuration names:
/// system directories, no user's.
pub const SYSTEM_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// How long a server has to start and answer `initialize`.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The client side: who claw is; list changes are handled by rmcp, which
/// drops its cached tool list when the server says it changed.
#[derive(Debug, Clone)]
struct Client;

impl rmcp::ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        info.client_info = Implementation::new("claw", env!("CARGO_PKG_VERSION"));
        // claw opens sessions with the `initialize` handshake, so it asks for the
        // newest version that has one (rmcp's default names a later revision,
        // which replaced the handshake).
        info.protocol_version = rmcp::model::ProtocolVersion::LATEST_WITH_INITIALIZE;
        info
    }
}

/// Vault secrets by name, with their values (wiped when dropped).
pub type SecretValues = Vec<(String, zeroize::Zeroizing<Vec<u8>>)>;

/// What starting a server needs beyond its configuration.
#[derive(Clone)]
pub struct Launch {
    /// The claw binary that runs the jail.
    pub exe: PathBuf,
    /// The server's private directory (its `HOME` and `TMPDIR`).
    pub private: PathBuf,
    /// The values of the vault secrets its configuration names.
    pub secrets: SecretValues,
    /// Scans its stderr and records what it does.
    pub boundary: Arc<Boundary>,
}

/// A started server.
pub struct Session {
    name: String,
    service: RunningService<rmcp::RoleClient, Client>,
    group: Option<nix::unistd::Pid>,
    isolation: Isolation,
    timeout: Duration,
    /// Whose secrets are cut out of every error text the server causes.
    boundary: Arc<Boundary>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("name", &self.name).field("isolation", &self.isolation).finish()
    }
}

impl Session {
    /// Start `server` and complete the MCP handshake.
    ///
    /// # Errors
    ///
    /// [`McpError::Start`] when it does not start, [`McpError::Handshake`]
    /// when it does not speak MCP, [`McpError::Timeout`] when it hangs.
    pub async fn start(server: &Server, launch: Launch) -> Result<Session, McpError> {
        let name = server.name.clone();
        let start_err = |reason: String| McpError::Start { server: name.clone(), reason };
        std::fs::create_dir_all(launch.private.join("tmp"))
            .map_err(|e| start_err(format!("creating {}: {e}", launch.private.display())))?;
        let mut cmd = tokio::process::Command::new(&launch.exe);
        cmd.arg("mcp").arg("jail").arg("--memory-mb").arg(server.memory_mb.to_string());
        for d in server.dirs.iter().chain(std::iter::once(&launch.private)) {
            cmd.arg("--dir").arg(d);
        }
        for d in &server.read {
            cmd.arg("--read").arg(d);
        }
        if server.network {
            cmd.arg("--network");
        }
        cmd.arg("--").args(&server.command);
        cmd.env_clear().env("PATH", SYSTEM_PATH).env("HOME", &launch.private).env("TMPDIR", launch.private.join("tmp"));
        for var in &server.env {
            match (&var.value, &var.secret) {
                (Some(v), _) => {
                    cmd.env(&var.name, v);
                }
                (None, Some(secret)) => {
                    let Some((_, value)) = launch.secrets.iter().find(|(n, _)| n == secret) else {
                        return Err(McpError::MissingSecret { server: name, secret: secret.clone() });
                    };
                    use std::os::unix::ffi::OsStrExt;
                    cmd.env(&var.name, std::ffi::OsStr::from_bytes(value));
                }
                (None, None) => {}
            }
        }
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| start_err(format!("running {}: {e}", launch.exe.display())))?;
        let group = child.id().and_then(|id| i32::try_from(id).ok()).map(nix::unistd::Pid::from_raw);
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(start_err("its pipes could not be opened".into()));
        };
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        // The jail's report comes first; anything else means it failed.
        let first = tokio::time::timeout(START_TIMEOUT, lines.next_line()).await;
        let isolation = match first {
            Ok(Ok(Some(line))) => match Isolation::from_line(&line) {
                Some(i) => i,
                None => return Err(start_err(format!("the launcher said: {}", clean(&launch.boundary, &line)))),
            },
            Ok(_) => return Err(start_err("the launcher ended before it reported".into())),
            Err(_) => return Err(McpError::Timeout { server: name, what: "starting".into(), after: START_TIMEOUT }),
        };
        let (early_tx, early_rx) = tokio::sync::oneshot::channel::<String>();
        tokio::spawn(log_stderr(name.clone(), lines, launch.boundary.clone(), early_tx));
        // The child is reaped by its own task; kill_on_drop ends it with the session.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        let handshake = START_TIMEOUT.min(Duration::from_millis(server.timeout_ms));
        let session = tokio::time::timeout(handshake, Client.serve((stdout, stdin))).await;
        let service = match session {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                kill_group(group);
                // A launch error (the program is missing) is more useful than "connection closed".
                let said = tokio::time::timeout(Duration::from_millis(500), early_rx).await.ok().and_then(Result::ok);
                return Err(match said {
                    Some(reason) => start_err(reason),
                    None => McpError::Handshake { server: name, reason: clean(&launch.boundary, &e.to_string()) },
                });
            }
            Err(_) => {
                kill_group(group);
                return Err(McpError::Timeout { server: name, what: "the MCP handshake".into(), after: handshake });
            }
        };
        if let Err(reason) = known_version(&service, &launch.boundary) {
            kill_group(group);
            return Err(McpError::Handshake { server: name, reason });
        }
        let timeout = Duration::from_millis(server.timeout_ms);
        Ok(Session { name, service, group, isolation, timeout, boundary: launch.boundary })
    }

    /// Connect to the Streamable HTTP server `server` through `egress`
    /// (the boundary, under the server's grant) and complete the handshake.
    ///
    /// # Errors
    ///
    /// [`McpError::Handshake`] when the boundary refuses or the server does
    /// not speak MCP, [`McpError::Timeout`] when it does not answer.
    pub async fn connect(
        server: &Server,
        egress: super::http::Egress,
        isolation: Isolation,
        boundary: Arc<Boundary>,
    ) -> Result<Session, McpError> {
        use rmcp::transport::StreamableHttpClientTransport;
        use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
        let name = server.name.clone();
        let url = server.url.clone().unwrap_or_default();
        let watch = egress.clone();
        let transport =
            StreamableHttpClientTransport::with_client(egress, StreamableHttpClientTransportConfig::with_uri(url));
        let handshake = START_TIMEOUT.min(Duration::from_millis(server.timeout_ms));
        let service = match tokio::time::timeout(handshake, Client.serve(transport)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let text = clean(&boundary, &with_causes(&e));
                return Err(match (refusal(&text), watch.challenge()) {
                    (Some(reason), _) => McpError::Refused { server: name, reason },
                    (None, Some(challenge)) => {
                        McpError::Unauthorized { server: name, challenge: clean(&boundary, &challenge) }
                    }
                    (None, None) => McpError::Handshake { server: name, reason: text },
                });
            }
            Err(_) => {
                return Err(McpError::Timeout { server: name, what: "the MCP handshake".into(), after: handshake });
            }
        };
        known_version(&service, &boundary).map_err(|reason| McpError::Handshake { server: name.clone(), reason })?;
        let timeout = Duration::from_millis(server.timeout_ms);
        Ok(Session { name, service, group: None, isolation, timeout, boundary })
    }

    /// What the jail could enforce.
    pub fn isolation(&self) -> &Isolation {
        &self.isolation
    }

    /// Whether the server has gone away.
    pub fn is_closed(&self) -> bool {
        self.service.is_transport_closed()
    }

    /// Its tools (rmcp keeps the list until the server says it changed).
    ///
    /// # Errors
    ///
    /// When the server fails, hangs or answers malformed.
    pub async fn tools(&self) -> Result<Vec<Tool>, McpError> {
        match tokio::time::timeout(self.timeout, self.service.list_all_tools()).await {
            Ok(Ok(tools)) => Ok(tools),
            Ok(Err(e)) => Err(self.failed(&e)),
            Err(_) => {
                Err(McpError::Timeout { server: self.name.clone(), what: "tools/list".into(), after: self.timeout })
            }
        }
    }

    /// Call `tool` with `arguments`.
    ///
    /// # Errors
    ///
    /// When the server fails, hangs past the call timeout, or answers malformed.
    pub async fn call(&self, tool: &str, arguments: rmcp::model::JsonObject) -> Result<CallToolResult, McpError> {
        let mut params = CallToolRequestParams::new(tool.to_string());
        params.arguments = Some(arguments);
        match tokio::time::timeout(self.timeout, self.service.call_tool(params)).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(rmcp::ServiceError::McpError(e))) => Err(McpError::Tool {
                server: self.name.clone(),
                tool: tool.to_string(),
                message: clean(&self.boundary, &e.message),
            }),
            Ok(Err(e)) => Err(self.failed(&e)),
            Err(_) => Err(McpError::Timeout {
                server: self.name.clone(),
                what: format!("the call of `{tool}`"),
                after: self.timeout,
            }),
        }
    }
}

impl Session {
    /// A failed request: refused by the boundary, or a broken server.
    fn failed(&self, e: &rmcp::ServiceError) -> McpError {
        let text = clean(&self.boundary, &with_causes(e));
        match refusal(&text) {
            Some(reason) => McpError::Refused { server: self.name.clone(), reason },
            None => McpError::Protocol { server: self.name.clone(), reason: text },
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        kill_group(self.group);
    }
}

/// End the server and everything it started.
fn kill_group(group: Option<nix::unistd::Pid>) {
    if let Some(g) = group {
        let _ = nix::sys::signal::killpg(g, nix::sys::signal::Signal::SIGKILL);
    }
}

/// rmcp accepts what the server answers; a version claw does not know is refused here.
fn known_version(service: &RunningService<rmcp::RoleClient, Client>, boundary: &Boundary) -> Result<(), String> {
    let version = service.peer_info().map(|i| i.protocol_version.to_string()).unwrap_or_default();
    if rmcp::model::ProtocolVersion::KNOWN_VERSIONS.iter().any(|v| v.to_string() == version) {
        return Ok(());
    }
    let known: Vec<String> = rmcp::model::ProtocolVersion::KNOWN_VERSIONS.iter().map(ToString::to_string).collect();
    Err(format!("it speaks MCP protocol version `{}`; claw speaks {}", clean(boundary, &version), known.join(", ")))
}

/// An error with its causes (rmcp wraps the transport's error, whose
/// text carries the boundary's refusal).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

/// The boundary's reasons in an error rmcp wrapped, if it holds them.
fn refusal(text: &str) -> Option<String> {
    let at = text.find(super::http::REFUSED)? + super::http::REFUSED.len();
    let reason = &text[at..];
    Some(reason.split(", when ").next().unwrap_or(reason).trim().to_string())
}

/// `text` with vault values and credential patterns cut out.
fn clean(boundary: &Boundary, text: &str) -> String {
    boundary.secrets().detector().cut(text)
}

/// Every stderr line goes to the log, scanned like everything else; the
/// jail's own error (the program could not start) is passed back once.
async fn log_stderr(
    server: String,
    mut lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>,
    boundary: Arc<Boundary>,
    early: tokio::sync::oneshot::Sender<String>,
) {
    let mut early = Some(early);
    while let Ok(Some(line)) = lines.next_line().await {
        let line = clean(&boundary, &line);
        if let Some(reason) = line.strip_prefix(ERROR_PREFIX)
            && let Some(tx) = early.take()
        {
            let _ = tx.send(reason.to_string());
        }
        tracing::info!(target: "claw::mcp", server = %server, "{line}");
    }
}

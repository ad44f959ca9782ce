//! MCP: the tools of MCP servers, offered to the agent under their server's name.
//!
//! A stdio server is a native process outside the WASM sandbox, so it is
//! started through [`jail`] (cleared environment, its own process group,
//! resource limits, no network, the file system closed to what its
//! configuration gives) and its every result reaches the LLM wrapped as
//! untrusted content. A Streamable HTTP server is reached through the
//! boundary ([`http`]) under its own grant ([`remote`]): its allowlist,
//! its credentials injected from the vault, every request audited.
//! Servers start on first use and again when they die; `mcp.toml` and the
//! grants are re-read when they change, so `claw mcp add|rm` reaches a
//! running `claw run`.

pub mod config;
mod error;
mod http;
pub mod jail;
pub mod remote;
pub mod result;
mod session;

pub use config::{EnvVar, Server, Servers};
pub use error::McpError;
pub use jail::Isolation;

use crate::boundary::Boundary;
use crate::home::Home;
use session::{Launch, Session};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// One tool of a server, as the agent is offered it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct McpTool {
    /// The name the agent calls it by (`server__tool`).
    pub name: String,
    /// Its server.
    pub server: String,
    /// Its name on the server.
    pub tool: String,
    /// The server's description of it (outside text).
    pub description: String,
    /// Its parameters schema, JSON.
    pub schema: String,
    /// Whether the server says it only reads (a hint, not a guarantee).
    pub read_only: bool,
    /// Whether it may destroy: MCP's default, unless the server marks it
    /// read-only or `destructiveHint: false`.
    pub destructive: bool,
    /// What its calls need of a person: the server's `approval` setting
    /// applied to its hints.
    pub approval: crate::grant::Approval,
}

/// The configured servers and their running sessions.
pub struct Mcp {
    home: Home,
    boundary: Arc<Boundary>,
    exe: PathBuf,
    state: std::sync::Mutex<State>,
}

impl std::fmt::Debug for Mcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mcp").field("config", &Servers::path(&self.home)).finish()
    }
}

/// A server's running session, started by whoever needs it first.
type Slot = Arc<tokio::sync::Mutex<Option<Arc<Session>>>>;

#[derive(Default)]
struct State {
    stamp: Option<u64>,
    /// The content of each remote server's grant when its session started.
    grant_stamps: HashMap<String, Option<u64>>,
    servers: Servers,
    slots: HashMap<String, Slot>,
    /// The last failure warned about, per server (warned once, not per turn).
    warned: HashMap<String, String>,
}

impl Mcp {
    /// The servers configured in `home`; `exe` is the claw binary that
    /// runs the jail (the running one, in `claw run` and `claw chat`).
    pub fn new(home: &Home, boundary: Arc<Boundary>, exe: PathBuf) -> Mcp {
        Mcp { home: home.clone(), boundary, exe, state: std::sync::Mutex::new(State::default()) }
    }

    /// For the running claw binary.
    ///
    /// # Errors
    ///
    /// When the binary's own path cannot be found.
    pub fn for_this_binary(home: &Home, boundary: Arc<Boundary>) -> std::io::Result<Mcp> {
        Ok(Mcp::new(home, boundary, std::env::current_exe()?))
    }

    /// The configuration, re-read when the file changed; sessions of
    /// servers removed or changed are ended.
    fn servers(&self) -> Result<Servers, McpError> {
        let stamp = crate::home::content_stamp(&Servers::path(&self.home));
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if stamp != state.stamp || (stamp.is_none() && !state.servers.list.is_empty()) {
            let next = Servers::load(&self.home).map_err(|e| McpError::Config(format!("{e:#}")))?;
            let old = std::mem::replace(&mut state.servers, next);
            let next = state.servers.clone();
            state.slots.retain(|name, _| old.get(name).is_some() && old.get(name) == next.get(name));
            state.warned.clear();
            state.stamp = stamp;
        }
        // A remote server whose grant changed starts again under the new one.
        let home = self.home.clone();
        let State { grant_stamps, slots, .. } = &mut *state;
        grant_stamps.retain(|name, seen| {
            let now = crate::home::content_stamp(&remote::grant_path(&home, name));
            let same = *seen == now;
            if !same {
                slots.remove(name);
            }
            same
        });
        Ok(state.servers.clone())
    }

    /// The running session of `name`, started when there is none or it died.
    async fn session(&self, name: &str) -> Result<Arc<Session>, McpError> {
        let servers = self.servers()?;
        let server = servers.get(name).ok_or_else(|| McpError::Unknown(name.to_string()))?.clone();
        let slot = {
            let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            state.slots.entry(name.to_string()).or_default().clone()
        };
        let mut running = slot.lock().await;
        if let Some(s) = running.as_ref()
            && !s.is_closed()
        {
            return Ok(s.clone());
        }
        let session = self.start(&server, None).await?;
        *running = Some(session.clone());
        Ok(session)
    }

    /// Start `server` (not necessarily configured yet; a remote one under
    /// `grant`, a grant file's text), list its tools, and stop it: what
    /// `claw mcp add` checks before it saves anything.
    ///
    /// # Errors
    ///
    /// When it does not start or fails to list its tools.
    pub async fn probe(&self, server: &Server, grant: Option<&str>) -> Result<(Vec<McpTool>, Isolation), McpError> {
        let grant = match grant {
            Some(text) => {
                let file = remote::grant_path(&self.home, &server.name).display().to_string();
                Some(remote::parse(text, &file).map_err(|e| McpError::Config(e.to_string()))?)
            }
            None => None,
        };
        let session = self.start(server, grant).await?;
        let tools = session.tools().await?;
        Ok((offer(&server.name, server.approval, tools), session.isolation().clone()))
    }

    /// Start a session of `server`, audited with what holds it in; a
    /// remote one under `grant`, or the grant in its file.
    async fn start(&self, server: &Server, grant: Option<crate::grant::Grant>) -> Result<Arc<Session>, McpError> {
        if server.is_remote() {
            return self.connect(server, grant).await;
        }
        let name = &server.name;
        let secrets = self.secrets_for(server)?;
        let launch = Launch {
            exe: self.exe.clone(),
            private: self.home.data.join("mcp").join(&server.name),
            secrets,
            boundary: self.boundary.clone(),
        };
        let session = Arc::new(Session::start(server, launch).await?);
        let iso = session.isolation();
        if !iso.complete {
            tracing::warn!(target: "claw::mcp", "MCP server `{name}` runs with incomplete isolation: network {}; files {}; limits {}", iso.network, iso.files, iso.limits);
        }
        let secret_note = match server.secrets().map(|(_, s)| s).collect::<Vec<_>>() {
            v if v.is_empty() => String::new(),
            v => format!("; given vault secrets {}", v.join(", ")),
        };
        self.boundary
            .note(
                &format!("mcp:{name}"),
                "mcp-start",
                &format!("network {}; files {}; limits {}{secret_note}", iso.network, iso.files, iso.limits),
            )
            .await;
        Ok(session)
    }

    /// Connect to a remote server through the boundary, under its grant.
    async fn connect(&self, server: &Server, grant: Option<crate::grant::Grant>) -> Result<Arc<Session>, McpError> {
        let name = &server.name;
        let path = remote::grant_path(&self.home, name);
        let stamp = crate::home::content_stamp(&path);
        let grant = match grant {
            Some(g) => g,
            None => remote::load(&self.home, server)?,
        };
        let vault = self.boundary.secrets();
        if vault.locked_reason().is_none()
            && let Some(missing) = remote::secrets(&grant).find(|s| !vault.contains(s))
        {
            return Err(McpError::MissingSecret { server: name.clone(), secret: missing.to_string() });
        }
        let isolation = remote::isolation(&grant);
        let egress = http::Egress::new(self.boundary.clone(), remote::policy(server, &grant));
        let session = Arc::new(Session::connect(server, egress, isolation, self.boundary.clone()).await?);
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).grant_stamps.insert(name.clone(), stamp);
        self.boundary.note(&format!("mcp:{name}"), "mcp-start", &session.isolation().network).await;
        Ok(session)
    }

    /// The values of the vault secrets `server` is given.
    fn secrets_for(&self, server: &Server) -> Result<session::SecretValues, McpError> {
        let names: Vec<&str> = server.secrets().map(|(_, s)| s).collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let missing = |n: &str| McpError::MissingSecret { server: server.name.clone(), secret: n.to_string() };
        let vault = crate::vault::Vault::open(&self.home, false).map_err(|_| missing(names[0]))?;
        names
            .into_iter()
            .map(|n| match vault.get(n) {
                Ok(v) => Ok((n.to_string(), v)),
                Err(_) => Err(missing(n)),
            })
            .collect()
    }

    /// Whether any server is configured (cheap: no server is started).
    pub fn any(&self) -> bool {
        self.servers().is_ok_and(|s| !s.list.is_empty())
    }

    /// The tools of server `name` and what its jail enforces.
    ///
    /// # Errors
    ///
    /// When it is not configured, does not start, or fails to list them.
    pub async fn server_tools(&self, name: &str) -> Result<(Vec<McpTool>, Isolation), McpError> {
        let session = self.session(name).await?;
        let tools = session.tools().await?;
        let approval = self.servers().ok().and_then(|s| s.list.iter().find(|s| s.name == name).map(|s| s.approval));
        Ok((offer(name, approval.unwrap_or_default(), tools), session.isolation().clone()))
    }

    /// Every configured server's tools. A server that fails is left out
    /// and warned about once (until its failure changes).
    pub async fn tools(&self) -> Vec<McpTool> {
        let Ok(servers) = self.servers() else { return Vec::new() };
        let lists = futures::future::join_all(servers.list.iter().map(|s| self.server_tools(&s.name))).await;
        let mut all = Vec::new();
        for (server, list) in servers.list.iter().zip(lists) {
            match list {
                Ok((tools, _)) => {
                    self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).warned.remove(&server.name);
                    all.extend(tools);
                }
                Err(e) => {
                    let text = e.to_string();
                    let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if state.warned.get(&server.name) != Some(&text) {
                        tracing::warn!(target: "claw::mcp", "{text}; its tools are not offered");
                        state.warned.insert(server.name.clone(), text);
                    }
                }
            }
        }
        all
    }

    /// Call the tool the agent knows as `name` with `arguments_json`; the
    /// text of its result, and whether the server marked it an error.
    ///
    /// # Errors
    ///
    /// An [`McpError`] naming the server and what failed.
    pub async fn call(&self, name: &str, arguments_json: &str) -> Result<(String, bool), McpError> {
        let bad = |reason: String| McpError::BadArguments { tool: name.to_string(), reason };
        let Some((server, _)) = result::split(name) else { return Err(McpError::Unknown(name.to_string())) };
        let arguments = match serde_json::from_str::<serde_json::Value>(arguments_json) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => return Err(bad("e.g. {\"text\": \"hi\"}".into())),
            Err(e) => return Err(bad(format!("not valid JSON: {e}"))),
        };
        let (tools, _) = self.server_tools(server).await?;
        let Some(tool) = tools.iter().find(|t| t.name == name) else {
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
            return Err(McpError::NoTool {
                server: server.to_string(),
                tool: name.to_string(),
                tools: if names.is_empty() { "(none)".into() } else { names.join(", ") },
            });
        };
        let session = self.session(server).await?;
        let outcome = session.call(&tool.tool, arguments).await;
        let decision = match &outcome {
            Ok(r) if r.is_error == Some(true) => "mcp-call-error",
            Ok(_) => "mcp-call",
            Err(_) => "mcp-call-failed",
        };
        self.boundary.note(&format!("mcp:{server}"), decision, &format!("tools/call {}", tool.tool)).await;
        Ok(result::text(&outcome?))
    }
}

/// `server`'s tools as the agent is offered them.
fn offer(server: &str, approval: config::McpApproval, tools: Vec<rmcp::model::Tool>) -> Vec<McpTool> {
    tools
        .into_iter()
        .filter_map(|t| {
            let Some(offered) = result::offered_name(server, &t.name) else {
                tracing::warn!(target: "claw::mcp", "MCP tool `{}` of `{server}` is not offered: its name is too long for the LLM APIs", t.name);
                return None;
            };
            let hints = t.annotations.as_ref();
            let read_only = hints.and_then(|a| a.read_only_hint) == Some(true);
            let destructive = !read_only && hints.and_then(|a| a.destructive_hint) != Some(false);
            Some(McpTool {
                name: offered,
                server: server.to_string(),
                description: t.description.as_deref().unwrap_or_default().to_string(),
                schema: serde_json::Value::Object((*t.input_schema).clone()).to_string(),
                read_only,
                destructive,
                approval: approval.needs(destructive),
                tool: t.name.into_owned(),
            })
        })
        .collect()
}

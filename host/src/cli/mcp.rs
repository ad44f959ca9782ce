//! `claw mcp add|list|tools|rm`: the MCP servers whose tools the agent may
//! use. `add` starts the server and lists its tools before anything is
//! saved, so a server that does not start is never configured.

use super::Printer;
use crate::boundary::Boundary;
use crate::home::Home;
use crate::mcp::config::McpApproval;
use crate::mcp::{EnvVar, Isolation, Mcp, McpTool, Server, Servers, remote};
use crate::problem::Problem;
use anyhow::Result;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, clap::Subcommand)]
pub(super) enum McpCommand {
    /// Add an MCP server (a local program, or a Streamable HTTP endpoint):
    /// it is started or reached, its tools listed, then saved.
    Add {
        /// Its name: the agent sees its tools as NAME__TOOL.
        name: String,
        /// The program and its arguments, e.g. "npx -y @modelcontextprotocol/server-everything".
        #[arg(long, required_unless_present = "url", conflicts_with = "url")]
        command: Option<String>,
        /// Its Streamable HTTP endpoint, reached through claw's boundary, e.g. https://mcp.example.com/mcp.
        #[arg(long)]
        url: Option<String>,
        /// A vault secret the boundary sends it as `Authorization: Bearer …` (with --url).
        #[arg(long, requires = "url", value_name = "SECRET")]
        bearer: Option<String>,
        /// The grant for a --url server, instead of the default (its endpoint, GET/POST/DELETE).
        #[arg(long, requires = "url", conflicts_with = "bearer", value_name = "FILE")]
        grant: Option<PathBuf>,
        /// An environment variable it gets: K=V, or K=secret:SECRET for a vault secret (repeatable).
        /// Nothing else of claw's environment reaches it.
        #[arg(long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// A directory it may read and write (repeatable); the rest of the file system is closed.
        #[arg(long = "dir")]
        dirs: Vec<PathBuf>,
        /// A directory it may only read, e.g. where its code is installed (repeatable).
        #[arg(long = "read")]
        read: Vec<PathBuf>,
        /// Let it use the network (default: an empty network namespace).
        #[arg(long)]
        network: bool,
        /// Give up on one call after this many milliseconds.
        #[arg(long, default_value_t = crate::mcp::config::DEFAULT_TIMEOUT_MS)]
        timeout_ms: u64,
        /// Its address-space limit in MiB.
        #[arg(long, default_value_t = crate::mcp::config::DEFAULT_MEMORY_MB)]
        memory_mb: u64,
        /// Which calls of its tools wait for a person (`claw approvals`):
        /// those it does not mark read-only or non-destructive, every
        /// call, or none.
        #[arg(long, value_enum, default_value_t = McpApproval::Destructive)]
        approval: McpApproval,
    },
    /// List the configured servers.
    List,
    /// Start a server and list its tools as the agent sees them.
    Tools {
        /// Its name.
        name: String,
    },
    /// Remove a server (a running `claw run` stops it).
    Rm {
        /// Its name.
        name: String,
    },
    /// The client side of the MCP conformance suite: connect to URL and call each tool.
    #[command(hide = true)]
    Conformance {
        /// The suite's server.
        url: String,
    },
    /// The launcher a stdio server starts under (claw runs it itself).
    #[command(hide = true)]
    Jail(crate::mcp::jail::JailArgs),
}

pub(super) async fn run(cmd: McpCommand, printer: &Printer) -> Result<()> {
    let home = Home::from_env()?;
    match cmd {
        McpCommand::Add {
            name,
            command,
            url,
            bearer,
            grant,
            env,
            dirs,
            read,
            network,
            timeout_ms,
            memory_mb,
            approval,
        } => {
            let mut server = match (&command, &url) {
                (Some(command), _) => {
                    let words = shlex::split(command).ok_or_else(|| {
                        Problem::new(format!("--command `{command}` has an unclosed quote"))
                            .hint("close the quote, or quote the whole command once")
                    })?;
                    Server::stdio(&name, words)
                }
                (None, Some(url)) => Server::http(&name, url),
                (None, None) => unreachable!("clap requires one of --command and --url"),
            };
            server.env = env.iter().map(|e| EnvVar::parse(e)).collect::<Result<_, _>>()?;
            server.dirs = absolute(dirs)?;
            server.read = absolute(read)?;
            server.network = network;
            server.timeout_ms = timeout_ms;
            server.memory_mb = memory_mb;
            server.approval = approval;
            let mut servers = Servers::load(&home)?;
            servers.add(server.clone())?;
            let grant_text = match (&grant, server.is_remote()) {
                (Some(file), _) => Some(std::fs::read_to_string(file).map_err(|e| {
                    Problem::new(format!("--grant {}: {e}", file.display())).hint("give the path of a grant file")
                })?),
                (None, true) => Some(remote::default_grant(&server, bearer.as_deref())?),
                (None, false) => None,
            };
            let what = if server.is_remote() { "connecting to" } else { "starting" };
            let progress = printer.progress(format!("{what} MCP server {name}"));
            let (tools, isolation) = mcp(&home)?.probe(&server, grant_text.as_deref()).await.map_err(Problem::from)?;
            progress.finish(if server.is_remote() { "connected" } else { "started" });
            if let Some(text) = &grant_text {
                remote::save(&home, &name, text)?;
            }
            servers.save(&home)?;
            if printer.json {
                printer.value(&serde_json::json!({"server": server, "tools": tools, "isolation": isolation}));
            } else {
                printer.line(format!("added MCP server {name} with {} tools: {}", tools.len(), names(&tools)));
                show_isolation(printer, &isolation);
            }
            warn_about_secrets(printer, &server);
        }
        McpCommand::List => {
            let servers = Servers::load(&home)?;
            if printer.json {
                printer.value(&serde_json::to_value(&servers.list)?);
            } else if servers.list.is_empty() {
                printer.note("no MCP server configured; add one with `claw mcp add NAME --command \"CMD ARGS\"`");
            } else {
                for s in &servers.list {
                    if let Some(url) = &s.url {
                        printer.line(format!("{}  {url}", s.name));
                        let path = remote::grant_path(&home, &s.name);
                        match remote::load(&home, s) {
                            Ok(g) => {
                                printer.line(format!("    grant {}:", path.display()));
                                for l in remote::describe(&g) {
                                    printer.line(format!("      {l}"));
                                }
                            }
                            Err(e) => printer.line(format!("    warning: {e}")),
                        }
                        continue;
                    }
                    printer.line(format!(
                        "{}  {}",
                        s.name,
                        shlex::try_join(s.command.iter().map(String::as_str)).unwrap_or_default()
                    ));
                    let env: Vec<String> = s.env.iter().map(ToString::to_string).collect();
                    printer.line(format!(
                        "    env: {}; network: {}; read-write: {}; read-only: {}; approval: {}",
                        if env.is_empty() { "(none)".into() } else { env.join(" ") },
                        if s.network { "open" } else { "none" },
                        paths(&s.dirs),
                        paths(&s.read),
                        match s.approval {
                            McpApproval::Destructive => "calls of tools not marked harmless wait for a person",
                            McpApproval::Always => "every call waits for a person",
                            McpApproval::Never => "none asked",
                        },
                    ));
                    for (var, secret) in s.secrets() {
                        printer.line(format!(
                            "    vault secret {secret} leaves the boundary here: the server reads it as {var}"
                        ));
                    }
                }
            }
        }
        McpCommand::Tools { name } => {
            let (tools, isolation) = mcp(&home)?.server_tools(&name).await.map_err(Problem::from)?;
            if printer.json {
                printer.value(&serde_json::json!({"tools": tools, "isolation": isolation}));
            } else {
                for t in &tools {
                    let first = t.description.lines().next().unwrap_or_default();
                    let marks = match (t.read_only, t.approval) {
                        (true, _) => "(read-only) ",
                        (false, crate::grant::Approval::Never) => "",
                        (false, _) => "(asks a person) ",
                    };
                    printer.line(format!("{:<40} {marks}{first}", t.name));
                }
                show_isolation(printer, &isolation);
            }
        }
        McpCommand::Rm { name } => {
            let mut servers = Servers::load(&home)?;
            let removed = servers.remove(&name)?;
            servers.save(&home)?;
            let grant = remote::grant_path(&home, &name);
            if grant.exists() {
                std::fs::remove_file(&grant).map_err(|e| Problem::new(format!("removing {}: {e}", grant.display())))?;
            }
            printer.note(format!("removed MCP server {}; the agent no longer sees its tools", removed.name));
        }
        McpCommand::Conformance { url } => super::mcp_conformance::run(&url, printer).await?,
        McpCommand::Jail(_) => unreachable!("the jail runs before the async runtime starts"),
    }
    Ok(())
}

fn mcp(home: &Home) -> Result<Mcp> {
    let boundary = Arc::new(Boundary::for_home(home)?);
    Ok(Mcp::for_this_binary(home, boundary)?)
}

fn absolute(dirs: Vec<PathBuf>) -> Result<Vec<PathBuf>> {
    dirs.into_iter()
        .map(|d| std::path::absolute(&d).map_err(|e| Problem::new(format!("`{}`: {e}", d.display())).into()))
        .collect()
}

fn names(tools: &[McpTool]) -> String {
    if tools.is_empty() {
        return "(none)".into();
    }
    tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
}

fn paths(v: &[PathBuf]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    }
}

fn show_isolation(printer: &Printer, i: &Isolation) {
    printer.line(format!("    network: {}", i.network));
    printer.line(format!("    files:   {}", i.files));
    printer.line(format!("    limits:  {}", i.limits));
    if !i.complete {
        printer.note("warning: this server runs with incomplete isolation (above): it is a native process outside the WASM sandbox");
    }
}

fn warn_about_secrets(printer: &Printer, server: &Server) {
    for (var, secret) in server.secrets() {
        printer.note(format!(
            "note: vault secret {secret} leaves the boundary here: `{}` reads it as {var}, and the boundary cannot see what it does with it",
            server.name
        ));
    }
}

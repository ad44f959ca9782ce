//! `mcp`: one `tools/call` of the reference server's `echo` through claw's
//! MCP hub — over stdio (in claw's jail) and over Streamable HTTP (through
//! the boundary, audited) — against the floor: the same server over stdio
//! driven by a bare rmcp client, no jail, no hub, no audit. The difference
//! is what claw adds to a call.

use super::{Stats, stats};
use anyhow::{Context as _, Result};
use claw::boundary::Boundary;
use claw::home::Home;
use claw::mcp::{Mcp, Server, Servers, remote};
use rmcp::ServiceExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct McpStats {
    pub floor: Stats,
    pub stdio: Stats,
    pub http: Stats,
}

fn modules() -> PathBuf {
    std::env::var_os("CLAW_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/npm/node_modules"))
}

/// Samples of `n` calls after `n / 10` unmeasured ones.
async fn sample<F, Fut>(n: usize, mut call: F) -> Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    for _ in 0..n / 10 {
        call().await?;
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        call().await?;
        out.push(t.elapsed());
    }
    Ok(out)
}

pub fn mcp(n: usize) -> Result<McpStats> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run(n))
}

async fn run(n: usize) -> Result<McpStats> {
    let m = modules();
    let script = m.join("@modelcontextprotocol/server-everything/dist/index.js");
    anyhow::ensure!(script.is_file(), "{} is missing: run `scripts/dev test` once", script.display());
    let claw = std::env::current_exe()?.with_file_name("claw");
    anyhow::ensure!(claw.is_file(), "{} is missing: cargo build --release -p claw", claw.display());

    // The floor: a bare rmcp client on the server's stdio.
    let mut child = tokio::process::Command::new("node")
        .arg(&script)
        .arg("stdio")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let (stdout, stdin) = (child.stdout.take().context("stdout")?, child.stdin.take().context("stdin")?);
    let bare = ().serve((stdout, stdin)).await?;
    let args = serde_json::json!({"message": "hi"});
    let floor = sample(n, || async {
        let mut p = rmcp::model::CallToolRequestParams::new("echo");
        p.arguments = args.as_object().cloned();
        bare.call_tool(p).await?;
        Ok(())
    })
    .await?;
    drop(bare);

    // claw: both servers configured as `claw mcp add` would.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut http_server = tokio::process::Command::new("node")
        .arg(&script)
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let dir = tempfile::tempdir()?;
    let home = Home::at(dir.path());
    let mut stdio = Server::stdio("ev", vec!["node".into(), script.display().to_string(), "stdio".into()]);
    stdio.read.push(m.clone());
    let http = Server::http("evh", &format!("http://127.0.0.1:{port}/mcp"));
    let grant = remote::grant_path(&home, "evh");
    std::fs::create_dir_all(grant.parent().context("grant dir")?)?;
    std::fs::write(&grant, remote::default_grant(&http, None)?)?;
    let mut servers = Servers::default();
    servers.add(stdio)?;
    servers.add(http)?;
    servers.save(&home)?;
    let hub = Mcp::new(&home, Arc::new(Boundary::for_home(&home)?), claw);
    // The HTTP server needs a moment to listen.
    let deadline = Instant::now() + Duration::from_secs(20);
    while hub.server_tools("evh").await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "server-everything did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let call = |name: &'static str| {
        let hub = &hub;
        move || async move {
            let (_, is_error) = hub.call(name, r#"{"message": "hi"}"#).await?;
            anyhow::ensure!(!is_error, "{name} answered an error");
            Ok(())
        }
    };
    let stdio = sample(n, call("ev__echo")).await?;
    let http = sample(n, call("evh__echo")).await?;
    let _ = http_server.kill().await;
    Ok(McpStats { floor: stats(floor, 1e3), stdio: stats(stdio, 1e3), http: stats(http, 1e3) })
}

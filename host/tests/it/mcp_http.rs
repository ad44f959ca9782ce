//! MCP servers over Streamable HTTP, reached through claw's boundary: the
//! reference server `server-everything` in its `streamableHttp` mode, and a
//! server on the official SDK that demands a bearer token. Both run as
//! real Node processes on 127.0.0.1; the agent reaches them from a
//! scripted LLM.

use crate::agent::{add_provider, install_router, only_wrapped, set_secret};
use crate::common::{TestHome, lines, ok, stderr, stdout, wait_for};
use crate::llm_server::{Format, LlmServer, Step};
use crate::mcp::modules;
use std::process::{Child, Command, Stdio};

const TOKEN: &str = "mcp-bearer-4f1e9a7c2d8b6e30";

/// A Node MCP server on a free port of 127.0.0.1, ended when dropped.
struct NodeServer {
    child: Child,
    port: u16,
}

impl NodeServer {
    /// Run `script` with `env` and `PORT`, and wait for it to say `ready`.
    fn start(script: &std::path::Path, args: &[&str], env: &[(&str, &str)], ready: &str) -> NodeServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .env("PORT", port.to_string())
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs");
        let err = lines(child.stderr.take().unwrap());
        wait_for(&err, ready);
        NodeServer { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn everything() -> NodeServer {
    let script = modules().join("@modelcontextprotocol/server-everything/dist/index.js");
    NodeServer::start(&script, &["streamableHttp"], &[], "listening on port")
}

/// The reference server over Streamable HTTP: its tools reach the agent
/// under its name, results come back wrapped as untrusted (a streamed one
/// too), every request is the boundary's and audited as `mcp:NAME`, and a
/// narrower grant is what the boundary then enforces.
#[test]
fn a_streamable_http_server_is_reached_through_the_boundary_under_its_own_grant() {
    let server = everything();
    let h = TestHome::new();
    let out = h.claw(&["mcp", "add", "remote", "--url", &server.url()]);
    ok(&out, "mcp add --url");
    assert!(stdout(&out).contains("remote__echo") && stdout(&out).contains("remote__get-sum"), "{}", stdout(&out));
    assert!(stdout(&out).contains("through claw's boundary only"), "{}", stdout(&out));
    let grant = h.home.config.join("mcp/remote.grant.toml");
    let text = std::fs::read_to_string(&grant).unwrap();
    assert!(text.contains(&format!("url = \"{}\"", server.url())), "{text}");

    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::ToolCalls(vec![("c1".into(), "remote__echo".into(), r#"{"message": "over HTTP"}"#.into())]),
            Step::Text("Echoed remotely.".into()),
        ],
    );
    install_router(&h);
    add_provider(&h, "local", "openai", &llm, &[]);
    let out = h.claw(&["chat", "-m", "echo over http"]);
    ok(&out, "chat");
    assert!(stdout(&out).contains("Echoed remotely."), "{}", stdout(&out));
    let requests = llm.requests();
    assert!(requests[0].tool_names().contains(&"remote__echo".to_string()), "{:?}", requests[0].tool_names());
    let second = requests[1].all_text();
    assert!(only_wrapped(&second, "Echo: over HTTP"), "{second}");

    // A tool that reports progress answers as an event stream.
    let out = h.claw(&["tool", "call", "remote__trigger-long-running-operation", r#"{"duration": 1, "steps": 2}"#]);
    ok(&out, "a streamed call");
    assert!(stdout(&out).contains("Long running operation completed"), "{}", stdout(&out));

    let audit = std::fs::read_to_string(h.home.data.join("audit.jsonl")).unwrap();
    let posts: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["component"] == "mcp:remote" && r["method"] == "POST")
        .collect();
    assert!(posts.len() >= 4, "initialize, initialized, list, call: {posts:?}");
    assert!(posts.iter().all(|r| r["decision"] == "allow" && r["path"] == "/mcp" && r["port"] == server.port));

    // The grant is the boundary's rule: narrowed to another path, nothing gets through.
    std::fs::write(&grant, text.replace("/mcp\"", "/elsewhere\"")).unwrap();
    let out = h.claw(&["tool", "call", "remote__echo", r#"{"message": "x"}"#]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("claw's boundary refused a request to MCP server `remote`"), "{err}");
    assert!(err.contains("no [[http]] rule allows POST") && err.contains("remote.grant.toml"), "{err}");
    let audit = std::fs::read_to_string(h.home.data.join("audit.jsonl")).unwrap();
    assert!(audit.lines().any(|l| l.contains("\"mcp:remote\"") && l.contains("\"deny\"")), "the denial is audited");

    ok(&h.claw(&["mcp", "rm", "remote"]), "mcp rm");
    assert!(!grant.exists(), "its grant goes with it");
}

/// A server that demands a bearer token: the boundary injects the vault
/// secret named by `--bearer`; the token is in no file claw writes, and
/// the server's echo of it is cut before the LLM reads the result.
#[test]
fn the_boundary_injects_the_bearer_and_its_echo_never_reaches_the_llm() {
    let script = modules().join(".claw-test/guarded.mjs");
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    std::fs::write(&script, GUARDED).unwrap();
    let server = NodeServer::start(&script, &[], &[("EXPECTED_TOKEN", TOKEN)], "guarded listening");
    let h = TestHome::new();

    // Without a credential the server refuses, and nothing is saved.
    let out = h.claw(&["mcp", "add", "guarded", "--url", &server.url()]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(stderr(&out).contains("requires authorization") && stderr(&out).contains("--bearer"), "{}", stderr(&out));
    assert!(!h.home.config.join("mcp.toml").exists() && !h.home.config.join("mcp/guarded.grant.toml").exists());
    // A secret the vault lacks is named, with the fix.
    let out = h.claw(&["mcp", "add", "guarded", "--url", &server.url(), "--bearer", "guard_token"]);
    assert!(stderr(&out).contains("vault secret `guard_token`, which is not set"), "{}", stderr(&out));

    set_secret(&h, "guard_token", TOKEN);
    let out =
        h.claw(&["mcp", "add", "guarded", "--url", &server.url(), "--bearer", "guard_token", "--approval", "never"]);
    ok(&out, "mcp add --bearer");
    assert!(stdout(&out).contains("guarded__whoami"), "{}", stdout(&out));
    assert!(stdout(&out).contains("credentials injected by the boundary: guard_token"), "{}", stdout(&out));
    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::ToolCalls(vec![("c1".into(), "guarded__whoami".into(), "{}".into())]),
            Step::Text("Checked.".into()),
        ],
    );
    install_router(&h);
    add_provider(&h, "local", "openai", &llm, &[]);
    let out = h.claw(&["chat", "-m", "who am I"]);
    ok(&out, "chat");
    let seen = llm.requests()[1].all_text();
    assert!(seen.contains("you sent Bearer [REDACTED:guard_token]"), "the echo arrives, cut: {seen}");
    assert!(!seen.contains(TOKEN), "the bearer reached the LLM");
    assert!(!stdout(&out).contains(TOKEN) && !stderr(&out).contains(TOKEN));
    for file in ["config/mcp.toml", "config/mcp/guarded.grant.toml", "data/audit.jsonl"] {
        let text = std::fs::read_to_string(h.dir.path().join(file)).unwrap_or_default();
        assert!(!text.contains(TOKEN), "{file} holds the token");
    }
    let explain = h.claw(&["policy", "explain", "mcp:guarded"]);
    ok(&explain, "policy explain mcp:guarded");
    assert!(stdout(&explain).contains("reached only through the egress boundary"), "{}", stdout(&explain));
    assert!(stdout(&explain).contains("guard_token") && !stdout(&explain).contains(TOKEN), "{}", stdout(&explain));
    let list = h.claw(&["mcp", "list"]);
    assert!(stdout(&list).contains("Authorization") && !stdout(&list).contains(TOKEN), "{}", stdout(&list));
}

/// A stateless server on the official SDK that answers only requests
/// carrying `Authorization: Bearer $EXPECTED_TOKEN`; its one tool says
/// which credential arrived.
const GUARDED: &str = r#"
import http from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
const expected = "Bearer " + process.env.EXPECTED_TOKEN;
http.createServer(async (req, res) => {
  if (req.headers.authorization !== expected) {
    res.writeHead(401, { "WWW-Authenticate": 'Bearer realm="guarded"' });
    res.end();
    return;
  }
  if (req.method !== "POST") {
    res.writeHead(405);
    res.end();
    return;
  }
  let body = "";
  for await (const chunk of req) body += chunk;
  const server = new McpServer({ name: "guarded", version: "1.0.0" });
  server.registerTool("whoami", { description: "Says which credential arrived." }, async () => ({
    content: [{ type: "text", text: "you sent " + req.headers.authorization }],
  }));
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on("close", () => { transport.close(); server.close(); });
  await server.connect(transport);
  await transport.handleRequest(req, res, JSON.parse(body));
}).listen(Number(process.env.PORT), "127.0.0.1", () => console.error("guarded listening"));
"#;

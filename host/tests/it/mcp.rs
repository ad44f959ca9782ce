//! MCP servers over stdio: the reference servers from npm
//! (`@modelcontextprotocol/server-everything`, `server-filesystem`,
//! installed by `scripts/dev test`), a server on the official SDK whose
//! tool list changes, and broken servers written here in bash. Each runs
//! as a real process through claw's jail; the agent reaches them from a
//! scripted LLM on 127.0.0.1.

use crate::agent::{add_provider, install_router, only_wrapped, set_secret};
use crate::common::{TestHome, ok, stderr, stdout};
use crate::llm_server::{Format, LlmServer, Step};
use std::path::PathBuf;

const TOKEN: &str = "mcp-token-5b0c8e11d2a94f7e";

pub(crate) fn modules() -> PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let m = std::env::var("CLAW_NODE_MODULES").map_or_else(|_| root.join("target/npm/node_modules"), Into::into);
    assert!(
        m.join("@modelcontextprotocol/server-everything").is_dir(),
        "the reference MCP servers are missing in {}: run `scripts/dev test`",
        m.display()
    );
    m
}

fn everything() -> String {
    format!("node {}/@modelcontextprotocol/server-everything/dist/index.js stdio", modules().display())
}

/// `claw mcp add NAME --command CMD` with the npm modules readable, and `extra`.
fn add(h: &TestHome, name: &str, command: &str, extra: &[&str]) -> std::process::Output {
    let read = modules();
    let mut args = vec!["mcp", "add", name, "--command", command, "--read", read.to_str().unwrap()];
    args.extend_from_slice(extra);
    h.claw(&args)
}

/// The reference server's tools appear under its name, a call through the
/// agent reaches it, and the result comes back to the LLM wrapped as
/// untrusted; the server runs with no network and its own file system view.
#[test]
fn the_agent_calls_a_reference_servers_tool_and_reads_the_result_as_untrusted() {
    let h = TestHome::new();
    let out = add(&h, "everything", &everything(), &[]);
    ok(&out, "mcp add");
    assert!(stdout(&out).contains("everything__echo"), "{}", stdout(&out));

    let out = h.claw(&["--json", "mcp", "tools", "everything"]);
    ok(&out, "mcp tools");
    let listed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let names: Vec<&str> = listed["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"everything__echo") && names.contains(&"everything__get-sum"), "{names:?}");
    let iso = &listed["isolation"];
    assert!(iso["network"].as_str().unwrap().starts_with("none"), "{iso}");
    assert!(iso["files"].as_str().unwrap().contains("Landlock"), "{iso}");
    assert_eq!(iso["complete"], true, "{iso}");

    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::ToolCalls(vec![(
                "c1".into(),
                "everything__echo".into(),
                r#"{"message": "a note from the MCP side"}"#.into(),
            )]),
            Step::Text("It echoed.".into()),
        ],
    );
    install_router(&h);
    add_provider(&h, "local", "openai", &llm, &[]);
    let out = h.claw(&["chat", "-m", "echo something"]);
    ok(&out, "chat");
    assert!(stdout(&out).contains("It echoed."), "{}", stdout(&out));
    let requests = llm.requests();
    assert!(requests[0].tool_names().contains(&"everything__echo".to_string()), "{:?}", requests[0].tool_names());
    let second = requests[1].all_text();
    assert!(only_wrapped(&second, "Echo: a note from the MCP side"), "{second}");
    assert!(second.contains("MCP server everything"), "{second}");

    // `claw tool call` reaches the same tool; a JSON-RPC error is an error.
    let out = h.claw(&["tool", "call", "everything__get-sum", r#"{"a": 2, "b": 40}"#]);
    ok(&out, "tool call");
    assert!(stdout(&out).contains("42"), "{}", stdout(&out));
    let out = h.claw(&["tool", "call", "everything__no-such-tool", "{}"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("has no tool `everything__no-such-tool`"), "{}", stderr(&out));
    assert!(stderr(&out).contains("claw mcp tools everything"), "{}", stderr(&out));
}

/// The server's environment is only what its configuration names (and a
/// system PATH): claw's own variables stay out, a literal arrives, and a
/// vault secret arrives in the process yet is cut from what the LLM reads.
#[test]
fn a_server_gets_only_its_configured_environment_and_its_secret_never_reaches_the_llm() {
    let h = TestHome::new();
    set_secret(&h, "mcp_token", TOKEN);
    let mut cmd = h.command(&[
        "mcp",
        "add",
        "everything",
        "--command",
        &everything(),
        "--read",
        modules().to_str().unwrap(),
        "--env",
        "GREETING=hello-from-config",
        "--env",
        "API_TOKEN=secret:mcp_token",
    ]);
    let out = cmd.env("CLAWS_PARENT_ONLY", "parent-value-7781").output().unwrap();
    ok(&out, "mcp add");
    assert!(stderr(&out).contains("vault secret mcp_token leaves the boundary here"), "{}", stderr(&out));
    let out = h.claw(&["mcp", "list"]);
    assert!(stdout(&out).contains("API_TOKEN=secret:mcp_token") && !stdout(&out).contains(TOKEN));
    let out = h.claw(&["policy", "explain", "mcp:everything"]);
    ok(&out, "policy explain mcp:");
    assert!(stdout(&out).contains("secret `mcp_token`: leaves the boundary here"), "{}", stdout(&out));
    assert!(stdout(&out).contains("GREETING=hello-from-config") && !stdout(&out).contains(TOKEN), "{}", stdout(&out));

    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::ToolCalls(vec![("c1".into(), "everything__get-env".into(), "{}".into())]),
            Step::Text("Seen.".into()),
        ],
    );
    install_router(&h);
    add_provider(&h, "local", "openai", &llm, &[]);
    let out =
        h.command(&["chat", "-m", "show the env"]).env("CLAWS_PARENT_ONLY", "parent-value-7781").output().unwrap();
    ok(&out, "chat");
    let seen = llm.requests()[1].all_text();
    assert!(seen.contains("hello-from-config"), "{seen}");
    assert!(seen.contains("API_TOKEN") && seen.contains("[redacted"), "the secret must arrive, cut: {seen}");
    assert!(!seen.contains(TOKEN), "the vault value reached the LLM");
    assert!(!seen.contains("parent-value-7781") && !seen.contains("CLAW_HOME"), "claw's environment leaked: {seen}");
    assert!(seen.contains("/usr/local/bin:/usr/bin:/bin"), "{seen}");
    assert!(!stdout(&out).contains(TOKEN) && !stderr(&out).contains(TOKEN), "the vault value was printed");
    let audit = std::fs::read_to_string(h.home.data.join("audit.jsonl")).unwrap();
    assert!(audit.contains("given vault secrets mcp_token") && !audit.contains(TOKEN), "{audit}");
}

/// The jail on its own: the network is an empty namespace unless allowed,
/// the file system is closed but for system and given directories, and
/// the limits hold — each checked by a real program trying.
#[test]
fn the_jail_closes_the_network_and_the_file_system_and_reports_it() {
    let h = TestHome::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let outside = h.dir.path().join("outside.txt");
    std::fs::write(&outside, "private").unwrap();
    let given = h.dir.path().join("given");
    std::fs::create_dir(&given).unwrap();
    let jail = |extra: &[&str], script: &str| {
        let mut args = vec!["mcp", "jail"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "/usr/bin/bash", "-c", script]);
        h.claw(&args)
    };
    let connect = format!("echo hi > /dev/tcp/127.0.0.1/{port} && echo connected");
    let out = jail(&[], &connect);
    assert!(!stdout(&out).contains("connected"), "the network was open: {}", stderr(&out));
    assert!(stderr(&out).contains("claw-jail: ") && stderr(&out).contains("network namespace"), "{}", stderr(&out));
    let out = jail(&["--network"], &connect);
    assert!(stdout(&out).contains("connected"), "{}", stderr(&out));

    let read = format!("cat {}", outside.display());
    let out = jail(&[], &read);
    assert!(!stdout(&out).contains("private") && stderr(&out).contains("Permission denied"), "{}", stderr(&out));
    let out = jail(&["--read", h.dir.path().to_str().unwrap()], &read);
    assert!(stdout(&out).contains("private"), "{}", stderr(&out));
    let write = format!("echo made > {0}/new.txt && cat {0}/new.txt", given.display());
    let out = jail(&["--read", h.dir.path().to_str().unwrap()], &write);
    assert!(!stdout(&out).contains("made"), "a read-only directory was written: {}", stderr(&out));
    let out = jail(&["--dir", given.to_str().unwrap()], &write);
    assert!(stdout(&out).contains("made"), "{}", stderr(&out));

    let out = jail(&["--memory-mb", "64"], "ulimit -v; ulimit -n; ulimit -c");
    assert_eq!(stdout(&out).split_whitespace().collect::<Vec<_>>(), ["65536", "1024", "0"], "{}", stderr(&out));
    let out = h.claw(&["mcp", "jail", "--", "/no/such/program"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(stderr(&out).contains("claw-jail error: cannot start `/no/such/program`"), "{}", stderr(&out));
}

/// A server whose tool list changes while it runs (on the official SDK):
/// the agent is offered the new tool in its next request.
#[test]
fn a_tool_list_change_reaches_the_next_llm_request() {
    let h = TestHome::new();
    // Inside the modules directory, so node finds the SDK and the jail lets it read the file.
    let script = modules().join(".claw-test/changing.mjs");
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    std::fs::write(&script, CHANGING).unwrap();
    // `grow` carries no hints: by default its calls would wait for a person.
    let out = add(&h, "grower", &format!("node {}", script.display()), &["--approval", "never"]);
    ok(&out, "mcp add");
    assert!(stdout(&out).contains("grower__grow") && !stdout(&out).contains("grower__grown"), "{}", stdout(&out));
    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::ToolCalls(vec![("c1".into(), "grower__grow".into(), "{}".into())]),
            Step::ToolCalls(vec![("c2".into(), "grower__grown".into(), "{}".into())]),
            Step::Text("Grown.".into()),
        ],
    );
    install_router(&h);
    add_provider(&h, "local", "openai", &llm, &[]);
    let out = h.claw(&["chat", "-m", "grow a tool and use it"]);
    ok(&out, "chat");
    let requests = llm.requests();
    assert!(!requests[0].tool_names().contains(&"grower__grown".to_string()));
    let text = requests[2].all_text();
    assert!(only_wrapped(&text, "the grown tool ran"), "{text}");
}

/// The reference filesystem server, given one directory: it writes and
/// reads there through claw, and a file outside is out of its reach.
#[test]
fn the_filesystem_server_works_in_its_directory_only() {
    let h = TestHome::new();
    let notes = h.dir.path().join("notes");
    std::fs::create_dir(&notes).unwrap();
    std::fs::write(h.dir.path().join("secret-plan.txt"), "not for the server").unwrap();
    let server = format!(
        "node {}/@modelcontextprotocol/server-filesystem/dist/index.js {}",
        modules().display(),
        notes.display()
    );
    let out = add(&h, "fs", &server, &["--dir", notes.to_str().unwrap()]);
    ok(&out, "mcp add");
    assert!(stdout(&out).contains("fs__write_file") && stdout(&out).contains("fs__read_text_file"), "{}", stdout(&out));
    let target = notes.join("todo.md");
    let args = serde_json::json!({"path": target, "content": "- buy milk\n"}).to_string();
    ok(&h.claw(&["tool", "call", "fs__write_file", &args]), "write_file");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "- buy milk\n");
    let out = h.claw(&["tool", "call", "fs__read_text_file", &serde_json::json!({"path": target}).to_string()]);
    ok(&out, "read_text_file");
    assert!(stdout(&out).contains("buy milk"), "{}", stdout(&out));
    let outside = h.dir.path().join("secret-plan.txt");
    let out = h.claw(&["tool", "call", "fs__read_text_file", &serde_json::json!({"path": outside}).to_string()]);
    assert!(!out.status.success() && !stdout(&out).contains("not for the server"), "{}", stdout(&out));
    assert!(stderr(&out).contains("MCP tool `fs__read_text_file` failed"), "{}", stderr(&out));
}

/// Approvals for MCP tools: a tool the server does not mark harmless
/// (MCP's default is that it may destroy) waits for a person, one marked
/// read-only runs; `--approval always` asks for every call; with
/// `--approval never`, a tool not marked read-only still waits once
/// content from outside is in the turn (the data-flow policy).
#[test]
fn destructive_mcp_tools_wait_for_a_person_by_default_and_read_only_ones_run() {
    let h = TestHome::new();
    let notes = h.dir.path().join("notes");
    std::fs::create_dir(&notes).unwrap();
    let target = notes.join("todo.md");
    std::fs::write(&target, "- buy milk\n").unwrap();
    let server = format!(
        "node {}/@modelcontextprotocol/server-filesystem/dist/index.js {}",
        modules().display(),
        notes.display()
    );
    ok(&add(&h, "fs", &server, &["--dir", notes.to_str().unwrap()]), "mcp add");
    let tools = stdout(&h.claw(&["mcp", "tools", "fs"]));
    let line = |name: &str| tools.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
    assert!(line("fs__write_file ").contains("(asks a person)"), "{tools}");
    assert!(line("fs__read_text_file ").contains("(read-only)"), "{tools}");
    let read = serde_json::json!({"path": target}).to_string();
    let write = serde_json::json!({"path": target, "content": "- sell milk\n"}).to_string();
    let call = |id: &str, tool: &str, args: &str| Step::ToolCalls(vec![(id.into(), tool.into(), args.into())]);
    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            call("r1", "fs__read_text_file", &read),
            call("w1", "fs__write_file", &write),
            Step::Text("it waits".into()),
            call("r2", "fs__read_text_file", &read),
            Step::Text("waits".into()),
            call("r3", "fs__read_text_file", &read),
            call("w3", "fs__write_file", &write),
            Step::Text("held".into()),
        ],
    );
    install_router(&h);
    add_provider(&h, "local", "openai", &llm, &[]);
    ok(&h.claw(&["chat", "-m", "change my list"]), "chat");
    let after_read = llm.requests()[1].last_message_text();
    assert!(after_read.contains("buy milk"), "the read-only tool ran unasked: {after_read}");
    let after_write = llm.requests()[2].last_message_text();
    assert!(after_write.contains("the tool `fs__write_file` needs a person's approval"), "{after_write}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "- buy milk\n", "nothing was written");
    let list = stdout(&h.claw(&["approvals", "list"]));
    assert!(list.contains("call fs__write_file with"), "{list}");

    // Every call, read-only ones too.
    ok(&h.claw(&["mcp", "rm", "fs"]), "mcp rm");
    ok(&add(&h, "fs", &server, &["--dir", notes.to_str().unwrap(), "--approval", "always"]), "mcp add always");
    ok(&h.claw(&["chat", "-m", "read it", "--conversation", "b"]), "chat always");
    let told = llm.requests()[4].last_message_text();
    assert!(told.contains("the tool `fs__read_text_file` needs a person's approval"), "{told}");

    // None asked; but once the file's text is in the turn, a tool not
    // marked read-only waits all the same (the data-flow policy).
    ok(&h.claw(&["mcp", "rm", "fs"]), "mcp rm");
    ok(&add(&h, "fs", &server, &["--dir", notes.to_str().unwrap(), "--approval", "never"]), "mcp add never");
    ok(&h.claw(&["chat", "-m", "read, then write", "--conversation", "c"]), "chat never");
    assert!(llm.requests()[6].last_message_text().contains("buy milk"), "the read ran unasked");
    let held = llm.requests()[7].last_message_text();
    assert!(
        held.contains("because the turn holds content from outside (MCP server fs tool fs__read_text_file)"),
        "{held}"
    );
    assert!(held.contains("an MCP tool not marked read-only"), "{held}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "- buy milk\n", "nothing was written");
}

/// Broken servers: one that is not there, one that hangs, one that
/// answers what is not JSON-RPC, one that speaks another protocol
/// version. Each is a clear error naming the server, and nothing is saved.
#[test]
fn broken_servers_are_clear_errors_and_nothing_is_saved() {
    let h = TestHome::new();
    let cases: [(&str, &str, &str); 4] = [
        ("/no/such/server --stdio", "cannot start `/no/such/server`", "did not start"),
        ("/usr/bin/sleep 600", "within 1.5 s", "did not answer the MCP handshake"),
        // rmcp skips a line that is not JSON-RPC: the handshake never completes.
        (
            "/usr/bin/bash -c 'read line; echo this is not json-rpc; sleep 5'",
            "within 1.5 s",
            "did not answer the MCP handshake",
        ),
        (
            r#"/usr/bin/bash -c 'read line; echo "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"protocolVersion\":\"1999-01-01\",\"capabilities\":{},\"serverInfo\":{\"name\":\"old\",\"version\":\"1\"}}}"; sleep 5'"#,
            "protocol version `1999-01-01`; claw speaks",
            "did not complete the MCP handshake",
        ),
    ];
    for (command, detail, head) in cases {
        let out = h.claw(&["mcp", "add", "broken", "--command", command, "--timeout-ms", "1500"]);
        assert!(!out.status.success(), "{command}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains(head) && err.contains(detail), "{command}: {err}");
        assert!(err.contains("hint:"), "{command}: {err}");
        assert!(!h.home.config.join("mcp.toml").exists(), "{command}: a broken server was saved");
    }
    let out = h.claw(&["mcp", "add", "Bad.Name", "--command", "x"]);
    assert!(stderr(&out).contains("not a valid MCP server name"), "{}", stderr(&out));
    let out = h.claw(&["mcp", "add", "s", "--command", "x", "--env", "T=secret:absent"]);
    assert!(stderr(&out).contains("vault secret `absent`, which is not set"), "{}", stderr(&out));
    assert!(stderr(&out).contains("claw secret set absent"), "{}", stderr(&out));
    let out = h.claw(&["mcp", "rm", "nothing"]);
    assert!(stderr(&out).contains("no MCP server named `nothing`"), "{}", stderr(&out));
}

/// A call that outlives its timeout ends with an error the LLM reads; the
/// turn goes on, and the server serves the next call.
#[test]
fn a_call_past_its_timeout_fails_and_the_turn_goes_on() {
    let h = TestHome::new();
    ok(&add(&h, "everything", &everything(), &["--timeout-ms", "2000"]), "mcp add");
    let llm = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::ToolCalls(vec![(
                "c1".into(),
                "everything__trigger-long-running-operation".into(),
                r#"{"duration": 30, "steps": 3}"#.into(),
            )]),
            Step::ToolCalls(vec![("c2".into(), "everything__echo".into(), r#"{"message": "still here"}"#.into())]),
            Step::Text("Done after the timeout.".into()),
        ],
    );
    install_router(&h);
    add_provider(&h, "local", "openai", &llm, &[]);
    let started = std::time::Instant::now();
    let out = h.claw(&["chat", "-m", "run the long thing"]);
    ok(&out, "chat");
    assert!(started.elapsed() < std::time::Duration::from_secs(25), "the call was not cut at its timeout");
    let requests = llm.requests();
    assert!(requests[1].last_message_text().contains("did not answer the call"), "{}", requests[1].last_message_text());
    assert!(only_wrapped(&requests[2].all_text(), "Echo: still here"), "{}", requests[2].all_text());
}

/// A stdio server on the official SDK: `grow` adds the tool `grown` (the
/// SDK then sends `notifications/tools/list_changed`).
const CHANGING: &str = r#"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
const server = new McpServer({ name: "grower", version: "1.0.0" });
server.registerTool("grow", { description: "Adds a tool." }, async () => {
  // Read-only: it runs after grow's result is in the turn (the data-flow policy holds others).
  server.registerTool("grown", { description: "The new tool.", annotations: { readOnlyHint: true } }, async () => ({
    content: [{ type: "text", text: "the grown tool ran" }],
  }));
  return { content: [{ type: "text", text: "grew a tool" }] };
});
await server.connect(new StdioServerTransport());
"#;

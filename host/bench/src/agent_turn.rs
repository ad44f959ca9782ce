//! `agent-turn`: one full turn with one tool call against a local scripted
//! OpenAI-compatible server — context assembly, two router calls (each a
//! fresh composed-router instance whose request crosses the boundary with
//! the key injected), the tool call, and the session writes — minus the
//! time the server itself spent answering.

use super::{Stats, guest, read_request, stats};
use anyhow::Result;
use claw::agent::Agent;
use claw::components::{Plug, compose};
use claw::home::Home;
use claw::llm::{Kind, Provider, Providers};
use claw::runtime::Runtime;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt as _;

/// Answers a request whose last message is from the user with a call of
/// `echo`, and one whose last message is a tool result with text. Adds up
/// the time from request read to response written.
pub(super) async fn scripted_server(busy: Arc<Mutex<Duration>>, text_only: bool) -> Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { continue };
            let busy = busy.clone();
            tokio::spawn(async move {
                let Some((buf, body_start)) = read_request(&mut s).await else { return };
                let t = Instant::now();
                let request: serde_json::Value = serde_json::from_slice(&buf[body_start..]).unwrap_or_default();
                let last_is_tool = text_only
                    || request["messages"].as_array().and_then(|m| m.last()).is_some_and(|m| m["role"] == "tool");
                let message = if last_is_tool {
                    serde_json::json!({"role": "assistant", "content": "done"})
                } else {
                    serde_json::json!({"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "echo", "arguments": "{\"text\": \"hi\"}"}}]})
                };
                let last_says = |w: &str| {
                    request["messages"]
                        .as_array()
                        .and_then(|m| m.last())
                        .is_some_and(|m| m["content"].as_str().is_some_and(|c| c.contains(w)))
                };
                if request["stream"] == true && last_is_tool && last_says("slowly") {
                    // Streamed (`ttft`): the first token at once, the rest
                    // later; `busy` counts the time to the first token only.
                    let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
                        let c = serde_json::json!({"id": "x", "object": "chat.completion.chunk", "model": "bench",
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
                        format!("data: {c}\n\n")
                    };
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
                    let first =
                        chunk(serde_json::json!({"role": "assistant", "content": "Hi"}), serde_json::Value::Null);
                    let _ = s.write_all(format!("{head}{first}").as_bytes()).await;
                    let _ = s.flush().await;
                    *busy.lock().unwrap() += t.elapsed();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let rest = chunk(serde_json::json!({"content": " there, done"}), serde_json::Value::Null);
                    let end = chunk(serde_json::json!({}), serde_json::json!("stop"));
                    let _ = s.write_all(format!("{rest}{end}data: [DONE]\n\n").as_bytes()).await;
                    return;
                }
                let _ = s.write_all(completion(&message).as_bytes()).await;
                *busy.lock().unwrap() += t.elapsed();
            });
        }
    });
    Ok(port)
}

/// A whole HTTP response: a chat completion whose one choice is `message`.
pub(super) fn completion(message: &serde_json::Value) -> String {
    let body = serde_json::json!({"id": "x", "object": "chat.completion", "model": "bench",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5}})
    .to_string();
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// What `agent-turn` measured.
pub(super) struct Turn {
    /// Host overhead per turn, ms.
    pub overhead: Stats,
    /// The server's own time per turn, µs.
    pub server_us: f64,
    /// One router request alone, p50 ms (server time subtracted).
    pub router_ms: f64,
    /// The context's memory recall, p50 ms.
    pub recall_ms: f64,
}

/// A home with the scripted provider (its key in the vault), the composed
/// router and echo; the runtime, the server's busy time and the providers.
pub(super) fn setup(
    tokio: &tokio::runtime::Runtime,
    home: &Home,
    text_only: bool,
) -> Result<(Arc<Runtime>, Arc<Mutex<Duration>>, Providers)> {
    let busy = Arc::new(Mutex::new(Duration::ZERO));
    let port = tokio.block_on(scripted_server(busy.clone(), text_only))?;
    let (rt, providers) = setup_on(tokio, home, port)?;
    Ok((rt, busy, providers))
}

/// A home whose one provider is the server on `port` (its key in the
/// vault), with the composed router and echo installed.
pub(super) fn setup_on(tokio: &tokio::runtime::Runtime, home: &Home, port: u16) -> Result<(Arc<Runtime>, Providers)> {
    let mut providers = Providers::default();
    providers
        .add(Provider {
            name: "local".into(),
            kind: Kind::Openai,
            base_url: format!("http://127.0.0.1:{port}/v1"),
            model: "bench".into(),
            credential: Some("bench_key".into()),
            timeout_ms: 10_000,
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    providers.save(home)?;
    let mut vault = claw::vault::Vault::open(home, true).map_err(|e| anyhow::anyhow!("{e}"))?;
    vault.set("bench_key", b"sk-bench-0123456789abcdef0123456789").map_err(|e| anyhow::anyhow!("{e}"))?;
    drop(vault);

    let rt = Runtime::open(home)?;
    let plug = |import: &str, file: &str| -> Result<Plug> {
        Ok(Plug {
            import: Some(import.into()),
            only: Vec::new(),
            file: file.into(),
            bytes: std::fs::read(guest(file)?)?,
        })
    };
    let router = compose(
        &std::fs::read(guest("llm_router")?)?,
        "llm_router",
        &[plug("openai", "llm_openai")?, plug("anthropic", "llm_anthropic")?],
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let router_grant = "[providers]\nuse = true\n[limits]\ntimeout_ms = 60000\n".to_string();
    for (name, file, bytes, grant) in [
        ("llm-router", "llm_router", router, router_grant),
        ("echo", "echo", std::fs::read(guest("echo")?)?, String::new()),
    ] {
        let prepared = tokio.block_on(rt.prepare(name, file, bytes, grant, "bench".into(), || {}))?;
        rt.commit(prepared, false)?;
    }
    rt.reload_vault();
    Ok((rt, providers))
}

/// Per-turn host overhead, with a breakdown.
pub(super) fn agent_turn(iterations: usize) -> Result<Turn> {
    let dir = tempfile::tempdir()?;
    let home = Home::at(dir.path());
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (rt, busy, providers) = setup(&tokio, &home, false)?;
    let agent = Agent::new(rt.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let warmup = iterations / 10;
    let mut samples = Vec::with_capacity(iterations);
    let mut server_total = Duration::ZERO;
    tokio.block_on(async {
        for i in 0..iterations + warmup {
            let before = *busy.lock().unwrap();
            let t = Instant::now();
            // A new conversation per turn: the context stays the same size.
            let reply = agent.turn("bench", &format!("c{i}"), "say hi through echo").await?;
            let elapsed = t.elapsed();
            anyhow::ensure!(reply.text == "done" && reply.tool_calls == 1, "unexpected turn: {reply:?}");
            let server = *busy.lock().unwrap() - before;
            if i >= warmup {
                samples.push(elapsed.saturating_sub(server));
                server_total += server;
            }
        }
        Ok(())
    })?;
    let server_per_turn_us = server_total.as_secs_f64() * 1e6 / iterations as f64;

    // Breakdown: one router request alone, and the context's memory recall.
    let request = claw::llm::ChatRequest {
        messages: vec![claw::llm::Message::text(claw::llm::Role::User, "hi")],
        tools: Vec::new(),
        providers: providers.list.iter().map(|p| p.to_wire()).collect(),
        model: None,
        max_tokens: None,
        stream: false,
    };
    let mut router = Vec::new();
    let mut recall = Vec::new();
    tokio.block_on(async {
        let memory = rt.services().memory.get().await.map_err(|e| anyhow::anyhow!(e))?;
        for _ in 0..iterations {
            let before = *busy.lock().unwrap();
            let t = Instant::now();
            rt.complete(&request).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            router.push(t.elapsed().saturating_sub(*busy.lock().unwrap() - before));
            let t = Instant::now();
            memory.search("say hi through echo", 4, "").await?;
            recall.push(t.elapsed());
        }
        anyhow::Ok(())
    })?;
    Ok(Turn {
        overhead: stats(samples, 1e3),
        server_us: server_per_turn_us,
        router_ms: stats(router, 1e3).p50,
        recall_ms: stats(recall, 1e3).p50,
    })
}

//! `toolgen`: from `claw tool generate` to a loaded tool with a scripted
//! LLM — the request through the router, the offline build, the checks and
//! examples, the review saved, the approval's install — and the build's
//! share of it. The first generation builds the SDK's dependencies into a
//! fresh target dir (cold); the rest reuse it (warm).

use super::{Stats, read_request, stats};
use anyhow::Result;
use claw::home::Home;
use claw::toolgen::{Builder, Generator};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt as _;

/// The tool the scripted LLM writes: shout, with two examples.
const SOURCE: &str = r#"
use claw_sdk::{Context, Error, Tool, export_tool, schemars, serde};

/// Parameters of the tool.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct Shout {
    /// The text to shout.
    text: String,
}

impl Tool for Shout {
    const DESCRIPTION: &'static str = "Return the text in capitals.";
    type Output = String;

    fn execute(self, _ctx: &Context) -> Result<String, Error> {
        if self.text.is_empty() {
            return Err(Error::invalid_params("text must not be empty"));
        }
        Ok(self.text.to_uppercase())
    }
}

export_tool!(Shout);
"#;

/// Answers every chat request with the tool's source.
async fn scripted_author() -> Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let answer = serde_json::json!({"files": {"src/lib.rs": SOURCE}, "grant": "",
        "examples": [{"params": {"text": "hi"}, "output": "HI"}, {"params": {"text": ""}, "error": "empty"}]})
    .to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { continue };
            let answer = answer.clone();
            tokio::spawn(async move {
                if read_request(&mut s).await.is_none() {
                    return;
                }
                let message = serde_json::json!({"role": "assistant", "content": answer});
                let _ = s.write_all(super::agent_turn::completion(&message).as_bytes()).await;
            });
        }
    });
    Ok(port)
}

/// What `toolgen` measured.
pub(super) struct Generated {
    /// The first generation (a fresh target dir), ms, and its build's ms.
    pub cold_ms: f64,
    pub cold_build_ms: f64,
    /// The rest, ms.
    pub warm: Stats,
    /// The warm builds' p50, ms.
    pub warm_build_ms: f64,
}

/// Generate, approve and call `iterations + 1` tools.
pub(super) fn toolgen(iterations: usize) -> Result<Generated> {
    let dir = tempfile::tempdir()?;
    let home = Home::at(dir.path());
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let port = tokio.block_on(scripted_author())?;
    let (rt, _providers) = super::agent_turn::setup_on(&tokio, &home, port)?;
    let sdk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sdk").canonicalize()?;
    let builder = Builder { sdk, target_dir: dir.path().join("toolgen-target"), timeout: Duration::from_secs(900) };
    let generator = Generator { runtime: &rt, builder, rounds: 1 };
    let mut totals = Vec::new();
    let mut builds = Vec::new();
    tokio.block_on(async {
        for i in 0..=iterations {
            let name = format!("shout-{i}");
            let t = Instant::now();
            let waiting = generator
                .generate(&name, "Return the text in capitals", "bench", &|_| {})
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            claw::toolgen::approve::install(&rt, &name).await?;
            let took = t.elapsed();
            let out = rt.call(&name, r#"{"text": "loaded"}"#).await?;
            anyhow::ensure!(out == "\"LOADED\"", "the generated tool answered {out}");
            totals.push(took);
            builds.push(Duration::from_millis(waiting.review.build_ms));
        }
        anyhow::Ok(())
    })?;
    let cold_ms = totals.remove(0).as_secs_f64() * 1e3;
    let cold_build_ms = builds.remove(0).as_secs_f64() * 1e3;
    let warm_build_ms = stats(builds, 1e3).p50;
    Ok(Generated { cold_ms, cold_build_ms, warm: stats(totals, 1e3), warm_build_ms })
}

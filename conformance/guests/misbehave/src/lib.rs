//! A tool that misbehaves on request, so the host's limits can be tested:
//! each way must end in a clear error while the host keeps serving.

use claw_sdk::{Context, Error, Tool, export_tool, http, schemars, serde};

/// Parameters of `misbehave`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct Misbehave {
    /// One of: trap, loop, grow, big-output, ok, env, file, fields.
    how: String,
    /// Size in bytes for big-output.
    #[serde(default)]
    bytes: usize,
    /// A URL to GET first: tells a test the guest is about to misbehave.
    #[serde(default)]
    signal: Option<String>,
}

impl Tool for Misbehave {
    const DESCRIPTION: &'static str = "Conformance: misbehave on purpose.";
    type Output = String;

    fn execute(self, _ctx: &Context) -> Result<String, Error> {
        if let Some(url) = &self.signal {
            let req = http::Request {
                method: "GET".into(),
                url: url.clone(),
                headers: Vec::new(),
                body: Vec::new(),
                max_response_bytes: 1024,
                timeout_ms: None,
            };
            http::send(&req)?;
        }
        match self.how.as_str() {
            "trap" => panic!("misbehave: deliberate trap"),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut block = vec![0u8; 16 << 20];
                    block[0] = 1;
                    hoard.push(std::hint::black_box(block));
                }
            }
            "big-output" => Ok("x".repeat(self.bytes)),
            // The sandbox has no environment and no files: both must come back empty.
            "env" => Ok(format!("{:?}", std::env::vars().collect::<Vec<_>>())),
            "file" => Ok(match std::fs::read_to_string("/etc/passwd") {
                Ok(s) => format!("READ {} bytes", s.len()),
                Err(e) => format!("no file: {e}"),
            }),
            // Host-side resources: HTTP header maps held by the host, not in
            // the guest's linear memory (20,000 × 30 KB = 600 MB if the host
            // let it).
            "fields" => {
                use claw_sdk::claw_client::bindings::wasi::http::types::Fields;
                let value = vec![b'a'; 30_000];
                let mut hoard = Vec::new();
                for i in 0..20_000 {
                    let f = Fields::new();
                    if f.append("x-big", &value).is_err() {
                        return Ok(format!("refused at {i}"));
                    }
                    hoard.push(f);
                }
                Ok(format!("made {}", hoard.len()))
            }
            "ok" => Ok("fine".into()),
            other => Err(Error::invalid_params(format!("unknown how `{other}`"))),
        }
    }
}

export_tool!(Misbehave);

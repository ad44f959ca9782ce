//! Conformance: sends exactly the HTTP request it is given — any method,
//! URL, headers and body — and optionally follows redirects itself. The
//! attack table in the host's tests drives it: every escape it tries must
//! be stopped at the boundary, and every benign request must pass.

use claw_sdk::{Context, Error, Tool, export_tool, http, schemars, serde, serde_json};

/// Parameters of `raw-http`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct RawHttp {
    /// HTTP method (default GET).
    #[serde(default)]
    method: Option<String>,
    /// The URL, sent as is.
    url: String,
    /// Headers, as [name, value] pairs.
    #[serde(default)]
    headers: Vec<(String, String)>,
    /// The body (text).
    #[serde(default)]
    body: String,
    /// Follow up to this many redirects by sending the next hop itself.
    #[serde(default)]
    follow: u32,
}

impl Tool for RawHttp {
    const DESCRIPTION: &'static str = "Conformance: send an arbitrary HTTP request.";
    type Output = serde_json::Value;

    fn execute(self, _ctx: &Context) -> Result<serde_json::Value, Error> {
        let mut url = self.url.clone();
        let mut hops = Vec::new();
        for _ in 0..=self.follow {
            let req = http::Request {
                method: self.method.clone().unwrap_or_else(|| "GET".into()),
                url: url.clone(),
                headers: self.headers.clone(),
                body: self.body.clone().into_bytes(),
                max_response_bytes: 1 << 20,
                timeout_ms: None,
            };
            let resp = http::send(&req)?;
            let location = resp.header("location").map(str::to_string);
            hops.push(serde_json::json!({
                "url": url,
                "status": resp.status,
                "body": String::from_utf8_lossy(&resp.body),
                "headers": resp.headers,
            }));
            match location {
                Some(next) if (300..400).contains(&resp.status) => url = next,
                _ => break,
            }
        }
        Ok(serde_json::json!({ "hops": hops }))
    }
}

export_tool!(RawHttp);

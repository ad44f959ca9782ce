//! `http-fetch`: GET a URL the grant allows and return its text.

use claw_sdk::{Context, Error, Tool, export_tool, http, schemars, serde};

/// The most a caller may ask for, whatever `max_bytes` says.
const HARD_CAP: usize = 1 << 20;

/// Parameters of `http-fetch`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct Fetch {
    /// The http:// or https:// URL to GET. Only hosts in this tool's grant are reachable.
    url: String,
    /// Return at most this many bytes of the body (default 65536, at most 1048576).
    #[serde(default)]
    max_bytes: Option<usize>,
}

/// What `http-fetch` returns.
#[derive(serde::Serialize)]
#[serde(crate = "claw_sdk::serde")]
struct Page {
    status: u16,
    content_type: Option<String>,
    /// The body as text (invalid UTF-8 replaced).
    text: String,
    /// True when the body was longer than `max_bytes` and was cut.
    truncated: bool,
}

impl Tool for Fetch {
    const DESCRIPTION: &'static str =
        "Fetch a web page or API response by URL (HTTP GET) and return its status, content type and text.";
    type Output = Page;

    fn execute(self, _ctx: &Context) -> Result<Page, Error> {
        let cap = self.max_bytes.unwrap_or(64 * 1024).min(HARD_CAP);
        let mut req = http::Request::get(&self.url).header("accept", "text/*, application/json;q=0.9, */*;q=0.5");
        req.max_response_bytes = cap;
        let resp = http::send(&req)?;
        Ok(Page {
            status: resp.status,
            content_type: resp.header("content-type").map(str::to_string),
            text: String::from_utf8_lossy(&resp.body).into_owned(),
            truncated: resp.truncated,
        })
    }
}

export_tool!(Fetch);

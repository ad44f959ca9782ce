//! `http-fetch`: GET a URL the grant allows and return its text.

use claw_sdk::{Context, Error, Tool, export_tool, http, schemars, serde};

/// How much of the body a call returns when it does not say.
const DEFAULT_MAX_BYTES: usize = 64 * 1024;
/// The most a caller may ask for, whatever `max_bytes` says.
const HARD_CAP: usize = 1 << 20;
/// Prefer text, then JSON; take anything.
const ACCEPT: &str = "text/*, application/json;q=0.9, */*;q=0.5";

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

impl Fetch {
    /// The GET this call sends: the URL as given, reading at most
    /// `max_bytes` of the body (the default when unset, never over
    /// [`HARD_CAP`]).
    fn request(&self) -> http::Request {
        let cap = self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES).min(HARD_CAP);
        http::Request::get(&self.url).header("accept", ACCEPT).with_max_response_bytes(cap)
    }
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

impl From<http::Response> for Page {
    fn from(resp: http::Response) -> Self {
        Page {
            status: resp.status,
            content_type: resp.header("content-type").map(str::to_string),
            text: String::from_utf8_lossy(&resp.body).into_owned(),
            truncated: resp.truncated,
        }
    }
}

impl Tool for Fetch {
    const DESCRIPTION: &'static str =
        "Fetch a web page or API response by URL (HTTP GET) and return its status, content type and text.";
    type Output = Page;

    fn execute(self, _ctx: &Context) -> Result<Page, Error> {
        Ok(Page::from(http::send(&self.request())?))
    }
}

export_tool!(Fetch);

#[cfg(test)]
mod tests {
    use super::*;
    use claw_sdk::ErrorKind;
    use claw_sdk::bindings::Guest;
    use claw_sdk::serde_json::{self, Value, json};

    fn ctx() -> Context {
        Context { call_id: "c1".into(), tool: "http-fetch".into(), caller: None, depth: 0 }
    }

    fn fetch(url: &str, max_bytes: Option<usize>) -> Fetch {
        Fetch { url: url.to_string(), max_bytes }
    }

    fn response(headers: &[(&str, &str)], body: &[u8], truncated: bool) -> http::Response {
        http::Response {
            status: 200,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.to_vec(),
            truncated,
        }
    }

    #[test]
    fn the_request_is_a_bodiless_get_of_the_url_as_given() {
        let url = "https://example.com/a%20b/c?q=1&r=two#part";
        let req = fetch(url, None).request();
        assert_eq!(req.method, "GET");
        assert_eq!(req.url, url);
        assert!(req.body.is_empty());
        assert_eq!(req.headers, vec![("accept".to_string(), ACCEPT.to_string())]);
        // The time limit is the grant's, applied by the host.
        assert_eq!(req.timeout_ms, None);
    }

    #[test]
    fn the_body_cap_defaults_to_64_kib_and_never_exceeds_1_mib() {
        let cap = |max_bytes| fetch("https://h/", max_bytes).request().max_response_bytes;
        assert_eq!(cap(None), 65_536);
        assert_eq!(cap(Some(0)), 0);
        assert_eq!(cap(Some(10)), 10);
        assert_eq!(cap(Some(1_048_576)), 1_048_576);
        assert_eq!(cap(Some(1_048_577)), 1_048_576);
        assert_eq!(cap(Some(usize::MAX)), 1_048_576);
    }

    #[test]
    fn parameters_are_a_url_and_an_optional_byte_count() {
        let p: Fetch = serde_json::from_str(r#"{"url": "https://h/"}"#).unwrap();
        assert_eq!((p.url.as_str(), p.max_bytes), ("https://h/", None));
        let p: Fetch = serde_json::from_str(r#"{"url": "https://h/", "max_bytes": null}"#).unwrap();
        assert_eq!(p.max_bytes, None);
        let p: Fetch = serde_json::from_str(r#"{"url": "https://h/", "max_bytes": 100}"#).unwrap();
        assert_eq!(p.max_bytes, Some(100));
        for bad in [
            r#"{}"#,
            r#"{"max_bytes": 100}"#,
            r#"{"url": 7}"#,
            r#"{"url": "https://h/", "max_bytes": -1}"#,
            r#"{"url": "https://h/", "max_bytes": 1.5}"#,
            r#"{"url": "https://h/", "max_bytes": "100"}"#,
            // Nothing beyond the URL reaches the request: no method, no headers, no body.
            r#"{"url": "https://h/", "method": "POST"}"#,
            r#"{"url": "https://h/", "headers": {"authorization": "x"}}"#,
            r#"{"url": "https://h/", "body": "x"}"#,
        ] {
            assert!(serde_json::from_str::<Fetch>(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn the_schema_requires_the_url_and_states_the_real_limits() {
        let schema: Value = serde_json::from_str(&<claw_sdk::Export<Fetch> as Guest>::parameters_schema()).unwrap();
        assert_eq!(schema["required"], json!(["url"]));
        assert_eq!(schema["additionalProperties"], json!(false));
        let doc = schema["properties"]["max_bytes"]["description"].as_str().unwrap();
        assert!(doc.contains(&format!("default {DEFAULT_MAX_BYTES}")), "{doc}");
        assert!(doc.contains(&format!("at most {HARD_CAP}")), "{doc}");
    }

    #[test]
    fn urls_that_are_not_http_are_invalid_params_before_anything_is_sent() {
        // `http::send` checks the URL before it calls the host, so this
        // runs natively. Were a bad URL to reach the host's imports, their
        // native stubs (`unreachable!` in an `extern "C"` fn) would abort
        // the test binary, naming this test.
        for url in ["ftp://example.com/", "file:///etc/passwd", "example.com/page", "https:///no-host", ""] {
            let err = fetch(url, None).execute(&ctx()).err().unwrap();
            assert_eq!(err.kind, ErrorKind::InvalidParams, "{url}: {err}");
            assert!(err.message.contains(&format!("`{url}`")), "{url}: {err}");
        }
    }

    #[test]
    fn the_page_carries_status_content_type_text_and_truncation() {
        let mut resp = response(&[("Server", "x"), ("Content-Type", "text/html; charset=utf-8")], b"<p>hi</p>", true);
        resp.status = 404;
        let page = Page::from(resp);
        assert_eq!(page.status, 404);
        assert_eq!(page.content_type.as_deref(), Some("text/html; charset=utf-8"));
        assert_eq!(page.text, "<p>hi</p>");
        assert!(page.truncated);

        let page = Page::from(response(&[], b"", false));
        assert_eq!((page.content_type, page.text.as_str(), page.truncated), (None, "", false));
    }

    #[test]
    fn invalid_utf8_in_the_body_is_replaced_not_refused() {
        // A cap can cut a character in half: "é" is c3 a9.
        let page = Page::from(response(&[], b"caf\xc3\xa9 \xff and caf\xc3", true));
        assert_eq!(page.text, "café \u{fffd} and caf\u{fffd}");
    }

    #[test]
    fn the_output_has_four_fields_and_null_for_no_content_type() {
        let out = serde_json::to_value(Page::from(response(&[], b"ok", false))).unwrap();
        assert_eq!(out, json!({"status": 200, "content_type": null, "text": "ok", "truncated": false}));
    }
}

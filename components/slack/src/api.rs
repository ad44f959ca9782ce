//! Slack's Web API: `POST {api}/{method}` with JSON. The bot token is
//! never known here: the host's boundary adds the Authorization header.

use claw_client::http::{Request, send};
use serde_json::Value;

/// The API's base URL, from the environment the grant sets.
pub fn base() -> String {
    std::env::var("SLACK_API").unwrap_or_else(|_| "https://slack.com/api".into()).trim_end_matches('/').to_string()
}

/// Call `method`; its reply when `ok`.
pub fn call(method: &str, body: &Value) -> Result<Value, String> {
    let mut request = Request::post_json(format!("{}/{method}", base()), body.to_string()).with_timeout_ms(15_000);
    // Slack warns `missing_charset` on a JSON body without one; a second
    // content-type header next to post_json's would be ambiguous.
    request.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
    let request = request.header("content-type", "application/json; charset=utf-8");
    let reply = send(&request).map_err(|f| format!("Slack {method}: {}", f.message))?;
    if reply.status == 429 {
        let after = reply.header("retry-after").unwrap_or("?");
        return Err(format!("Slack {method}: rate limited (HTTP 429, Retry-After: {after} s)"));
    }
    let v: Value = serde_json::from_slice(&reply.body)
        .map_err(|_| format!("Slack {method}: HTTP {} with a body that is not JSON", reply.status))?;
    error_of(method, &v).map_or(Ok(v), Err)
}

/// The error text of a reply that is not `ok`.
pub fn error_of(method: &str, v: &Value) -> Option<String> {
    (v["ok"] != Value::Bool(true)).then(|| format!("Slack {method}: {}", v["error"].as_str().unwrap_or("not ok")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_reply_that_is_not_ok_names_the_method_and_the_error() {
        assert_eq!(
            error_of("chat.update", &json!({"ok": false, "error": "message_not_found"})).unwrap(),
            "Slack chat.update: message_not_found"
        );
        assert_eq!(error_of("chat.update", &json!({"ok": true})), None);
    }
}

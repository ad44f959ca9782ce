//! Calls to the Bot API: `POST {api}/bot{token}/{method}` with a JSON body,
//! answered by `{"ok": true, "result": ...}` or `{"ok": false, ...}`.

use claw_client::http::{Request, send};
use serde_json::Value;
use std::fmt;

/// Where the token goes in every URL; the host's boundary fills it in, so
/// the component never holds it.
const TOKEN: &str = "{secret:telegram_token}";
/// Seconds a call other than a long poll may take.
const TIMEOUT_MS: u64 = 15_000;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Telegram answered `ok: false`.
    Refused { method: String, code: i64, description: String },
    /// No answer, or one that is not the Bot API's.
    Failed(String),
}

impl Error {
    /// True when Telegram refused the call with a description containing
    /// `needle` (its descriptions are the only way to tell 400s apart).
    pub fn says(&self, needle: &str) -> bool {
        matches!(self, Error::Refused { description, .. } if description.contains(needle))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Refused { method, code, description } => {
                write!(f, "Telegram {method}: {description} (error {code})")
            }
            Error::Failed(message) => f.write_str(message),
        }
    }
}

impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

/// The Bot API at one base URL.
pub struct Bot {
    api: String,
}

impl Bot {
    pub fn new(api: &str) -> Bot {
        Bot { api: api.to_string() }
    }

    /// The URL of `method`, the token left for the boundary to fill in.
    pub fn url(&self, method: &str) -> String {
        format!("{}/bot{TOKEN}/{method}", self.api)
    }

    /// Call `method` with `params`; its `result`.
    pub fn call(&self, method: &str, params: &Value) -> Result<Value, Error> {
        self.call_at(method, self.url(method), params, TIMEOUT_MS)
    }

    /// Call `method` at `url` (which may carry a query), waiting up to
    /// `timeout_ms` for the answer to start.
    pub fn call_at(&self, method: &str, url: String, params: &Value, timeout_ms: u64) -> Result<Value, Error> {
        // A batch of updates may be large; any other answer is small.
        let request = Request::post_json(url, params.to_string()).with_timeout_ms(timeout_ms);
        let request = request.with_max_response_bytes(8 << 20);
        let response = send(&request).map_err(|f| Error::Failed(format!("Telegram {method}: {}", f.message)))?;
        result(method, response.status, &response.body)
    }
}

/// The `result` of a Bot API reply, or why there is none.
pub fn result(method: &str, status: u16, body: &[u8]) -> Result<Value, Error> {
    let reply: Value = serde_json::from_slice(body).map_err(|_| {
        Error::Failed(format!(
            "Telegram {method}: HTTP {status} without a Bot API reply; is TELEGRAM_API the Bot API's address?"
        ))
    })?;
    if reply["ok"] == Value::Bool(true) {
        return Ok(reply.get("result").cloned().unwrap_or(Value::Null));
    }
    let description = reply["description"].as_str().unwrap_or("no description").to_string();
    let code = reply["error_code"].as_i64().unwrap_or(i64::from(status));
    Err(Error::Refused { method: method.to_string(), code, description })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_leave_the_token_to_the_boundary() {
        let bot = Bot::new("http://127.0.0.1:8081");
        assert_eq!(bot.url("getMe"), "http://127.0.0.1:8081/bot{secret:telegram_token}/getMe");
    }

    #[test]
    fn an_ok_reply_gives_its_result() {
        assert_eq!(result("getMe", 200, br#"{"ok":true,"result":{"id":7}}"#).unwrap()["id"], 7);
    }

    #[test]
    fn a_refusal_names_the_method_the_description_and_the_code() {
        let body = br#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#;
        let e = result("sendMessage", 400, body).unwrap_err();
        assert_eq!(e.to_string(), "Telegram sendMessage: Bad Request: chat not found (error 400)");
        assert!(e.says("chat not found") && !e.says("not modified"));
        let e = result("getMe", 401, br#"{"ok":false}"#).unwrap_err();
        assert_eq!(e.to_string(), "Telegram getMe: no description (error 401)");
    }

    #[test]
    fn a_reply_that_is_not_json_says_where_to_look() {
        let e = result("getUpdates", 502, b"<html>bad gateway</html>").unwrap_err();
        assert!(matches!(&e, Error::Failed(m) if m.contains("HTTP 502") && m.contains("TELEGRAM_API")), "{e}");
    }
}

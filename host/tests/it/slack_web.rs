//! A stand-in of Slack's Web API on 127.0.0.1 (chat.postMessage,
//! chat.update, auth.test), answering as Slack does — 200 with `ok:false`
//! and an error name — and checking the bot token on every call; and
//! Slack's v0 request signing, for the webhooks a test sends.

use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::sync::{Arc, Mutex};

/// One call the channel made.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub params: Value,
    pub authorization: Option<String>,
}

/// A message as it stands in a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub ts: String,
    pub thread_ts: Option<String>,
    pub text: String,
}

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    /// (channel, message)
    messages: Vec<(String, Posted)>,
}

pub struct SlackWeb {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl SlackWeb {
    pub fn start(bot_token: &str) -> SlackWeb {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let (shared, want) = (state.clone(), format!("Bearer {bot_token}"));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (state, want) = (shared.clone(), want.clone());
                std::thread::spawn(move || serve(stream, &state, &want));
            }
        });
        SlackWeb { port, state }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.port)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The channel's messages as they stand, in order.
    pub fn messages(&self, channel: &str) -> Vec<Posted> {
        self.state.lock().unwrap().messages.iter().filter(|m| m.0 == channel).map(|m| m.1.clone()).collect()
    }
}

/// Slack's signing headers for `body` at `ts`: `v0=` and the hex
/// HMAC-SHA256 of `v0:{ts}:{body}` under the signing secret.
pub fn sign(secret: &str, ts: i64, body: &str) -> [(String, String); 2] {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    [
        ("x-slack-request-timestamp".into(), ts.to_string()),
        ("x-slack-signature".into(), format!("v0={}", hex::encode(mac.finalize().into_bytes()))),
    ]
}

fn serve(stream: std::net::TcpStream, state: &Mutex<State>, want: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    let _ = reader.read_line(&mut first);
    let target = first.split(' ').nth(1).unwrap_or_default().to_string();
    let (mut len, mut authorization) = (0, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => len = value.trim().parse().unwrap_or(0),
            "authorization" => authorization = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    let method = target.strip_prefix("/api/").unwrap_or_default().to_string();
    let params: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let answer = call(
        state,
        Call { method, params, authorization: authorization.clone() },
        authorization.as_deref() == Some(want),
    );
    let text = answer.to_string();
    let mut stream = stream;
    let _ = stream.write_all(
        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}", text.len())
            .as_bytes(),
    );
}

fn call(state: &Mutex<State>, c: Call, authorized: bool) -> Value {
    let mut s = state.lock().unwrap();
    let (method, p) = (c.method.clone(), c.params.clone());
    s.calls.push(c);
    if !authorized {
        return json!({"ok": false, "error": "invalid_auth"});
    }
    let (Some(channel), text) = (p["channel"].as_str(), p["text"].as_str()) else {
        return match method.as_str() {
            "auth.test" => json!({"ok": true, "user_id": "UBOT", "bot_id": "B1"}),
            _ => json!({"ok": false, "error": "channel_not_found"}),
        };
    };
    match (method.as_str(), text) {
        ("chat.postMessage", Some(text)) => {
            let ts = format!("1700000000.{:06}", s.messages.len() + 1);
            let thread_ts = p["thread_ts"].as_str().map(str::to_string);
            s.messages.push((channel.into(), Posted { ts: ts.clone(), thread_ts, text: text.into() }));
            json!({"ok": true, "channel": channel, "ts": ts})
        }
        ("chat.update", Some(text)) => {
            let ts = p["ts"].as_str().unwrap_or_default();
            match s.messages.iter_mut().find(|m| m.0 == channel && m.1.ts == ts) {
                Some(m) => {
                    m.1.text = text.into();
                    json!({"ok": true, "channel": channel, "ts": ts, "text": text})
                }
                None => json!({"ok": false, "error": "message_not_found"}),
            }
        }
        ("chat.postMessage" | "chat.update", None) => json!({"ok": false, "error": "no_text"}),
        _ => json!({"ok": false, "error": "unknown_method"}),
    }
}

#[test]
fn the_stand_in_checks_the_token_and_signs_as_slack_does() {
    // Slack's own example of a signed request.
    let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let [_, sig] = sign("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body);
    assert_eq!(sig.1, "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503");
    let api = SlackWeb::start("xoxb-1");
    let addr = format!("127.0.0.1:{}", api.port);
    let post = |auth: &str, method: &str, body: Value| {
        let headers = [("authorization", auth), ("content-type", "application/json")];
        let (_, text) =
            crate::routines::http(&addr, "POST", &format!("/api/{method}"), &headers, body.to_string().as_bytes());
        serde_json::from_str::<Value>(&text).unwrap()
    };
    assert_eq!(post("Bearer nope", "chat.postMessage", json!({"channel": "C1", "text": "x"}))["error"], "invalid_auth");
    let v = post("Bearer xoxb-1", "chat.postMessage", json!({"channel": "C1", "text": "draft", "thread_ts": "1.2"}));
    let ts = v["ts"].as_str().unwrap().to_string();
    post("Bearer xoxb-1", "chat.update", json!({"channel": "C1", "ts": ts, "text": "whole"}));
    assert_eq!(api.messages("C1"), [Posted { ts, thread_ts: Some("1.2".into()), text: "whole".into() }]);
    assert_eq!(
        post("Bearer xoxb-1", "chat.update", json!({"channel": "C1", "ts": "9", "text": "x"}))["error"],
        "message_not_found"
    );
}

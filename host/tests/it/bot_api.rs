//! A stand-in of Telegram's Bot API on 127.0.0.1: the methods the channel
//! calls (getMe, getUpdates with Telegram's offset rule, setWebhook,
//! deleteWebhook, sendMessage, editMessageText, sendChatAction), checked
//! the way Telegram checks them — the token in the path, "message is not
//! modified", HTML that must parse — so a test sees what a person would.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One call the channel made.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// The JSON body's parameters.
    pub params: Value,
    /// The query string's parameters.
    pub query: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    updates: Vec<Value>,
    calls: Vec<Call>,
    /// (chat, message id, text as a person reads it)
    messages: Vec<(i64, i64, String)>,
}

pub struct BotApi {
    pub port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl BotApi {
    pub fn start(token: &str) -> BotApi {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let (shared, prefix) = (state.clone(), format!("/bot{token}/"));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (state, prefix) = (shared.clone(), prefix.clone());
                std::thread::spawn(move || serve(stream, &state, &prefix));
            }
        });
        BotApi { port, state }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn push_update(&self, update: Value) {
        self.state.0.lock().unwrap().updates.push(update);
        self.state.1.notify_all();
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.0.lock().unwrap().calls.clone()
    }

    /// Wait for `n` calls of `method`; those calls.
    pub fn wait_for(&self, method: &str, n: usize, timeout: Duration) -> Vec<Call> {
        let deadline = Instant::now() + timeout;
        loop {
            let of: Vec<Call> = self.calls().into_iter().filter(|c| c.method == method).collect();
            if of.len() >= n {
                return of;
            }
            assert!(Instant::now() < deadline, "no {n} {method} calls; the calls: {:?}", self.calls());
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// The chat's messages as they read now, in order.
    pub fn messages(&self, chat: i64) -> Vec<String> {
        self.state.0.lock().unwrap().messages.iter().filter(|m| m.0 == chat).map(|m| m.2.clone()).collect()
    }
}

fn serve(stream: std::net::TcpStream, state: &(Mutex<State>, Condvar), prefix: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    let _ = reader.read_line(&mut first);
    let target = first.split(' ').nth(1).unwrap_or_default().to_string();
    let mut len = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    // A server reads the path decoded (the boundary sends `:` as `%3A`).
    let path = unescape(path);
    let (status, answer) = match path.strip_prefix(prefix) {
        None => (401, json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        Some(method) => {
            let query: HashMap<String, String> =
                query.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_string(), unescape(v))).collect();
            let params: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
            call(state, Call { method: method.to_string(), params, query })
        }
    };
    let text = answer.to_string();
    let reason = if status == 200 { "OK" } else { "Error" };
    let mut stream = stream;
    let _ = stream.write_all(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
            text.len()
        )
        .as_bytes(),
    );
}

fn bad(description: &str) -> (u16, Value) {
    (400, json!({"ok": false, "error_code": 400, "description": format!("Bad Request: {description}")}))
}

fn call(state: &(Mutex<State>, Condvar), c: Call) -> (u16, Value) {
    let p = c.params.clone();
    let method = c.method.clone();
    let mut s = state.0.lock().unwrap();
    s.calls.push(c);
    let ok = |result: Value| (200, json!({"ok": true, "result": result}));
    match method.as_str() {
        "getMe" => ok(json!({"id": 777000111, "is_bot": true, "username": "claw_test_bot", "first_name": "claw"})),
        "getUpdates" => {
            let offset = p["offset"].as_i64().unwrap_or(0);
            // An offset confirms every update below it: they are gone.
            s.updates.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            let wait = Duration::from_secs(p["timeout"].as_u64().unwrap_or(0).min(2));
            let deadline = Instant::now() + wait;
            while s.updates.is_empty() && Instant::now() < deadline {
                s = state.1.wait_timeout(s, deadline - Instant::now()).unwrap().0;
            }
            ok(Value::Array(s.updates.clone()))
        }
        "setWebhook" | "deleteWebhook" | "sendChatAction" => ok(json!(true)),
        "sendMessage" | "editMessageText" => {
            let Some(chat) = p["chat_id"].as_i64() else { return bad("chat not found") };
            let Some(text) = p["text"].as_str() else { return bad("message text is empty") };
            let text = match p["parse_mode"].as_str() {
                Some("HTML") => match read_html(text) {
                    Ok(t) => t,
                    Err(why) => return bad(&format!("can't parse entities: {why}")),
                },
                _ => text.to_string(),
            };
            if method == "sendMessage" {
                let id = s.messages.len() as i64 + 1;
                s.messages.push((chat, id, text.clone()));
                return ok(json!({"message_id": id, "chat": {"id": chat}, "text": text}));
            }
            let id = p["message_id"].as_i64().unwrap_or(0);
            let Some(m) = s.messages.iter_mut().find(|m| m.0 == chat && m.1 == id) else {
                return bad("message to edit not found");
            };
            if m.2 == text {
                return bad("message is not modified: specified new message content is exactly the same");
            }
            m.2.clone_from(&text);
            ok(json!({"message_id": id, "chat": {"id": chat}, "text": text}))
        }
        _ => (404, json!({"ok": false, "error_code": 404, "description": "Not Found"})),
    }
}

/// Telegram's HTML, at its simplest: known tags, balanced; the text a
/// person reads (tags gone, entities decoded).
fn read_html(html: &str) -> Result<String, String> {
    let mut open: Vec<String> = Vec::new();
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('>').ok_or("unclosed tag")? + i;
        let tag = &rest[i + 1..end];
        if let Some(name) = tag.strip_prefix('/') {
            (open.pop().as_deref() == Some(name)).then_some(()).ok_or(format!("unexpected end tag {name}"))?;
        } else {
            let name = tag.split(' ').next().unwrap_or_default();
            ["b", "i", "code", "pre", "a"].contains(&name).then_some(()).ok_or(format!("unsupported tag {name}"))?;
            open.push(name.to_string());
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    if let Some(t) = open.pop() {
        return Err(format!("unclosed tag {t}"));
    }
    Ok(out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&"))
}

fn unescape(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn the_stand_in_checks_what_telegram_checks() {
    let api = BotApi::start("1:T");
    let post = |path: &str, body: Value| {
        let (status, text) = crate::routines::http(
            &format!("127.0.0.1:{}", api.port),
            "POST",
            path,
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        );
        (status, serde_json::from_str::<Value>(&text).unwrap())
    };
    assert_eq!(post("/bot1:X/getMe", json!({})).0, 401);
    api.push_update(json!({"update_id": 5}));
    api.push_update(json!({"update_id": 6}));
    let (_, v) = post("/bot1:T/getUpdates", json!({"offset": 6}));
    assert_eq!(v["result"], json!([{"update_id": 6}]), "an offset drops what is below it");
    let (_, v) = post("/bot1:T/sendMessage", json!({"chat_id": 9, "text": "<b>a &lt; b</b>", "parse_mode": "HTML"}));
    let id = v["result"]["message_id"].as_i64().unwrap();
    assert_eq!(api.messages(9), ["a < b"]);
    let same = post("/bot1:T/editMessageText", json!({"chat_id": 9, "message_id": id, "text": "a < b"}));
    assert!(same.0 == 400 && same.1["description"].as_str().unwrap().contains("not modified"));
    post("/bot1:T/editMessageText", json!({"chat_id": 9, "message_id": id, "text": "b"}));
    assert_eq!(api.messages(9), ["b"]);
    let broken = post("/bot1:T/sendMessage", json!({"chat_id": 9, "text": "<b>x", "parse_mode": "HTML"}));
    assert!(broken.0 == 400 && broken.1["description"].as_str().unwrap().contains("can't parse entities"));
    assert_eq!(post("/bot1:T/setWebhook?secret_token=a%2Fb", json!({"url": "u"})).0, 200);
    assert_eq!(api.calls().last().unwrap().query["secret_token"], "a/b");
}

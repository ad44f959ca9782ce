//! Scripted LLM servers (OpenAI Chat Completions, Anthropic Messages) and a
//! tiny page server, on 127.0.0.1 and spoken to over real sockets, so the
//! product's provider adapters are exercised against what providers send.
//!
//! Each server is a std-thread accept loop, one thread per connection, one
//! request per connection (every response says `connection: close`).
//! Dropping a server stops its accept loop at once and closes any connection
//! a [`Step::Hang`] is holding.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, ErrorKind, Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The wire format a [`LlmServer`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// OpenAI Chat Completions: `POST /v1/chat/completions`.
    OpenAi,
    /// Anthropic Messages: `POST /v1/messages`.
    Anthropic,
}

/// One scripted answer of a [`LlmServer`].
#[derive(Clone, Debug)]
pub enum Step {
    /// Answer with tool calls: (id, name, arguments JSON text — sent verbatim, may be invalid JSON on purpose).
    ToolCalls(Vec<(String, String, String)>),
    /// Answer with text.
    Text(String),
    /// Answer with this HTTP status and a provider-style error body (`retry-after: 0` on 429).
    Status(u16),
    /// Accept the request and never answer (until the test ends / the server drops).
    Hang,
}

/// A request a [`LlmServer`] received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The request target as sent, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Names lower-cased, values trimmed, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The parsed JSON body; `Value::Null` when it did not parse.
    pub body: Value,
}

impl Recorded {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    /// All text content of all messages (system, user, assistant, tool results) concatenated with
    /// newlines, format-aware: Anthropic's top-level `system`, string contents, `text` blocks and
    /// `tool_result` contents. Tool-call arguments are not text.
    pub fn all_text(&self) -> String {
        let mut parts = Vec::new();
        collect_text(&self.body["system"], &mut parts);
        for message in self.messages() {
            collect_text(&message["content"], &mut parts);
        }
        parts.join("\n")
    }

    /// The last message's text: for OpenAI its content; for Anthropic its text or `tool_result`
    /// contents (several pieces joined with newlines).
    pub fn last_message_text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(last) = self.messages().last() {
            collect_text(&last["content"], &mut parts);
        }
        parts.join("\n")
    }

    /// Tool names offered in `tools` (OpenAI `function.name`, Anthropic `name`), in order.
    pub fn tool_names(&self) -> Vec<String> {
        self.body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|tool| tool["function"]["name"].as_str().or_else(|| tool["name"].as_str()))
            .map(str::to_string)
            .collect()
    }

    fn messages(&self) -> &[Value] {
        self.body["messages"].as_array().map(Vec::as_slice).unwrap_or_default()
    }
}

/// Text in a message's `content` (or Anthropic's `system`): a string, or blocks with `text`, or
/// `tool_result` blocks whose `content` is itself a string or blocks.
fn collect_text(content: &Value, out: &mut Vec<String>) {
    match content {
        Value::String(text) => out.push(text.clone()),
        Value::Array(blocks) => {
            for block in blocks {
                if let Some(text) = block["text"].as_str() {
                    out.push(text.to_string());
                } else if block["type"] == "tool_result" {
                    collect_text(&block["content"], out);
                }
            }
        }
        _ => {}
    }
}

/// A scripted LLM provider on 127.0.0.1.
///
/// Every request is recorded. A POST to the format's path with a JSON body takes the next
/// [`Step`] (the last one repeats when the script runs out). A body that is not JSON gets a
/// 400 and another method or path a 404, both with provider-style error bodies and neither
/// taking a step.
pub struct LlmServer {
    script: Arc<Script>,
    serving: Serving,
}

struct Script {
    format: Format,
    steps: Vec<Step>,
    /// Steps taken so far.
    taken: Mutex<usize>,
    requests: Mutex<Vec<Recorded>>,
}

impl LlmServer {
    /// Start a server speaking `format` that answers each POST with the next step (the last step repeats when the
    /// script runs out). Panics on an empty script.
    pub fn start(format: Format, script: Vec<Step>) -> LlmServer {
        assert!(!script.is_empty(), "an LLM script needs at least one step");
        let script = Arc::new(Script { format, steps: script, taken: Mutex::new(0), requests: Mutex::new(Vec::new()) });
        let answering = script.clone();
        let serving = Serving::start(Arc::new(move |request: &Incoming| answering.answer(request)));
        LlmServer { script, serving }
    }

    pub fn port(&self) -> u16 {
        self.serving.port
    }

    /// Base URL as a provider is configured with it: OpenAI `http://127.0.0.1:PORT/v1`, Anthropic the same
    /// (`/v1/chat/completions` and `/v1/messages` are the paths served).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.serving.port)
    }

    /// Every request received so far: method, path, headers (lower-case names), parsed JSON body.
    pub fn requests(&self) -> Vec<Recorded> {
        self.script.requests.lock().unwrap().clone()
    }

    /// How long the server spent answering (from request fully read to response written), summed — the agent-turn
    /// benchmark subtracts it. Hung requests do not count.
    pub fn busy(&self) -> Duration {
        *self.serving.busy.lock().unwrap()
    }
}

impl Script {
    fn answer(&self, request: &Incoming) -> Reply {
        let parsed: Option<Value> = serde_json::from_slice(&request.body).ok();
        self.requests.lock().unwrap().push(Recorded {
            method: request.method.clone(),
            path: request.path.clone(),
            headers: request.headers.clone(),
            body: parsed.clone().unwrap_or(Value::Null),
        });
        let served = match self.format {
            Format::OpenAi => "/v1/chat/completions",
            Format::Anthropic => "/v1/messages",
        };
        let route = request.path.split('?').next().unwrap_or_default();
        if request.method != "POST" || route != served {
            let message = format!("no such endpoint: {} {}", request.method, request.path);
            return Reply::Answer(error_response(self.format, 404, &message));
        }
        let Some(body) = parsed else {
            return Reply::Answer(error_response(self.format, 400, "the request body is not valid JSON"));
        };
        let n = {
            let mut taken = self.taken.lock().unwrap();
            *taken += 1;
            *taken
        };
        let (text, calls) = match &self.steps[(n - 1).min(self.steps.len() - 1)] {
            Step::Hang => return Reply::Hang,
            Step::Status(status) => return Reply::Answer(error_response(self.format, *status, "scripted failure")),
            Step::Text(text) => (Some(text.as_str()), &[][..]),
            Step::ToolCalls(calls) => (None, calls.as_slice()),
        };
        let model = body.get("model").cloned().unwrap_or_else(|| json!("unknown"));
        let output_len = text.map_or(0, str::len)
            + calls.iter().map(|(_, name, arguments)| name.len() + arguments.len()).sum::<usize>();
        let tokens = ((request.body.len() / 4).max(1), (output_len / 4).max(1));
        let body = match self.format {
            Format::OpenAi => openai_completion(n, &model, text, calls, tokens),
            Format::Anthropic => anthropic_message(n, &model, text, calls, tokens),
        };
        Reply::Answer(Response::json(200, Vec::new(), &body))
    }
}

/// A Chat Completions response; `tokens` is (prompt, completion).
fn openai_completion(
    n: usize,
    model: &Value,
    text: Option<&str>,
    calls: &[(String, String, String)],
    (prompt, completion): (usize, usize),
) -> Value {
    let mut message = json!({"role": "assistant", "content": text, "refusal": null});
    if !calls.is_empty() {
        message["tool_calls"] = calls
            .iter()
            .map(|(id, name, arguments)| {
                json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
            })
            .collect();
    }
    json!({
        "id": format!("chatcmpl-{n}"),
        "object": "chat.completion",
        "created": unix_now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": if calls.is_empty() { "stop" } else { "tool_calls" },
        }],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    })
}

/// A Messages response; `tokens` is (input, output). Tool arguments that do not parse as JSON
/// are sent as a JSON string in `input`.
fn anthropic_message(
    n: usize,
    model: &Value,
    text: Option<&str>,
    calls: &[(String, String, String)],
    (input, output): (usize, usize),
) -> Value {
    let mut content: Vec<Value> = text.map(|text| json!({"type": "text", "text": text})).into_iter().collect();
    content.extend(calls.iter().map(|(id, name, arguments)| {
        let input = serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| Value::String(arguments.clone()));
        json!({"type": "tool_use", "id": id, "name": name, "input": input})
    }));
    json!({
        "id": format!("msg_{n}"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": if calls.is_empty() { "end_turn" } else { "tool_use" },
        "stop_sequence": null,
        "usage": {"input_tokens": input, "output_tokens": output},
    })
}

/// An error response as the provider shapes it (`retry-after: 0` on 429).
fn error_response(format: Format, status: u16, message: &str) -> Response {
    let body = match format {
        Format::OpenAi => {
            let (kind, code) = match status {
                401 => ("invalid_request_error", json!("invalid_api_key")),
                429 => ("requests", json!("rate_limit_exceeded")),
                400..=499 => ("invalid_request_error", Value::Null),
                _ => ("server_error", Value::Null),
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
        Format::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
    };
    let extra = if status == 429 { vec![("retry-after", "0".to_string())] } else { Vec::new() };
    Response::json(status, extra, &body)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A tiny HTTP server on 127.0.0.1 serving fixed pages as `text/html`; 404 for unknown paths.
pub struct PageServer {
    hits: Arc<Mutex<Vec<String>>>,
    serving: Serving,
}

impl PageServer {
    /// Serve `pages`, (path, body) pairs, to any method. A path with a query string matches its
    /// page exactly first, then without the query.
    pub fn start(pages: Vec<(&str, &str)>) -> PageServer {
        let pages: Vec<(String, Vec<u8>)> =
            pages.into_iter().map(|(path, body)| (path.to_string(), body.as_bytes().to_vec())).collect();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = hits.clone();
        let serving = Serving::start(Arc::new(move |request: &Incoming| {
            seen.lock().unwrap().push(request.path.clone());
            let route = request.path.split('?').next().unwrap_or_default();
            let page = pages
                .iter()
                .find(|(path, _)| *path == request.path)
                .or_else(|| pages.iter().find(|(path, _)| path.as_str() == route));
            let (status, body) = match page {
                Some((_, body)) => (200, body.clone()),
                None => (404, b"<h1>404 Not Found</h1>".to_vec()),
            };
            Reply::Answer(Response { status, content_type: "text/html; charset=utf-8", extra: Vec::new(), body })
        }));
        PageServer { hits, serving }
    }

    pub fn port(&self) -> u16 {
        self.serving.port
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{}", self.serving.port, path.trim_start_matches('/'))
    }

    /// The paths requested so far (with any query string), in order.
    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

// ---- the HTTP/1.1 plumbing both servers share ----

/// A request as read off the wire.
struct Incoming {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

enum Reply {
    Answer(Response),
    /// Hold the connection, unanswered, until the server stops.
    Hang,
}

struct Response {
    status: u16,
    content_type: &'static str,
    extra: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    fn json(status: u16, extra: Vec<(&'static str, String)>, body: &Value) -> Response {
        Response { status, content_type: "application/json", extra, body: body.to_string().into_bytes() }
    }
}

type Handler = dyn Fn(&Incoming) -> Reply + Send + Sync;

/// An accept loop on 127.0.0.1 handing each connection's request to a handler on its own thread.
struct Serving {
    port: u16,
    stop: Arc<AtomicBool>,
    busy: Arc<Mutex<Duration>>,
    accept: Option<JoinHandle<()>>,
}

impl Serving {
    fn start(handler: Arc<Handler>) -> Serving {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a test server on 127.0.0.1");
        let port = listener.local_addr().expect("the test server's address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let busy = Arc::new(Mutex::new(Duration::ZERO));
        let (stop_in, busy_in) = (stop.clone(), busy.clone());
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop_in.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (handler, stop, busy) = (handler.clone(), stop_in.clone(), busy_in.clone());
                std::thread::spawn(move || connection(stream, &*handler, &stop, &busy));
            }
        });
        Serving { port, stop, busy, accept: Some(accept) }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag; hung connections notice it on their own.
        if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && let Some(accept) = self.accept.take()
        {
            let _ = accept.join();
        }
    }
}

fn connection(stream: TcpStream, handler: &Handler, stop: &AtomicBool, busy: &Mutex<Duration>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Some(request) = read_request(&stream) else { return };
    let started = Instant::now();
    match handler(&request) {
        Reply::Hang => {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Reply::Answer(response) => {
            if write_response(&stream, &response).is_ok() {
                *busy.lock().unwrap() += started.elapsed();
            }
            // Close our side, then drain until the client closes, so nothing unread turns the
            // close into a reset that could lose the response.
            let _ = stream.shutdown(Shutdown::Write);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = std::io::copy(&mut &stream, &mut std::io::sink());
        }
    }
}

/// Read one request: request line, headers, and a `content-length` or chunked body.
fn read_request(stream: &TcpStream) -> Option<Incoming> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    // An absolute-form target (as sent to a proxy) is reduced to its path.
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]).to_string(),
        None => target.to_string(),
    };
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    if header_value(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        let mut raw = stream;
        raw.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    let chunked =
        header_value(&headers, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(&mut reader)?
    } else {
        let len = match header_value(&headers, "content-length") {
            Some(v) => v.parse().ok()?,
            None => 0,
        };
        let mut body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
        body
    };
    Some(Incoming { method, path, headers, body })
}

fn read_chunked<R: BufRead>(reader: &mut R) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            break;
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).ok()?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf).ok()?;
    }
    // Trailers, up to the empty line.
    loop {
        let mut trailer = String::new();
        if reader.read_line(&mut trailer).ok()? == 0 || trailer.trim().is_empty() {
            return Some(body);
        }
    }
}

fn write_response(mut stream: &TcpStream, response: &Response) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    for (name, value) in &response.extra {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Overloaded",
        _ => "Status",
    }
}

/// The first header called `name` (any case).
fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

// ---- the servers themselves, tested with a plain std client ----

/// Send `raw` on a fresh connection and read the response to EOF: (status, headers with
/// lower-cased names, body).
fn exchange(port: u16, raw: &str) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_string())
        })
        .collect();
    (status, headers, body.to_string())
}

fn request_text(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let headers: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{headers}\r\n{body}",
        body.len()
    )
}

fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Vec<(String, String)>, String) {
    exchange(port, &request_text("POST", path, headers, body))
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn wait_until(what: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !what() {
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn openai_answers_tool_calls_then_text_and_repeats_the_last_step() {
    let server = LlmServer::start(
        Format::OpenAi,
        vec![
            Step::ToolCalls(vec![
                ("call_1".into(), "read_file".into(), r#"{"path":"a.txt"}"#.into()),
                ("call_2".into(), "list".into(), "{not json".into()),
            ]),
            Step::Text("all done".into()),
        ],
    );
    assert_eq!(server.base_url(), format!("http://127.0.0.1:{}/v1", server.port()));
    let path = "/v1/chat/completions";
    let auth = [("Authorization", "Bearer sk-test")];
    let tools = json!([
        {"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "list", "parameters": {"type": "object"}}},
    ]);
    let first = json!({
        "model": "gpt-test",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "read a.txt"}],
        "tools": tools,
    })
    .to_string();
    let (status, headers, text) = post(server.port(), path, &auth, &first);
    assert_eq!(status, 200, "{text}");
    assert_eq!(header_value(&headers, "content-type"), Some("application/json"));
    assert_eq!(header_value(&headers, "connection"), Some("close"));
    assert_eq!(header_value(&headers, "content-length"), Some(text.len().to_string().as_str()));
    let v = parse(&text);
    assert_eq!(v["id"], "chatcmpl-1");
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000, "{v}");
    assert_eq!(v["model"], "gpt-test");
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], Value::Null);
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([
            {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"a.txt\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "list", "arguments": "{not json"}},
        ])
    );
    assert_eq!(v["usage"]["prompt_tokens"], first.len() / 4);
    let completion = v["usage"]["completion_tokens"].as_u64().unwrap();
    assert!(completion >= 1);
    assert_eq!(v["usage"]["total_tokens"], first.len() as u64 / 4 + completion);

    let second = json!({
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "read a.txt"},
            {"role": "assistant", "content": null, "tool_calls": choice["message"]["tool_calls"]},
            {"role": "tool", "tool_call_id": "call_1", "content": "contents of a"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "bad arguments"}]},
        ],
        "tools": tools,
    })
    .to_string();
    let (status, _, text) = post(server.port(), path, &auth, &second);
    assert_eq!(status, 200, "{text}");
    let v = parse(&text);
    assert_eq!(v["id"], "chatcmpl-2");
    assert_eq!(v["choices"][0]["message"]["content"], "all done");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["choices"][0]["message"].get("tool_calls").is_none(), "{v}");
    assert_eq!(v["usage"]["prompt_tokens"], second.len() / 4);

    // The script ran out: the last step repeats.
    let (status, _, text) = post(server.port(), path, &[], r#"{"model":"other","messages":[]}"#);
    assert_eq!(status, 200);
    let v = parse(&text);
    assert_eq!(v["id"], "chatcmpl-3");
    assert_eq!(v["model"], "other");
    assert_eq!(v["choices"][0]["message"]["content"], "all done");

    let recorded = server.requests();
    assert_eq!(recorded.len(), 3);
    let r = &recorded[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", path));
    assert!(r.headers.iter().any(|(n, v)| n == "authorization" && v == "Bearer sk-test"), "{:?}", r.headers);
    assert_eq!(r.header("AUTHORIZATION"), Some("Bearer sk-test"));
    assert_eq!(r.header("x-missing"), None);
    assert_eq!(r.body, parse(&first));
    assert_eq!(r.tool_names(), ["read_file", "list"]);
    assert_eq!(r.all_text(), "be brief\nread a.txt");
    assert_eq!(r.last_message_text(), "read a.txt");
    assert_eq!(recorded[1].last_message_text(), "bad arguments");
    assert_eq!(recorded[1].all_text(), "be brief\nread a.txt\ncontents of a\nbad arguments");
    assert_eq!(recorded[2].header("authorization"), None);
    assert!(recorded[2].tool_names().is_empty());
    assert_eq!(recorded[2].last_message_text(), "");
    let busy = server.busy();
    assert!(busy > Duration::ZERO && busy < Duration::from_secs(10), "{busy:?}");
}

#[test]
fn anthropic_answers_tool_use_then_text() {
    let server = LlmServer::start(
        Format::Anthropic,
        vec![
            Step::ToolCalls(vec![
                ("toolu_1".into(), "search".into(), r#"{"q":"rust"}"#.into()),
                ("toolu_2".into(), "search".into(), "{broken".into()),
            ]),
            Step::Text("here you go".into()),
        ],
    );
    assert_eq!(server.base_url(), format!("http://127.0.0.1:{}/v1", server.port()));
    let keys = [("X-Api-Key", "sk-ant-test"), ("anthropic-version", "2023-06-01")];
    let tools = json!([{"name": "search", "description": "search the web", "input_schema": {"type": "object"}}]);
    let first = json!({
        "model": "claude-test",
        "max_tokens": 256,
        "system": "be brief",
        "messages": [{"role": "user", "content": "find rust"}],
        "tools": tools,
    })
    .to_string();
    let (status, headers, text) = post(server.port(), "/v1/messages", &keys, &first);
    assert_eq!(status, 200, "{text}");
    assert_eq!(header_value(&headers, "content-type"), Some("application/json"));
    let v = parse(&text);
    assert_eq!(v["id"], "msg_1");
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-test");
    assert_eq!(
        v["content"],
        json!([
            {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"q": "rust"}},
            {"type": "tool_use", "id": "toolu_2", "name": "search", "input": "{broken"},
        ])
    );
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["stop_sequence"], Value::Null);
    assert_eq!(v["usage"]["input_tokens"], first.len() / 4);
    assert!(v["usage"]["output_tokens"].as_u64().unwrap() >= 1);

    // The results go back chunked, to exercise that framing too.
    let second = json!({
        "model": "claude-test",
        "max_tokens": 256,
        "system": [{"type": "text", "text": "be brief"}],
        "messages": [
            {"role": "user", "content": "find rust"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "searching"},
                {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"q": "rust"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "result one"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true,
                 "content": [{"type": "text", "text": "result two"}]},
            ]},
        ],
        "tools": tools,
    })
    .to_string();
    let (a, b) = second.split_at(10);
    let raw = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: sk-ant-test\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let (status, _, text) = exchange(server.port(), &raw);
    assert_eq!(status, 200, "{text}");
    let v = parse(&text);
    assert_eq!(v["id"], "msg_2");
    assert_eq!(v["content"], json!([{"type": "text", "text": "here you go"}]));
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"]["input_tokens"], second.len() / 4);

    let recorded = server.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(recorded[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(recorded[0].tool_names(), ["search"]);
    assert_eq!(recorded[0].all_text(), "be brief\nfind rust");
    assert_eq!(recorded[0].last_message_text(), "find rust");
    assert_eq!(recorded[1].header("transfer-encoding"), Some("chunked"));
    assert_eq!(recorded[1].body, parse(&second));
    assert_eq!(recorded[1].last_message_text(), "result one\nresult two");
    assert_eq!(recorded[1].all_text(), "be brief\nfind rust\nsearching\nresult one\nresult two");
}

#[test]
fn status_steps_answer_with_provider_error_bodies() {
    let body = r#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;

    let openai = LlmServer::start(Format::OpenAi, vec![Step::Status(500), Step::Status(429)]);
    let (status, headers, text) = post(openai.port(), "/v1/chat/completions", &[], body);
    assert_eq!(status, 500);
    assert_eq!(header_value(&headers, "content-type"), Some("application/json"));
    assert_eq!(header_value(&headers, "retry-after"), None);
    assert_eq!(
        parse(&text),
        json!({"error": {"message": "scripted failure", "type": "server_error", "param": null, "code": null}})
    );
    let (status, headers, text) = post(openai.port(), "/v1/chat/completions", &[], body);
    assert_eq!(status, 429);
    assert_eq!(header_value(&headers, "retry-after"), Some("0"));
    assert_eq!(parse(&text)["error"]["code"], "rate_limit_exceeded");

    let anthropic = LlmServer::start(Format::Anthropic, vec![Step::Status(500), Step::Status(529), Step::Status(429)]);
    let (status, _, text) = post(anthropic.port(), "/v1/messages", &[], body);
    assert_eq!(status, 500);
    assert_eq!(parse(&text), json!({"type": "error", "error": {"type": "api_error", "message": "scripted failure"}}));
    let (status, _, text) = post(anthropic.port(), "/v1/messages", &[], body);
    assert_eq!(status, 529);
    assert_eq!(parse(&text)["error"]["type"], "overloaded_error");
    let (status, headers, text) = post(anthropic.port(), "/v1/messages", &[], body);
    assert_eq!(status, 429);
    assert_eq!(header_value(&headers, "retry-after"), Some("0"));
    assert_eq!(parse(&text)["error"]["type"], "rate_limit_error");
    assert_eq!(anthropic.requests().len(), 3);
}

#[test]
fn bad_json_and_unknown_paths_get_provider_errors_without_taking_a_step() {
    for format in [Format::OpenAi, Format::Anthropic] {
        let (served, other) = match format {
            Format::OpenAi => ("/v1/chat/completions", "/v1/messages"),
            Format::Anthropic => ("/v1/messages", "/v1/chat/completions"),
        };
        let server = LlmServer::start(format, vec![Step::Text("first step".into())]);
        let (status, _, text) = post(server.port(), served, &[], "{oops");
        assert_eq!(status, 400, "{format:?}");
        let v = parse(&text);
        match format {
            Format::OpenAi => assert_eq!(v["error"]["type"], "invalid_request_error", "{v}"),
            Format::Anthropic => {
                assert_eq!(v["type"], "error", "{v}");
                assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
            }
        }
        let (status, _, _) = post(server.port(), other, &[], "{}");
        assert_eq!(status, 404, "{format:?}");
        let (status, _, _) = exchange(server.port(), &request_text("GET", served, &[], ""));
        assert_eq!(status, 404, "{format:?}");
        let (status, _, text) = post(server.port(), served, &[], r#"{"model":"m","max_tokens":5,"messages":[]}"#);
        assert_eq!(status, 200, "{format:?}");
        assert!(text.contains("first step"), "{text}");

        let recorded = server.requests();
        assert_eq!(recorded.len(), 4);
        assert_eq!(recorded[0].body, Value::Null);
        assert_eq!(recorded[0].path, served);
        assert_eq!(recorded[1].path, other);
        assert_eq!(recorded[2].method, "GET");
        assert_eq!(recorded[3].body["model"], "m");
    }
}

#[test]
fn a_hung_request_blocks_neither_the_next_request_nor_shutdown() {
    let server = LlmServer::start(Format::OpenAi, vec![Step::Hang, Step::Text("still here".into())]);
    let port = server.port();
    let mut hung = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let first = r#"{"model":"m","messages":[{"role":"user","content":"first"}]}"#;
    hung.write_all(request_text("POST", "/v1/chat/completions", &[], first).as_bytes()).unwrap();
    wait_until(|| server.requests().len() == 1);

    let second = r#"{"model":"m","messages":[{"role":"user","content":"second"}]}"#;
    let (status, _, text) = post(port, "/v1/chat/completions", &[], second);
    assert_eq!(status, 200, "{text}");
    assert_eq!(parse(&text)["choices"][0]["message"]["content"], "still here");
    let recorded = server.requests();
    assert_eq!(recorded[0].last_message_text(), "first");
    assert_eq!(recorded[1].last_message_text(), "second");

    // The first connection is still open and unanswered.
    hung.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut buf = [0; 64];
    let err = hung.read(&mut buf).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err}");

    // Dropping the server returns at once, and then the hung connection is closed.
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    hung.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(hung.read(&mut buf).unwrap(), 0, "the hung connection closes with the server");
}

#[test]
fn the_page_server_serves_its_pages_and_404s_the_rest() {
    let pages = PageServer::start(vec![("/", "<h1>home</h1>"), ("/about", "<p>about us</p>")]);
    assert_eq!(pages.url("/about"), format!("http://127.0.0.1:{}/about", pages.port()));
    assert_eq!(pages.url("about"), pages.url("/about"));
    let get = |path: &str| exchange(pages.port(), &format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"));
    let (status, headers, body) = get("/about");
    assert_eq!((status, body.as_str()), (200, "<p>about us</p>"));
    assert_eq!(header_value(&headers, "content-type"), Some("text/html; charset=utf-8"));
    let (status, _, body) = get("/?q=1");
    assert_eq!((status, body.as_str()), (200, "<h1>home</h1>"));
    let (status, headers, _) = get("/missing");
    assert_eq!(status, 404);
    assert_eq!(header_value(&headers, "content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(pages.hits(), ["/about", "/?q=1", "/missing"]);
}

//! Scripted LLM servers (OpenAI Chat Completions, Anthropic Messages) and a
//! tiny page server, on 127.0.0.1 and spoken to over real sockets, so the
//! product's provider adapters are exercised against what providers send.
//!
//! Each server is a std-thread accept loop, one thread per connection, one
//! request per connection (every response says `connection: close`).
//! Dropping a server stops its accept loop at once and closes any connection
//! a [`Step::Hang`] is holding.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// Answer 429 asking the client to wait this many seconds.
    RetryAfter(u64),
    /// Accept the request and never answer (until the test ends / the server drops).
    Hang,
    /// Asked to stream: send these pieces of text, then break the connection
    /// off without ending the stream. Asked for a whole reply: a 500.
    BreakAfter(Vec<String>),
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

/// A request with `"stream": true` is answered as the provider streams:
/// server-sent events, the text a word at a time, a tool call's arguments
/// in two pieces, `pause` between events.
struct Script {
    format: Format,
    steps: Vec<Step>,
    pause: Mutex<Duration>,
    /// Steps taken so far.
    taken: Mutex<usize>,
    requests: Mutex<Vec<Recorded>>,
}

impl LlmServer {
    /// Start a server speaking `format` that answers each POST with the next step (the last step repeats when the
    /// script runs out). Panics on an empty script.
    pub fn start(format: Format, script: Vec<Step>) -> LlmServer {
        assert!(!script.is_empty(), "an LLM script needs at least one step");
        let script = Arc::new(Script {
            format,
            steps: script,
            pause: Mutex::new(Duration::ZERO),
            taken: Mutex::new(0),
            requests: Mutex::new(Vec::new()),
        });
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

    /// Wait this long between the events of a streamed reply (none by default).
    pub fn pause_between_tokens(&self, pause: Duration) {
        *self.script.pause.lock().unwrap() = pause;
    }

    /// Every request received so far: method, path, headers (lower-case names), parsed JSON body.
    pub fn requests(&self) -> Vec<Recorded> {
        self.script.requests.lock().unwrap().clone()
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
        let streams = body["stream"] == json!(true);
        let pause = *self.pause.lock().unwrap();
        let (text, calls) = match &self.steps[(n - 1).min(self.steps.len() - 1)] {
            Step::Hang => return Reply::Hang,
            Step::BreakAfter(pieces) if streams => {
                let events = pieces.iter().map(|p| text_event(self.format, p)).collect();
                return Reply::Stream { events, pause, end: false };
            }
            Step::BreakAfter(_) => return Reply::Answer(error_response(self.format, 500, "scripted failure")),
            Step::Status(status) => return Reply::Answer(error_response(self.format, *status, "scripted failure")),
            Step::RetryAfter(secs) => {
                let mut r = error_response(self.format, 429, "slow down");
                r.extra.retain(|(n, _)| !n.eq_ignore_ascii_case("retry-after"));
                r.extra.push(("retry-after", secs.to_string()));
                return Reply::Answer(r);
            }
            Step::Text(text) => (Some(text.as_str()), &[][..]),
            Step::ToolCalls(calls) => (None, calls.as_slice()),
        };
        let model = body.get("model").cloned().unwrap_or_else(|| json!("unknown"));
        let output_len = text.map_or(0, str::len)
            + calls.iter().map(|(_, name, arguments)| name.len() + arguments.len()).sum::<usize>();
        let tokens = ((request.body.len() / 4).max(1), (output_len / 4).max(1));
        if streams {
            let events = match self.format {
                Format::OpenAi => openai_stream(n, &model, text, calls, tokens),
                Format::Anthropic => anthropic_stream(n, &model, text, calls, tokens),
            };
            return Reply::Stream { events, pause, end: true };
        }
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

/// `text` in pieces of one word each (with the space that follows it).
fn words(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    for c in text.chars() {
        piece.push(c);
        if c == ' ' {
            pieces.push(std::mem::take(&mut piece));
        }
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    pieces
}

/// `arguments` in two pieces, as providers split a call's arguments.
fn halves(arguments: &str) -> [&str; 2] {
    let mut at = arguments.len() / 2;
    while !arguments.is_char_boundary(at) {
        at -= 1;
    }
    [&arguments[..at], &arguments[at..]]
}

/// One server-sent event.
fn sse(event: Option<&str>, data: &Value) -> Vec<u8> {
    let name = event.map(|e| format!("event: {e}\n")).unwrap_or_default();
    format!("{name}data: {data}\n\n").into_bytes()
}

/// The event that carries one piece of text.
fn text_event(format: Format, piece: &str) -> Vec<u8> {
    match format {
        Format::OpenAi => sse(
            None,
            &json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]}),
        ),
        Format::Anthropic => sse(
            Some("content_block_delta"),
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}),
        ),
    }
}

/// A streamed Chat Completion: role, text a word at a time, each call's
/// arguments in two pieces, the finish, usage, `[DONE]`.
fn openai_stream(
    n: usize,
    model: &Value,
    text: Option<&str>,
    calls: &[(String, String, String)],
    (prompt, completion): (usize, usize),
) -> Vec<Vec<u8>> {
    let chunk = |delta: Value, finish: Value| {
        sse(
            None,
            &json!({"id": format!("chatcmpl-{n}"), "object": "chat.completion.chunk", "created": unix_now(), "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
        )
    };
    let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    events.extend(words(text.unwrap_or_default()).iter().map(|w| chunk(json!({"content": w}), Value::Null)));
    for (i, (id, name, arguments)) in calls.iter().enumerate() {
        let [first, second] = halves(arguments);
        events.push(chunk(
            json!({"tool_calls": [{"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": first}}]}),
            Value::Null,
        ));
        events.push(chunk(json!({"tool_calls": [{"index": i, "function": {"arguments": second}}]}), Value::Null));
    }
    events.push(chunk(json!({}), json!(if calls.is_empty() { "stop" } else { "tool_calls" })));
    events.push(sse(
        None,
        &json!({"id": format!("chatcmpl-{n}"), "object": "chat.completion.chunk", "model": model, "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}}),
    ));
    events.push(b"data: [DONE]\n\n".to_vec());
    events
}

/// A streamed Message: message_start, a text block a word at a time, a
/// tool_use block per call with its input in two pieces, message_delta
/// with the output tokens, message_stop.
fn anthropic_stream(
    n: usize,
    model: &Value,
    text: Option<&str>,
    calls: &[(String, String, String)],
    (input, output): (usize, usize),
) -> Vec<Vec<u8>> {
    let mut events = vec![sse(
        Some("message_start"),
        &json!({"type": "message_start", "message": {"id": format!("msg_{n}"), "type": "message", "role": "assistant",
            "model": model, "content": [], "stop_reason": null, "usage": {"input_tokens": input, "output_tokens": 1}}}),
    )];
    let mut index = 0;
    if let Some(text) = text {
        events.push(sse(
            Some("content_block_start"),
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ));
        events.push(sse(Some("ping"), &json!({"type": "ping"})));
        events.extend(words(text).iter().map(|w| text_event(Format::Anthropic, w)));
        events.push(sse(Some("content_block_stop"), &json!({"type": "content_block_stop", "index": 0})));
        index = 1;
    }
    for (id, name, arguments) in calls {
        events.push(sse(
            Some("content_block_start"),
            &json!({"type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        ));
        for piece in halves(arguments) {
            events.push(sse(
                Some("content_block_delta"),
                &json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
        events.push(sse(Some("content_block_stop"), &json!({"type": "content_block_stop", "index": index})));
        index += 1;
    }
    events.push(sse(
        Some("message_delta"),
        &json!({"type": "message_delta", "delta": {"stop_reason": if calls.is_empty() { "end_turn" } else { "tool_use" }},
            "usage": {"output_tokens": output}}),
    ));
    events.push(sse(Some("message_stop"), &json!({"type": "message_stop"})));
    events
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
    /// Server-sent events, `pause` apart; `end: false` breaks the
    /// connection off after the last one instead of ending the stream.
    Stream {
        events: Vec<Vec<u8>>,
        pause: Duration,
        end: bool,
    },
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
    accept: Option<JoinHandle<()>>,
}

impl Serving {
    fn start(handler: Arc<Handler>) -> Serving {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a test server on 127.0.0.1");
        let port = listener.local_addr().expect("the test server's address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_in = stop.clone();
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop_in.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (handler, stop) = (handler.clone(), stop_in.clone());
                std::thread::spawn(move || connection(stream, &*handler, &stop));
            }
        });
        Serving { port, stop, accept: Some(accept) }
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

fn connection(stream: TcpStream, handler: &Handler, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Some(request) = read_request(&stream) else { return };
    match handler(&request) {
        Reply::Hang => {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Reply::Stream { events, pause, end } => {
            let mut out = &stream;
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
            if out.write_all(head.as_bytes()).is_err() {
                return;
            }
            for event in events {
                let mut chunk = format!("{:x}\r\n", event.len()).into_bytes();
                chunk.extend_from_slice(&event);
                chunk.extend_from_slice(b"\r\n");
                if stop.load(Ordering::SeqCst) || out.write_all(&chunk).and_then(|()| out.flush()).is_err() {
                    return;
                }
                std::thread::sleep(pause);
            }
            // Without the last chunk the body is cut off, not ended.
            if end && out.write_all(b"0\r\n\r\n").is_ok() {
                let _ = stream.shutdown(Shutdown::Write);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                let _ = std::io::copy(&mut &stream, &mut std::io::sink());
            }
        }
        Reply::Answer(response) => {
            let _ = write_response(&stream, &response);
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

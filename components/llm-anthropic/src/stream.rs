//! Reading a streamed Messages reply, one server-sent event at a time,
//! into the same reply `reply::parse` makes of a whole one.

use llm_common as common;
use llm_common::bindings::claw::runtime::llm_types::{ChatReply, Failure, ProviderError, ToolCall, Usage};
use serde_json::Value;
use std::collections::BTreeMap;

/// One content block as far as its deltas have come.
enum Block {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        /// The `input` of `content_block_start`, used only when no
        /// `partial_json` follows.
        start_input: Value,
        partial_json: String,
    },
    /// Thinking and whatever else: skipped, as `reply::parse` does.
    Other,
}

/// The reply so far.
pub struct Accumulator {
    provider: String,
    /// The model asked for, used when the stream names none.
    model: String,
    reply_model: Option<String>,
    /// By index: the text and the calls come in index order.
    blocks: BTreeMap<u64, Block>,
    input_tokens: u64,
    output_tokens: u64,
    /// `message_stop` came: the stream is complete.
    stopped: bool,
}

impl Accumulator {
    /// An empty reply from `provider`, which was asked for `model`.
    pub fn new(provider: &str, model: &str) -> Accumulator {
        Accumulator {
            provider: provider.to_string(),
            model: model.to_string(),
            reply_model: None,
            blocks: BTreeMap::new(),
            input_tokens: 0,
            output_tokens: 0,
            stopped: false,
        }
    }

    /// One SSE event (its `event:` name and data). Returns the text delta to pass on now.
    ///
    /// # Errors
    ///
    /// The failure an `error` event names, or `invalid-reply` when the
    /// data is not an event of the Messages stream.
    pub fn push(&mut self, event: Option<&str>, data: &str) -> Result<String, ProviderError> {
        let data = data.trim();
        // A blank keep-alive carries nothing; after `message_stop` nothing
        // more belongs to the reply.
        if data.is_empty() || self.stopped {
            return Ok(String::new());
        }
        let v: Value =
            serde_json::from_str(data).map_err(|e| self.invalid(format_args!("a stream event is not JSON: {e}")))?;
        if !v.is_object() {
            return Err(self.invalid("a stream event is not an object"));
        }
        // The data says what it is; the SSE name is the fallback.
        let kind = v.get("type").and_then(Value::as_str).or(event).unwrap_or("");
        match kind {
            "message_start" => {
                let message = v.get("message").unwrap_or(&Value::Null);
                self.reply_model =
                    message.get("model").and_then(Value::as_str).filter(|m| !m.is_empty()).map(str::to_string);
                self.usage(message.get("usage"));
                Ok(String::new())
            }
            "content_block_start" => {
                let index = self.index(&v)?;
                let block = v.get("content_block").ok_or_else(|| self.invalid("a block start without its block"))?;
                let str_of = |key| block.get(key).and_then(Value::as_str).unwrap_or("").to_string();
                let (block, text) = match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let text = str_of("text");
                        (Block::Text(text.clone()), text)
                    }
                    Some("tool_use") => {
                        let start_input = block.get("input").cloned().unwrap_or(Value::Null);
                        let (id, name) = (str_of("id"), str_of("name"));
                        (Block::ToolUse { id, name, start_input, partial_json: String::new() }, String::new())
                    }
                    _ => (Block::Other, String::new()),
                };
                self.blocks.insert(index, block);
                Ok(text)
            }
            "content_block_delta" => {
                let index = self.index(&v)?;
                let delta = v.get("delta").unwrap_or(&Value::Null);
                let piece = |key| delta.get(key).and_then(Value::as_str).unwrap_or("");
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        let text = piece("text");
                        match self.blocks.entry(index).or_insert_with(|| Block::Text(String::new())) {
                            Block::Text(t) => t.push_str(text),
                            _ => return Err(self.invalid(format_args!("text for block {index}, not a text block"))),
                        }
                        Ok(text.to_string())
                    }
                    Some("input_json_delta") => {
                        let json = piece("partial_json");
                        match self.blocks.get_mut(&index) {
                            Some(Block::ToolUse { partial_json, .. }) => partial_json.push_str(json),
                            _ => {
                                return Err(self.invalid(format_args!("tool input for block {index}, not a tool call")));
                            }
                        }
                        Ok(String::new())
                    }
                    // thinking_delta, signature_delta, citations_delta, ...
                    _ => Ok(String::new()),
                }
            }
            "message_delta" => {
                // Its usage is cumulative: it replaces what came before.
                self.usage(v.get("usage"));
                Ok(String::new())
            }
            "message_stop" => {
                self.stopped = true;
                Ok(String::new())
            }
            "error" => Err(self.error(v.get("error").unwrap_or(&Value::Null))),
            // content_block_stop and ping carry nothing we keep; unknown
            // types are skipped, as Anthropic may add new ones.
            _ => Ok(String::new()),
        }
    }

    /// The end of the stream: the whole reply.
    ///
    /// # Errors
    ///
    /// `network` when the stream stopped before `message_stop`,
    /// `invalid-reply` for a tool call without a name.
    pub fn finish(self) -> Result<ChatReply, ProviderError> {
        let provider = self.provider;
        if !self.stopped {
            return Err(ProviderError {
                failure: Failure::Network,
                message: format!("{provider}: the reply stream ended before it was complete"),
                retry_after_ms: None,
                streamed: false,
            });
        }
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        for block in self.blocks.into_values() {
            match block {
                Block::Text(t) => text.push_str(&t),
                Block::ToolUse { id, name, start_input, partial_json } => {
                    let i = tool_calls.len();
                    if name.is_empty() {
                        return Err(common::invalid_reply(&provider, format_args!("tool call {i} has no name")));
                    }
                    let arguments_json = if !partial_json.is_empty() {
                        partial_json
                    } else if start_input.as_object().is_some_and(|o| !o.is_empty()) {
                        start_input.to_string()
                    } else {
                        "{}".to_string()
                    };
                    // A tool result quotes the id back; make one up when missing.
                    let id = if id.is_empty() { format!("claw_call_{i}") } else { id };
                    tool_calls.push(ToolCall { id, name, arguments_json });
                }
                Block::Other => {}
            }
        }
        Ok(ChatReply {
            text,
            tool_calls,
            usage: Usage {
                input_tokens: common::tokens(self.input_tokens),
                output_tokens: common::tokens(self.output_tokens),
            },
            model: self.reply_model.unwrap_or(self.model),
            provider,
        })
    }

    /// The counts a `usage` object has; those it lacks stay as they were.
    fn usage(&mut self, usage: Option<&Value>) {
        let count = |key| usage.and_then(|u| u.get(key)).and_then(Value::as_u64);
        if let Some(n) = count("input_tokens") {
            self.input_tokens = n;
        }
        if let Some(n) = count("output_tokens") {
            self.output_tokens = n;
        }
    }

    fn index(&self, v: &Value) -> Result<u64, ProviderError> {
        v.get("index").and_then(Value::as_u64).ok_or_else(|| self.invalid("a content block event without an index"))
    }

    fn invalid(&self, why: impl std::fmt::Display) -> ProviderError {
        common::invalid_reply(&self.provider, why)
    }

    /// The failure an `error` event names, as its HTTP status would.
    fn error(&self, error: &Value) -> ProviderError {
        let kind = error.get("type").and_then(Value::as_str).filter(|t| !t.is_empty()).unwrap_or("error");
        let failure = match kind {
            "overloaded_error" | "api_error" => Failure::Server,
            "rate_limit_error" => Failure::RateLimited,
            "timeout_error" => Failure::Timeout,
            _ => Failure::Rejected,
        };
        let said = match error.get("message").and_then(Value::as_str).filter(|m| !m.trim().is_empty()) {
            Some(message) => common::clip(&format!("{kind}: {message}")),
            None => common::clip(kind),
        };
        ProviderError { failure, message: format!("{}: {said}", self.provider), retry_after_ms: None, streamed: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply;

    /// The reply made of `events` (name, data), and the text passed on as it came.
    fn read(events: &[(&str, &str)]) -> (Result<ChatReply, ProviderError>, Vec<String>) {
        let mut acc = Accumulator::new("anthropic", "claude-sonnet-4-5");
        let mut deltas = Vec::new();
        for (name, data) in events {
            let name = Some(*name).filter(|n| !n.is_empty());
            match acc.push(name, data) {
                Ok(delta) => deltas.push(delta),
                Err(e) => return (Err(e), deltas),
            }
        }
        (acc.finish(), deltas)
    }

    const START: (&str, &str) = (
        "message_start",
        r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"usage":{"input_tokens":20,"output_tokens":1}}}"#,
    );
    const STOP: (&str, &str) = ("message_stop", r#"{"type":"message_stop"}"#);

    fn calls(r: &ChatReply) -> Vec<(&str, &str, &str)> {
        r.tool_calls.iter().map(|c| (c.id.as_str(), c.name.as_str(), c.arguments_json.as_str())).collect()
    }

    #[test]
    fn text_split_over_deltas_is_passed_on_as_it_comes() {
        let (r, deltas) = read(&[
            START,
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            ("ping", r#"{"type": "ping"}"#),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo, wörld"}}"#,
            ),
            ("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
            ),
            STOP,
        ]);
        let r = r.unwrap();
        assert_eq!(deltas, ["", "", "", "Hel", "lo, wörld", "", "", ""]);
        assert_eq!(r.text, "Hello, wörld");
        assert!(r.tool_calls.is_empty());
        assert_eq!((r.usage.input_tokens, r.usage.output_tokens), (20, 15));
        assert_eq!((r.provider.as_str(), r.model.as_str()), ("anthropic", "claude-sonnet-4-5-20250929"));
    }

    #[test]
    fn tool_input_is_the_partial_json_joined() {
        let (r, deltas) = read(&[
            START,
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":"Checking."}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"clock","input":{}}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"tz\": "}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"UTC\"}"}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_2","name":"pwd","input":{}}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":4,"content_block":{"type":"tool_use","name":"echo","input":{"text":"x"}}}"#,
            ),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":40}}"#,
            ),
            STOP,
        ]);
        let r = r.unwrap();
        assert_eq!(deltas.concat(), "Checking.");
        assert_eq!(r.text, "Checking.");
        assert_eq!(
            calls(&r),
            [
                ("toolu_1", "clock", r#"{"tz": "UTC"}"#),
                ("toolu_2", "pwd", "{}"),
                ("claw_call_2", "echo", r#"{"text":"x"}"#)
            ]
        );
        assert_eq!(r.usage.output_tokens, 40);
    }

    #[test]
    fn text_blocks_join_in_index_order() {
        let (r, deltas) = read(&[
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"world"}}"#,
            ),
            // No start for this block, and no `type` in the data: the SSE name says it.
            ("content_block_delta", r#"{"index":0,"delta":{"type":"text_delta","text":"hello "}}"#),
            STOP,
        ]);
        assert_eq!(deltas, ["", "world", "hello ", ""]);
        let r = r.unwrap();
        assert_eq!(r.text, "hello world");
        // No message_start: the model asked for, no usage.
        assert_eq!((r.model.as_str(), r.usage.input_tokens, r.usage.output_tokens), ("claude-sonnet-4-5", 0, 0));
    }

    #[test]
    fn the_datas_type_wins_over_the_event_name() {
        let (r, _) = read(&[("ping", r#"{"type":"message_stop"}"#)]);
        assert!(r.is_ok());
        let (r, _) = read(&[("message_stop", r#"{"type":"ping"}"#)]);
        assert_eq!(r.unwrap_err().failure, Failure::Network);
    }

    #[test]
    fn error_events_map_to_failures() {
        let failure = |kind: &str| {
            let data = format!(r#"{{"type":"error","error":{{"type":"{kind}","message":"Overloaded"}}}}"#);
            read(&[START, ("error", &data)]).0.unwrap_err()
        };
        let e = failure("overloaded_error");
        assert_eq!((e.failure, e.message.as_str()), (Failure::Server, "anthropic: overloaded_error: Overloaded"));
        assert!(!e.streamed);
        assert_eq!(failure("api_error").failure, Failure::Server);
        assert_eq!(failure("rate_limit_error").failure, Failure::RateLimited);
        assert_eq!(failure("timeout_error").failure, Failure::Timeout);
        assert_eq!(failure("invalid_request_error").failure, Failure::Rejected);
        assert_eq!(failure("authentication_error").failure, Failure::Rejected);
        // Long and on many lines: one line, clipped.
        let data = serde_json::json!({"type":"error","error":{"type":"api_error","message":format!("a\nb {}", "x".repeat(900))}});
        let e = read(&[("error", &data.to_string())]).0.unwrap_err();
        assert!(e.message.starts_with("anthropic: api_error: a b xxx"), "{}", e.message);
        assert_eq!(e.message.chars().count(), "anthropic: ".len() + common::MAX_MESSAGE_CHARS + 1);
        let e = read(&[("error", r#"{"type":"error","error":{}}"#)]).0.unwrap_err();
        assert_eq!((e.failure, e.message.as_str()), (Failure::Rejected, "anthropic: error"));
    }

    #[test]
    fn data_that_is_not_an_event_is_an_invalid_reply() {
        let events: [&[(&str, &str)]; 5] = [
            &[("message_start", "not json")],
            &[("ping", "[1]")],
            &[("content_block_start", r#"{"type":"content_block_start","content_block":{"type":"text"}}"#)],
            &[(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{"}}"#,
            )],
            &[
                (
                    "content_block_start",
                    r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","input":{}}}"#,
                ),
                STOP,
            ],
        ];
        for events in events {
            let e = read(events).0.unwrap_err();
            assert_eq!(e.failure, Failure::InvalidReply, "{}", e.message);
            assert!(e.message.starts_with("anthropic: invalid reply"), "{}", e.message);
        }
    }

    #[test]
    fn a_stream_cut_short_is_a_network_failure() {
        let text = (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
        );
        for events in [&[][..], &[START], &[START, text]] {
            let e = read(events).0.unwrap_err();
            assert_eq!(e.failure, Failure::Network);
            assert_eq!(e.message, "anthropic: the reply stream ended before it was complete");
        }
    }

    #[test]
    fn after_message_stop_nothing_counts_and_blank_data_is_skipped() {
        let late = (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"late"}}"#,
        );
        let (r, deltas) = read(&[("ping", ""), STOP, late, ("x", "not json")]);
        assert_eq!(deltas, ["", "", "", ""]);
        assert_eq!(r.unwrap().text, "");
    }

    #[test]
    fn the_same_reply_as_a_whole_one() {
        let whole = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
            "content":[{"type":"thinking","thinking":"..."},{"type":"text","text":"Let me "},{"type":"text","text":"check."},
                {"type":"tool_use","id":"toolu_1","name":"clock","input":{"tz":"UTC"}},
                {"type":"tool_use","id":"toolu_2","name":"pwd","input":{}}],
            "stop_reason":"tool_use","usage":{"input_tokens":20,"output_tokens":7}}"#;
        let (streamed, _) = read(&[
            START,
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"..."}}"#,
            ),
            ("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Let me "}}"#,
            ),
            ("content_block_stop", r#"{"type":"content_block_stop","index":1}"#),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"check."}}"#,
            ),
            ("content_block_stop", r#"{"type":"content_block_stop","index":2}"#),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_1","name":"clock","input":{}}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"tz\":"}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"\"UTC\"}"}}"#,
            ),
            ("content_block_stop", r#"{"type":"content_block_stop","index":3}"#),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":4,"content_block":{"type":"tool_use","id":"toolu_2","name":"pwd","input":{}}}"#,
            ),
            ("content_block_stop", r#"{"type":"content_block_stop","index":4}"#),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":7}}"#,
            ),
            STOP,
        ]);
        let whole = reply::parse(whole, "anthropic", "claude-sonnet-4-5").unwrap();
        assert_eq!(format!("{:?}", streamed.unwrap()), format!("{whole:?}"));
    }
}

//! Reading a streamed Chat Completions reply (`stream: true`), one
//! server-sent event's data at a time, into the same reply `reply::parse`
//! makes of a whole one, with the same leniency.

use llm_common as common;
use llm_common::bindings::claw::runtime::llm_types::{ChatReply, Failure, ProviderError, ToolCall, Usage};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Chunk {
    model: Option<String>,
    // `Option` too, not only `default`: some servers send `"choices": null`.
    choices: Option<Vec<WireChoice>>,
    usage: Option<crate::reply::WireUsage>,
    /// OpenRouter and others report a failure mid-stream as a chunk.
    error: Option<Value>,
}

#[derive(Deserialize)]
struct WireChoice {
    index: Option<u64>,
    delta: Option<Delta>,
    finish_reason: Option<Value>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Value,
    tool_calls: Option<Vec<CallPiece>>,
}

#[derive(Deserialize)]
struct CallPiece {
    index: Option<u64>,
    id: Option<String>,
    function: Option<FunctionPiece>,
}

#[derive(Deserialize)]
struct FunctionPiece {
    name: Option<String>,
    #[serde(default)]
    arguments: Value,
}

/// A tool call as far as its pieces have come.
struct Call {
    index: u64,
    id: String,
    name: String,
    arguments: String,
}

/// The reply so far.
pub struct Accumulator {
    provider: String,
    /// The model asked for, used when no chunk names one.
    model: String,
    reply_model: Option<String>,
    text: String,
    /// In order of first appearance; merged by `index`.
    calls: Vec<Call>,
    usage: Option<Usage>,
    /// A first choice came: a stream of usage alone is no reply.
    any_choice: bool,
    /// `[DONE]` came, or a `finish_reason`: the stream is complete.
    done: bool,
    finished: bool,
}

impl Accumulator {
    /// An empty reply from `provider`, which was asked for `model`.
    pub fn new(provider: &str, model: &str) -> Accumulator {
        Accumulator {
            provider: provider.to_string(),
            model: model.to_string(),
            reply_model: None,
            text: String::new(),
            calls: Vec::new(),
            usage: None,
            any_choice: false,
            done: false,
            finished: false,
        }
    }

    /// One SSE event's data. Returns the text delta to pass on now (possibly empty).
    ///
    /// # Errors
    ///
    /// `server` when the provider reports an error in the stream,
    /// `invalid-reply` when the data is not a chunk.
    pub fn push(&mut self, data: &str) -> Result<String, ProviderError> {
        let data = data.trim();
        // Blank data (a keep-alive some servers send) carries nothing; after
        // `[DONE]` nothing more belongs to the reply.
        if data.is_empty() || self.done {
            return Ok(String::new());
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(String::new());
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            common::invalid_reply(&self.provider, format_args!("a stream chunk is not a completion chunk: {e}"))
        })?;
        if let Some(error) = chunk.error.filter(|e| !e.is_null()) {
            return Err(self.error(&error));
        }
        if self.reply_model.is_none() {
            self.reply_model = chunk.model.filter(|m| !m.is_empty());
        }
        if let Some(u) = chunk.usage {
            // Some servers repeat a running total in every chunk: the last wins.
            self.usage = Some(u.usage());
        }
        let mut delta_text = String::new();
        for choice in chunk.choices.unwrap_or_default() {
            // We ask for one choice; like `reply::parse`, read only the first.
            if choice.index.unwrap_or(0) != 0 {
                continue;
            }
            self.any_choice = true;
            if choice.finish_reason.as_ref().is_some_and(|r| r.as_str() != Some("") && !r.is_null()) {
                self.finished = true;
            }
            let Some(delta) = choice.delta else { continue };
            delta_text.push_str(&crate::reply::text(&delta.content));
            for piece in delta.tool_calls.unwrap_or_default() {
                self.merge(piece);
            }
        }
        self.text.push_str(&delta_text);
        Ok(delta_text)
    }

    /// The end of the stream: the whole reply.
    ///
    /// # Errors
    ///
    /// `network` when the stream stopped before its end, `invalid-reply`
    /// when it held no choice or a tool call without a name.
    pub fn finish(self) -> Result<ChatReply, ProviderError> {
        let provider = self.provider;
        if !self.done && !self.finished {
            return Err(ProviderError {
                failure: Failure::Network,
                message: format!("{provider}: the reply stream ended before it was complete"),
                retry_after_ms: None,
                streamed: false,
            });
        }
        if !self.any_choice && self.text.is_empty() {
            return Err(common::invalid_reply(&provider, "no choices"));
        }
        let mut calls = self.calls;
        // Pieces may first show up out of order; the index is the call's place.
        calls.sort_by_key(|c| c.index);
        let mut tool_calls = Vec::with_capacity(calls.len());
        for (i, c) in calls.into_iter().enumerate() {
            if c.name.is_empty() {
                return Err(common::invalid_reply(&provider, format_args!("tool call {i} has no name")));
            }
            tool_calls.push(ToolCall {
                // A tool result quotes the id back; make one up when missing.
                id: if c.id.is_empty() { format!("claw_call_{i}") } else { c.id },
                name: c.name,
                // No arguments at all: a call without parameters.
                arguments_json: if c.arguments.is_empty() { "{}".to_string() } else { c.arguments },
            });
        }
        Ok(ChatReply {
            text: self.text,
            tool_calls,
            usage: self.usage.unwrap_or(Usage { input_tokens: 0, output_tokens: 0 }),
            model: self.reply_model.unwrap_or(self.model),
            provider,
        })
    }

    /// Add one piece of a tool call to the call it belongs to.
    fn merge(&mut self, piece: CallPiece) {
        let id = piece.id.filter(|id| !id.is_empty());
        let (name, arguments) = match piece.function {
            Some(f) => (f.name.filter(|n| !n.is_empty()), f.arguments),
            None => (None, Value::Null),
        };
        let slot = match piece.index {
            Some(index) => self.calls.iter().position(|c| c.index == index),
            // Without an index (some servers send each call whole): the
            // call with the same id, else a new call when the piece starts
            // one, else the last call.
            None => match &id {
                Some(id) => self.calls.iter().position(|c| &c.id == id),
                None if name.is_some() => None,
                None => self.calls.len().checked_sub(1),
            },
        };
        let slot = slot.unwrap_or_else(|| {
            let next = self.calls.iter().map(|c| c.index + 1).max().unwrap_or(0);
            let index = piece.index.unwrap_or(next);
            self.calls.push(Call { index, id: String::new(), name: String::new(), arguments: String::new() });
            self.calls.len() - 1
        });
        let call = &mut self.calls[slot];
        // The id and name come once, in the first piece; a server that
        // repeats them in later pieces must not double them.
        if let Some(id) = id.filter(|_| call.id.is_empty()) {
            call.id = id;
        }
        if let Some(name) = name.filter(|_| call.name.is_empty()) {
            call.name = name;
        }
        match arguments {
            Value::String(s) => call.arguments.push_str(&s),
            Value::Null => {}
            // Some servers send the arguments as an object, not its text.
            other => call.arguments.push_str(&other.to_string()),
        }
    }

    /// The error a chunk reports.
    fn error(&self, error: &Value) -> ProviderError {
        let said = error
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| error.as_str())
            .map(common::clip)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "the reply stream reported an error".to_string());
        ProviderError {
            failure: Failure::Server,
            message: format!("{}: {said}", self.provider),
            retry_after_ms: None,
            streamed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply;

    /// The reply made of `events`' data, and the text passed on as it came.
    fn read(events: &[&str]) -> (Result<ChatReply, ProviderError>, Vec<String>) {
        let mut acc = Accumulator::new("openai", "gpt-4o");
        let mut deltas = Vec::new();
        for data in events {
            match acc.push(data) {
                Ok(delta) => deltas.push(delta),
                Err(e) => return (Err(e), deltas),
            }
        }
        (acc.finish(), deltas)
    }

    fn calls(r: &ChatReply) -> Vec<(&str, &str, &str)> {
        r.tool_calls.iter().map(|c| (c.id.as_str(), c.name.as_str(), c.arguments_json.as_str())).collect()
    }

    #[test]
    fn text_split_over_chunks_is_passed_on_as_it_comes() {
        let (r, deltas) = read(&[
            r#"{"id":"c1","model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"c1","model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"c1","model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"lo, wörld"},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":[{"type":"text","text":"!"}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":null},"finish_reason":"stop"}],"usage":null}"#,
            r#"{"id":"c1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":4,"total_tokens":16}}"#,
            "[DONE]",
        ]);
        let r = r.unwrap();
        assert_eq!(deltas, ["", "Hel", "lo, wörld", "!", "", "", ""]);
        assert_eq!(r.text, "Hello, wörld!");
        assert!(r.tool_calls.is_empty());
        assert_eq!((r.usage.input_tokens, r.usage.output_tokens), (12, 4));
        assert_eq!((r.provider.as_str(), r.model.as_str()), ("openai", "gpt-4o-2024-08-06"));
    }

    #[test]
    fn tool_calls_in_pieces_are_merged_by_index() {
        let (r, deltas) = read(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"clock","arguments":""}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"echo","arguments":"{\"te"}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"tz\":"}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"xt\":\"x\"}"}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"","function":{"name":"","arguments":"\"UTC\"}"}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ]);
        let r = r.unwrap();
        assert!(deltas.iter().all(String::is_empty));
        assert_eq!(r.text, "");
        assert_eq!(calls(&r), [("call_1", "clock", r#"{"tz":"UTC"}"#), ("call_2", "echo", r#"{"text":"x"}"#)]);
        // No usage chunk, no model: zeros and the model asked for.
        assert_eq!((r.usage.input_tokens, r.usage.output_tokens), (0, 0));
        assert_eq!(r.model, "gpt-4o");
    }

    #[test]
    fn whole_calls_objects_and_missing_ids() {
        let (r, _) = read(&[
            // Out of order, arguments as an object, no id.
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"name":"echo","arguments":{"text":"x"}}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"clock"}}]}}]}"#,
            // No index at all: each a whole call.
            r#"{"choices":[{"delta":{"tool_calls":[{"function":{"name":"pwd","arguments":"{}"}},{"id":"call_c","function":{"name":"ls","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}]}"#,
        ]);
        let r = r.unwrap();
        assert_eq!(
            calls(&r),
            [
                ("call_a", "clock", "{}"),
                ("claw_call_1", "echo", r#"{"text":"x"}"#),
                ("claw_call_2", "pwd", "{}"),
                ("call_c", "ls", r#"{"a":1}"#),
            ]
        );
    }

    #[test]
    fn other_choices_are_ignored() {
        let (r, deltas) = read(&[
            r#"{"choices":[{"index":1,"delta":{"content":"other"}},{"index":0,"delta":{"content":"mine"}}]}"#,
            r#"{"choices":[{"index":1,"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        ]);
        assert_eq!(deltas, ["mine", "", ""]);
        assert_eq!(r.unwrap().text, "mine");
    }

    #[test]
    fn an_error_chunk_is_a_server_failure_with_the_providers_message() {
        let long = format!("upstream\n{}", "x".repeat(1000));
        let chunk = serde_json::json!({"error": {"message": long, "code": 502}}).to_string();
        let (r, deltas) = read(&[r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#, &chunk]);
        let e = r.unwrap_err();
        assert_eq!(deltas, ["Hi"]);
        assert_eq!(e.failure, Failure::Server);
        assert!(!e.streamed);
        assert!(e.message.starts_with("openai: upstream xxx"), "{}", e.message);
        assert!(!e.message.contains('\n'));
        assert_eq!(e.message.chars().count(), "openai: ".len() + common::MAX_MESSAGE_CHARS + 1);
        let (r, _) = read(&[r#"{"error":"model overloaded"}"#]);
        assert_eq!(r.unwrap_err().message, "openai: model overloaded");
        let (r, _) = read(&[r#"{"error":{}}"#]);
        assert_eq!(r.unwrap_err().message, "openai: the reply stream reported an error");
    }

    #[test]
    fn a_chunk_that_is_not_json_is_an_invalid_reply() {
        for data in ["<html>", "[]", r#"{"choices":"many"}"#, r#"{"choices":[{"delta":{"tool_calls":{}}}]}"#] {
            let (r, _) = read(&[data]);
            let e = r.unwrap_err();
            assert_eq!(e.failure, Failure::InvalidReply, "{}", e.message);
            assert!(e.message.starts_with("openai: invalid reply"), "{}", e.message);
        }
    }

    #[test]
    fn a_stream_cut_short_is_a_network_failure() {
        for events in [&[][..], &[r#"{"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#]] {
            let e = read(events).0.unwrap_err();
            assert_eq!(e.failure, Failure::Network);
            assert_eq!(e.message, "openai: the reply stream ended before it was complete");
            assert!(!e.streamed);
        }
        // A finish reason without `[DONE]` is complete (not every server sends it).
        let (r, _) = read(&[r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}"#]);
        assert_eq!(r.unwrap().text, "Hi");
    }

    #[test]
    fn a_stream_without_choices_is_an_invalid_reply() {
        let (r, _) = read(&[r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":0}}"#, "[DONE]"]);
        let e = r.unwrap_err();
        assert_eq!(e.failure, Failure::InvalidReply);
        assert_eq!(e.message, "openai: invalid reply: no choices");
    }

    #[test]
    fn after_done_nothing_counts_and_blank_data_is_skipped() {
        let (r, deltas) = read(&["", r#"{"choices":[{"delta":{"content":"a"}}]}"#, " [DONE] ", "not json"]);
        assert_eq!(deltas, ["", "a", "", ""]);
        assert_eq!(r.unwrap().text, "a");
    }

    #[test]
    fn the_same_reply_as_a_whole_one() {
        let whole = br#"{"model":"gpt-4o-mini","choices":[{"message":{"role":"assistant","content":"Let me check.",
            "tool_calls":[{"id":"call_1","type":"function","function":{"name":"clock","arguments":"{\"tz\":\"UTC\"}"}},
                {"type":"function","function":{"name":"echo","arguments":{"text":"x"}}}]},"finish_reason":"tool_calls"}],
            "usage":{"prompt_tokens":30,"completion_tokens":9}}"#;
        let (streamed, _) = read(&[
            r#"{"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"Let me"}}]}"#,
            r#"{"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" check."}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"clock","arguments":"{\"tz\""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":\"UTC\"}"}},{"index":1,"function":{"name":"echo","arguments":{"text":"x"}}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":30,"completion_tokens":9}}"#,
            "[DONE]",
        ]);
        let whole = reply::parse(whole, "openai", "gpt-4o").unwrap();
        assert_eq!(format!("{:?}", streamed.unwrap()), format!("{whole:?}"));
    }
}

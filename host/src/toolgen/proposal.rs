//! The LLM's whole answer for a tool, as plain data: its source, the grant
//! it asks for, and examples that are its tests.
//!
//! ```json
//! {"files": {"src/lib.rs": "…"},
//!  "grant": "[[http]]\nurl = \"https://api.example.com/**\"\n",
//!  "examples": [{"params": {"text": "hi"}, "output": "HI"},
//!               {"params": {"text": ""}, "error": "must not be empty"}]}
//! ```

use super::GeneratedSource;
use super::source::{SourceError, unfence};
use crate::grant::Grant;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// At most this many examples.
pub const MAX_EXAMPLES: usize = 8;
/// The largest grant text accepted.
const MAX_GRANT_BYTES: usize = 4 << 10;

/// A tool as the LLM proposed it, checked as data (it has not been built).
#[derive(Debug, Clone)]
pub struct Proposal {
    /// Its source files.
    pub source: GeneratedSource,
    /// The grant it asks for, as TOML (empty: the sandbox only).
    pub grant: String,
    /// Its tests: parameters and what a call must give.
    pub examples: Vec<Example>,
}

/// One example: a call and what it must give.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The parameters, a JSON object.
    pub params: Value,
    /// What the call must give.
    pub expect: Expect,
}

/// What an example's call must give.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// This JSON output, exactly (as a value: spacing and key order aside).
    Output(Value),
    /// An error whose message contains this text.
    Error(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    files: BTreeMap<String, String>,
    #[serde(default)]
    grant: String,
    examples: Vec<RawExample>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExample {
    params: Value,
    output: Option<Value>,
    error: Option<String>,
}

fn refuse(message: impl Into<String>) -> SourceError {
    SourceError { message: message.into() }
}

impl Proposal {
    /// Parse and check an answer; a fenced ```json block is accepted.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] the LLM can act on: not the JSON asked for, a file
    /// it may not write, a grant that does not parse, examples missing or
    /// malformed.
    pub fn parse(answer: &str) -> Result<Proposal, SourceError> {
        let answer: Answer = serde_json::from_str(unfence(answer)).map_err(|e| {
            refuse(format!(
                "the answer is not the JSON asked for ({e}): reply with only one object {{\"files\": {{…}}, \"grant\": \"…\", \"examples\": [{{\"params\": {{…}}, \"output\": …}}]}}"
            ))
        })?;
        let source = GeneratedSource::from_files(answer.files)?;
        if answer.grant.len() > MAX_GRANT_BYTES {
            return Err(refuse(format!("the grant is {} bytes: at most {MAX_GRANT_BYTES}", answer.grant.len())));
        }
        Grant::parse(&answer.grant, "the grant you asked for")
            .map_err(|e| refuse(format!("the grant does not parse: {e}")))?;
        if answer.examples.is_empty() {
            return Err(refuse("no examples: give at least one call with its expected output (they are the tests)"));
        }
        if answer.examples.len() > MAX_EXAMPLES {
            return Err(refuse(format!("{} examples: at most {MAX_EXAMPLES}", answer.examples.len())));
        }
        let examples = answer
            .examples
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let n = i + 1;
                if !e.params.is_object() {
                    return Err(refuse(format!("example {n}: params must be a JSON object")));
                }
                let expect = match (e.output, e.error) {
                    (Some(out), None) => Expect::Output(out),
                    (None, Some(err)) if !err.trim().is_empty() => Expect::Error(err),
                    _ => {
                        return Err(refuse(format!(
                            "example {n}: give exactly one of \"output\" (the JSON the call returns) or \"error\" (text its error contains)"
                        )));
                    }
                };
                Ok(Example { params: e.params, expect })
            })
            .collect::<Result<_, _>>()?;
        Ok(Proposal { source, grant: answer.grant, examples })
    }
}

impl Example {
    /// Whether a call's result meets the example; otherwise what went
    /// differently, for the LLM's next round.
    ///
    /// # Errors
    ///
    /// What was expected and what came.
    pub fn check(&self, result: &Result<String, String>) -> Result<(), String> {
        match (&self.expect, result) {
            (Expect::Output(want), Ok(got)) => match serde_json::from_str::<Value>(got) {
                Ok(v) if &v == want => Ok(()),
                _ => Err(format!("expected the output {want}, got {got}")),
            },
            (Expect::Output(want), Err(e)) => Err(format!("expected the output {want}, got the error: {e}")),
            (Expect::Error(want), Err(e)) if e.contains(want.as_str()) => Ok(()),
            (Expect::Error(want), Err(e)) => Err(format!("expected an error containing {want:?}, got the error: {e}")),
            (Expect::Error(want), Ok(got)) => {
                Err(format!("expected an error containing {want:?}, got the output {got}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(grant: &str, examples: Value) -> String {
        json!({"files": {"src/lib.rs": "//"}, "grant": grant, "examples": examples}).to_string()
    }

    #[test]
    fn a_whole_answer_parses_into_source_grant_and_examples() {
        let text = answer(
            "[[http]]\nurl = \"https://api.example.com/**\"\n",
            json!([{"params": {"text": "hi"}, "output": "HI"}, {"params": {"text": ""}, "error": "empty"}]),
        );
        let p = Proposal::parse(&format!("```json\n{text}\n```")).unwrap();
        assert!(p.grant.contains("api.example.com"));
        assert_eq!(p.source.files.len(), 1);
        assert_eq!(p.examples[0].expect, Expect::Output(json!("HI")));
        assert_eq!(p.examples[1].expect, Expect::Error("empty".into()));
        let bare = json!({"files": {"src/lib.rs": ""}, "examples": [{"params": {}, "output": 1}]}).to_string();
        assert_eq!(Proposal::parse(&bare).unwrap().grant, "", "no grant: the sandbox only");
    }

    #[test]
    fn each_flaw_is_named_for_the_next_round() {
        for (text, says) in [
            (answer("[[http]]\nurl = 3\n", json!([{"params": {}, "output": 1}])), "grant does not parse"),
            (answer("", json!([])), "no examples"),
            (answer("", json!([{"params": [], "output": 1}])), "example 1: params must be a JSON object"),
            (answer("", json!([{"params": {}}])), "exactly one of"),
            (answer("", json!([{"params": {}, "output": 1, "error": "x"}])), "exactly one of"),
            (answer("", json!([{"params": {}, "output": 1, "check": 2}])), "unknown field"),
            (
                answer("", json!((0..=MAX_EXAMPLES).map(|_| json!({"params": {}, "output": 1})).collect::<Vec<_>>())),
                "at most",
            ),
            (json!({"files": {"Cargo.toml": ""}, "examples": []}).to_string(), "outside src/"),
            ("here you go".to_string(), "not the JSON asked for"),
        ] {
            let e = Proposal::parse(&text).unwrap_err();
            assert!(e.message.contains(says), "{text}: {}", e.message);
        }
    }

    #[test]
    fn an_example_holds_only_for_what_it_names() {
        let out = Example { params: json!({}), expect: Expect::Output(json!({"a": 1, "b": [2]})) };
        assert!(out.check(&Ok(r#"{ "b": [2], "a": 1 }"#.into())).is_ok(), "key order and spacing aside");
        assert!(out.check(&Ok(r#"{"a": 1}"#.into())).unwrap_err().contains("expected the output"));
        assert!(out.check(&Err("boom".into())).unwrap_err().contains("got the error: boom"));
        let err = Example { params: json!({}), expect: Expect::Error("empty".into()) };
        assert!(err.check(&Err("text must not be empty".into())).is_ok());
        assert!(err.check(&Err("too long".into())).is_err());
        assert!(err.check(&Ok("\"fine\"".into())).unwrap_err().contains("got the output"));
    }
}

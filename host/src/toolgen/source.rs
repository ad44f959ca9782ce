//! What an LLM may hand back as a tool's source: a JSON object
//! `{"files": {"src/lib.rs": "…", "src/parse.rs": "…"}}`. Only the tool's
//! own Rust files under `src/`; the manifest, the dependencies and any
//! build script are claw's, so generated code cannot reach past the
//! allowlist or run anything at build time.

use serde::Deserialize;
use std::collections::BTreeMap;

/// At most this many files.
pub const MAX_FILES: usize = 16;
/// At most this many bytes in all.
pub const MAX_BYTES: usize = 256 << 10;

/// The files of a generated tool, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedSource {
    /// Relative path (`src/…rs`) → text, sorted.
    pub files: BTreeMap<String, String>,
}

/// Why an answer is not a tool's source: what, and what to write instead
/// (the text goes back to the LLM for its next round).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    /// What is wrong, naming the file.
    pub message: String,
}

fn refuse(message: impl Into<String>) -> SourceError {
    SourceError { message: message.into() }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    files: BTreeMap<String, String>,
}

/// Whether `path` is one the LLM may write: `src/`, then `NAME.rs` or
/// `DIR/…/NAME.rs`, plain lowercase names, nothing that climbs out.
fn allowed(path: &str) -> Result<(), String> {
    let Some(rest) = path.strip_prefix("src/") else {
        return Err(format!("`{path}` is outside src/: only the tool's own src/*.rs files may be written"));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let (file, dirs) = segments.split_last().expect("split gives one segment at least");
    if !dirs.iter().all(|d| plain(d)) || !file.strip_suffix(".rs").is_some_and(plain) {
        return Err(format!("`{path}` is not a plain src/…/name.rs path (lowercase letters, digits, `_`)"));
    }
    if path == "src/build.rs" || path == "src/main.rs" {
        return Err(format!("`{path}` may not be written: a tool is a library (src/lib.rs), with no build script"));
    }
    Ok(())
}

/// The JSON inside a fenced block (```json … ```), or the text itself.
pub(super) fn unfence(answer: &str) -> &str {
    let text = answer.trim();
    text.strip_prefix("```json")
        .or_else(|| text.strip_prefix("```"))
        .and_then(|t| t.trim_end().strip_suffix("```"))
        .unwrap_or(text)
}

impl GeneratedSource {
    /// Parse and check an LLM's answer. A fenced block (```json … ```)
    /// around the object is accepted; anything else around it is not.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] naming what is wrong: not the JSON asked for, a
    /// path outside `src/`, no `src/lib.rs`, too many files or bytes.
    pub fn parse(answer: &str) -> Result<GeneratedSource, SourceError> {
        let answer: Answer = serde_json::from_str(unfence(answer)).map_err(|e| {
            refuse(format!(
                "the answer is not the JSON asked for ({e}): reply with only {{\"files\": {{\"src/lib.rs\": \"…\"}}}}"
            ))
        })?;
        GeneratedSource::from_files(answer.files)
    }

    /// Check files already taken out of an answer (see [`GeneratedSource::parse`]).
    ///
    /// # Errors
    ///
    /// As [`GeneratedSource::parse`], for everything but the JSON.
    pub fn from_files(files: BTreeMap<String, String>) -> Result<GeneratedSource, SourceError> {
        let answer = Answer { files };
        if answer.files.len() > MAX_FILES {
            return Err(refuse(format!("{} files: at most {MAX_FILES}", answer.files.len())));
        }
        let total: usize = answer.files.values().map(String::len).sum();
        if total > MAX_BYTES {
            return Err(refuse(format!("{total} bytes of source: at most {MAX_BYTES}")));
        }
        for path in answer.files.keys() {
            allowed(path).map_err(refuse)?;
        }
        if !answer.files.contains_key("src/lib.rs") {
            return Err(refuse("no src/lib.rs: the tool's code starts there (with `export_tool!`)"));
        }
        Ok(GeneratedSource { files: answer.files })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tools_own_files_are_accepted_fenced_or_bare() {
        let bare = r#"{"files": {"src/lib.rs": "mod parse;", "src/parse.rs": "", "src/util/mod.rs": ""}}"#;
        let s = GeneratedSource::parse(bare).unwrap();
        assert_eq!(s.files.len(), 3);
        let fenced = format!("```json\n{bare}\n```\n");
        assert_eq!(GeneratedSource::parse(&fenced).unwrap(), s);
    }

    #[test]
    fn manifests_build_scripts_and_escapes_are_refused_by_name() {
        for (path, says) in [
            ("Cargo.toml", "outside src/"),
            ("build.rs", "outside src/"),
            ("src/build.rs", "no build script"),
            ("src/main.rs", "no build script"),
            ("src/../Cargo.toml", "not a plain"),
            ("src//x.rs", "not a plain"),
            ("src/x.txt", "not a plain"),
            ("src/X.rs", "not a plain"),
            ("/etc/passwd", "outside src/"),
            (".cargo/config.toml", "outside src/"),
        ] {
            let answer = serde_json::json!({"files": {"src/lib.rs": "", path: "x"}}).to_string();
            let e = GeneratedSource::parse(&answer).unwrap_err();
            assert!(e.message.contains(path) && e.message.contains(says), "{path}: {}", e.message);
        }
    }

    #[test]
    fn an_answer_that_is_not_source_says_what_to_send() {
        let e = GeneratedSource::parse("Sure! Here is the code: fn main() {}").unwrap_err();
        assert!(e.message.contains("not the JSON asked for") && e.message.contains("src/lib.rs"), "{}", e.message);
        let e = GeneratedSource::parse(r#"{"files": {"src/other.rs": ""}}"#).unwrap_err();
        assert!(e.message.contains("no src/lib.rs"), "{}", e.message);
        let e = GeneratedSource::parse(r#"{"files": {"src/lib.rs": ""}, "deps": ["reqwest"]}"#).unwrap_err();
        assert!(e.message.contains("unknown field"), "dependencies are not the LLM's to choose: {}", e.message);
        let many: BTreeMap<String, String> = (0..=MAX_FILES).map(|i| (format!("src/m{i}.rs"), String::new())).collect();
        let e = GeneratedSource::parse(&serde_json::json!({"files": many}).to_string()).unwrap_err();
        assert!(e.message.contains("at most"), "{}", e.message);
        let big = "x".repeat(MAX_BYTES + 1);
        let e = GeneratedSource::parse(&serde_json::json!({"files": {"src/lib.rs": big}}).to_string()).unwrap_err();
        assert!(e.message.contains("bytes of source"), "{}", e.message);
    }
}

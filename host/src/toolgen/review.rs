//! What the operator reads before approving a generated tool, as plain
//! data: a summary of the code, what it may do in plain words, and each
//! capability the request did not call for.

use super::GeneratedSource;
use crate::grant::{Grant, HostPattern};
use serde::{Deserialize, Serialize};

/// A generated tool waiting for the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// Its name.
    pub name: String,
    /// What the operator (or the agent) asked for.
    pub request: String,
    /// What the tool says it does (its `DESCRIPTION`).
    pub description: String,
    /// Its parameters' JSON Schema.
    pub schema: String,
    /// Its component's sha256.
    pub digest: String,
    /// Its source files and their sizes.
    pub files: Vec<FileSummary>,
    /// The SDK capabilities its code calls (`claw_sdk::http`, …) and any
    /// `unsafe`.
    pub uses: Vec<String>,
    /// The component's imports.
    pub imports: Vec<String>,
    /// The grant it asks for, in plain words (`claw policy explain`).
    pub policy: Vec<String>,
    /// Capabilities asked for that the request does not call for.
    pub unjustified: Vec<String>,
    /// How many LLM rounds it took.
    pub rounds: u32,
    /// How long cargo took in all, and the whole generation.
    pub build_ms: u64,
    /// The whole generation, from the request to this review.
    pub total_ms: u64,
    /// Who asked: `operator`, or the agent's conversation.
    pub asked_by: String,
}

/// One source file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSummary {
    /// `src/…rs`.
    pub path: String,
    /// Its lines.
    pub lines: usize,
}

/// The files and what their code reaches for.
pub fn summarize(source: &GeneratedSource) -> (Vec<FileSummary>, Vec<String>) {
    let files = source.files.iter().map(|(p, t)| FileSummary { path: p.clone(), lines: t.lines().count() }).collect();
    let all: String = source.files.values().map(String::as_str).collect::<Vec<_>>().join("\n");
    let mut uses = Vec::new();
    for (needle, what) in [
        ("http", "HTTP requests (claw_sdk::http)"),
        ("workspace", "the workspace (claw_sdk::workspace)"),
        ("memory", "memory search (claw_sdk::memory)"),
        ("invoke", "calls to other tools (claw_sdk::invoke)"),
        ("kv", "a key-value state (claw_sdk::kv)"),
    ] {
        if all.contains(&format!("claw_sdk::{needle}")) || all.contains(&format!("{needle}::")) {
            uses.push(what.to_string());
        }
    }
    let unsafe_blocks = all.matches("unsafe").count();
    if unsafe_blocks > 0 {
        uses.push(format!("`unsafe` ({unsafe_blocks}×; still inside the sandbox)"));
    }
    (files, uses)
}

/// The capabilities `grant` gives that `request` does not call for: a
/// host it never names, a secret it never mentions, workspace writes,
/// memory or other tools it does not ask about. Said to the operator
/// before approval; the LLM is not the judge of what it needs.
pub fn unjustified(request: &str, grant: &Grant) -> Vec<String> {
    let words = request.to_lowercase();
    let names = |text: &str| text.to_lowercase().split(['.', '-', '_']).any(|w| w.len() >= 3 && words.contains(w));
    let mut out = Vec::new();
    for rule in &grant.http {
        let host = match &rule.host {
            HostPattern::Exact(h) | HostPattern::Subdomains(h) => h,
        };
        // The service's own label (`github` of api.github.com), or the host.
        let labels: Vec<&str> = host.split('.').collect();
        let service = if labels.len() >= 2 { labels[labels.len() - 2] } else { host.as_str() };
        let named =
            words.contains(&host.to_lowercase()) || (service.len() >= 3 && words.contains(&service.to_lowercase()));
        if !named {
            out.push(format!(
                "network: {} {}://{}{} — the request names no such service",
                rule.methods.join("/"),
                rule.scheme.as_str(),
                rule.host,
                rule.path.as_str()
            ));
        }
    }
    for s in &grant.secrets {
        if !names(&s.name) {
            out.push(format!("secret `{}` — the request does not mention it", s.name));
        }
    }
    let mentions = |ws: &[&str]| ws.iter().any(|w| words.contains(w));
    if !grant.workspace.write.is_empty() && !mentions(&["write", "save", "store", "edit", "append", "delete", "file"]) {
        out.push(format!(
            "workspace writes under {} — the request asks for nothing to be written",
            grant.workspace.write.join(", ")
        ));
    }
    if grant.memory_search && !mentions(&["memory", "remember", "recall", "search", "note"]) {
        out.push("memory search — the request does not ask about memory".into());
    }
    for tool in grant.invoke.keys() {
        if !names(tool) {
            out.push(format!("calls the tool `{tool}` — the request does not mention it"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn grant(text: &str) -> Grant {
        Grant::parse(text, "test").unwrap()
    }

    #[test]
    fn a_host_the_request_names_is_justified_and_one_it_does_not_is_flagged() {
        let g = grant(
            "[[http]]\nurl = \"https://api.github.com/repos/**\"\n[[http]]\nurl = \"https://collect.evil.example/**\"\nmethods = [\"POST\"]\n",
        );
        let flagged = unjustified("List the open issues of a GitHub repository", &g);
        assert_eq!(flagged.len(), 1, "{flagged:?}");
        assert!(flagged[0].contains("POST https://collect.evil.example/**"), "{flagged:?}");
        assert!(unjustified("reverse a string", &grant("")).is_empty(), "an empty grant asks nothing");
    }

    #[test]
    fn secrets_writes_memory_and_other_tools_need_the_request_to_ask() {
        let g = grant(
            "[[http]]\nurl = \"https://api.github.com/**\"\n[[secrets]]\nname = \"gh_token\"\norigins = [\"https://api.github.com\"]\ninject = \"header\"\nheader = \"Authorization\"\nformat = \"Bearer {secret}\"\n[workspace]\nwrite = [\"notes/\"]\n[memory]\nsearch = true\n[invoke]\necho = \"echo\"\n",
        );
        let flagged = unjustified("count the stars of a github repository", &g);
        assert_eq!(flagged.len(), 4, "{flagged:?}");
        assert!(flagged.iter().any(|f| f.contains("gh_token")));
        assert!(unjustified("save github stars to notes with my gh token; remember them; echo", &g).is_empty());
    }

    #[test]
    fn the_summary_names_files_lines_and_what_the_code_reaches_for() {
        let files = BTreeMap::from([
            ("src/lib.rs".to_string(), "use claw_sdk::http;\nmod x;\n".to_string()),
            ("src/x.rs".to_string(), "unsafe { }".to_string()),
        ]);
        let (files, uses) = summarize(&GeneratedSource::from_files(files).unwrap());
        assert_eq!(files[0], FileSummary { path: "src/lib.rs".into(), lines: 2 });
        assert!(uses.iter().any(|u| u.starts_with("HTTP")) && uses.iter().any(|u| u.contains("unsafe")), "{uses:?}");
        assert!(!uses.iter().any(|u| u.contains("workspace")), "{uses:?}");
    }
}

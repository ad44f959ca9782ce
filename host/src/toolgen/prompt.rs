//! What the LLM is told: the SDK's template and its documentation (an
//! outline taken from the SDK claw carries, so it cannot drift), the grant
//! format, the answer's shape; then, each round, what went wrong.

use crate::llm::{Message, Role};

const TEMPLATE: &str = include_str!("../../../templates/tool/src/lib.rs.tmpl");
const GRANT: &str = include_str!("../../../templates/tool/grant.toml");

/// The SDK's sources the outline is made of.
const SDK: &[(&str, &str)] = &[
    ("claw_sdk", include_str!("../../../sdk/src/lib.rs")),
    ("claw_sdk::Error", include_str!("../../../sdk/src/error.rs")),
    ("claw_sdk::workspace", include_str!("../../../sdk/src/workspace.rs")),
    ("claw_sdk::memory", include_str!("../../../sdk/src/memory.rs")),
    ("claw_sdk::invoke", include_str!("../../../sdk/src/invoke.rs")),
    ("claw_sdk::kv", include_str!("../../../sdk/src/kv.rs")),
    ("claw_sdk::http", include_str!("../../../sdk/client/src/http.rs")),
];

/// The documentation and public signatures of a Rust file: doc comments,
/// and each `pub` item's first line up to its body.
pub fn outline(source: &str) -> String {
    let mut out = Vec::new();
    for line in source.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("///") || t.starts_with("//!") {
            out.push(line.trim_end().to_string());
        } else if t.starts_with("pub ") && !t.starts_with("pub mod bindings") && !t.starts_with("pub use") {
            let head = t.split(" {").next().unwrap_or(t).trim_end_matches(['{', ';', ' ']);
            let indent = &line[..line.len() - t.len()];
            out.push(format!("{indent}{head};"));
        }
    }
    out.join("\n")
}

/// The system prompt for writing the tool `name`.
pub fn system(name: &str) -> String {
    let type_name: String = name
        .split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect();
    let template = TEMPLATE
        .replace("{{name}}", name)
        .replace("{{crate_name}}", &name.replace('-', "_"))
        .replace("{{type_name}}", &type_name);
    let sdk: Vec<String> = SDK.iter().map(|(m, s)| format!("### {m}\n\n```rust\n{}\n```", outline(s))).collect();
    format!(
        "You write one claw tool in Rust: a WebAssembly component (wasm32-wasip2) built against claw-sdk, \
         which runs in a sandbox that allows nothing its grant does not name.\n\n\
         Rules:\n\
         - Write only the tool's own source files under src/ (src/lib.rs first). The manifest is fixed: \
         claw-sdk is the only dependency (it re-exports serde, serde_json and schemars); there is no build script; \
         the build runs offline.\n\
         - Set Tool::DESCRIPTION to say, for another LLM, what the tool does and when to use it. \
         Document every parameter field.\n\
         - Ask in the grant for exactly what the tool needs and nothing more: the operator reads it before \
         anything runs, and anything the request does not call for is pointed out to them. \
         A credential is never in the code: name a vault secret in the grant and the boundary injects it.\n\
         - Give examples: calls with the JSON output they return (or text their error contains). \
         They run as tests with no capability at all (no network, no workspace), so make them exercise \
         the tool's own logic.\n\n\
         Reply with only one JSON object, no prose:\n\
         {{\"files\": {{\"src/lib.rs\": \"…\"}}, \"grant\": \"TOML text, empty for none\", \
         \"examples\": [{{\"params\": {{…}}, \"output\": …}}, {{\"params\": {{…}}, \"error\": \"…\"}}]}}\n\n\
         ## The template (src/lib.rs)\n\n```rust\n{template}\n```\n\n\
         ## The grant format\n\n```toml\n{GRANT}\n```\n\n\
         ## The SDK\n\n{}\n",
        sdk.join("\n\n")
    )
}

/// The first request: the operator's description.
pub fn first(name: &str, request: &str) -> Vec<Message> {
    vec![
        Message::text(Role::System, system(name)),
        Message::text(Role::User, format!("Write the tool `{name}`: {request}")),
    ]
}

/// What goes back after a round that failed: the answer as it was, then
/// what to fix.
pub fn retry(messages: &mut Vec<Message>, answer: &str, stage: &str, problem: &str) {
    messages.push(Message::text(Role::Assistant, answer));
    messages.push(Message::text(
        Role::User,
        format!("That did not pass {stage}:\n\n{problem}\n\nFix it and reply with the whole JSON object again."),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outline_keeps_docs_and_signatures_and_drops_bodies_and_tests() {
        let src = "//! A module.\n/// Send it.\npub fn send(r: &Request) -> Result<(), Failure> {\n    body();\n}\nfn private() {}\n#[cfg(test)]\nmod tests { pub fn hidden() {} }\n";
        let o = outline(src);
        assert_eq!(o, "//! A module.\n/// Send it.\npub fn send(r: &Request) -> Result<(), Failure>;");
    }

    #[test]
    fn the_system_prompt_carries_the_real_template_grant_format_and_sdk() {
        let s = system("word-count");
        assert!(s.contains("struct WordCount") && s.contains("export_tool!(WordCount)"), "the template, filled in");
        assert!(s.contains("[[http]]") && s.contains("pub fn send"), "the grant format and the SDK's http");
        assert!(s.contains("pub trait Tool"), "the Tool trait");
        assert!(!s.contains("{{"), "no placeholder left");
    }
}

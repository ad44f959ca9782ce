//! The check, at add time, of a component's imports against its grant.
//! An import the grant does not cover is refused with the line to add.

use super::Grant;
use crate::problem::Problem;

/// What an import is, from the host's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportClass {
    /// WASI the sandbox gives every component with no authority behind it:
    /// clocks, randomness, streams, an empty environment, no files.
    Sandbox,
    /// `claw:runtime/types`: type definitions only.
    Types,
    /// `claw:runtime/log`: always granted, capped per call.
    Log,
    /// `wasi:http/types`: request and response values; no egress by itself.
    HttpTypes,
    /// `wasi:http/outgoing-handler`: egress, through the boundary.
    Http,
    /// `claw:runtime/workspace`.
    Workspace,
    /// `claw:runtime/memory`.
    Memory,
    /// `claw:runtime/secrets`.
    Secrets,
    /// `claw:runtime/invoke`.
    Invoke,
    /// `claw:runtime/kv`.
    Kv,
    /// `claw:runtime/inbox`.
    Inbox,
    /// `claw:runtime/toolgen`.
    Toolgen,
    /// `claw:runtime/reply-stream`: the LLM's words to the person waiting;
    /// only the LLM (whose grant says `[providers]`) may import it.
    ReplyStream,
    /// `wasi:sockets/*`: refused; egress goes through `wasi:http`.
    Sockets,
    /// Anything else.
    Unknown,
}

/// Classify an import name such as `wasi:http/outgoing-handler@0.2.12`.
pub fn classify_import(name: &str) -> ImportClass {
    let base = name.split('@').next().unwrap_or(name);
    match base {
        "claw:runtime/types" | "claw:runtime/llm-types" | "claw:runtime/channel-types" => ImportClass::Types,
        "claw:runtime/log" => ImportClass::Log,
        "claw:runtime/workspace" => ImportClass::Workspace,
        "claw:runtime/memory" => ImportClass::Memory,
        "claw:runtime/secrets" => ImportClass::Secrets,
        "claw:runtime/invoke" => ImportClass::Invoke,
        "claw:runtime/reply-stream" => ImportClass::ReplyStream,
        "claw:runtime/kv" => ImportClass::Kv,
        "claw:runtime/inbox" => ImportClass::Inbox,
        "claw:runtime/toolgen" => ImportClass::Toolgen,
        "wasi:http/types" => ImportClass::HttpTypes,
        "wasi:http/outgoing-handler" => ImportClass::Http,
        _ if base.starts_with("wasi:sockets/") => ImportClass::Sockets,
        "wasi:io/error"
        | "wasi:io/poll"
        | "wasi:io/streams"
        | "wasi:clocks/monotonic-clock"
        | "wasi:clocks/wall-clock"
        | "wasi:random/random"
        | "wasi:random/insecure"
        | "wasi:random/insecure-seed"
        | "wasi:cli/environment"
        | "wasi:cli/exit"
        | "wasi:cli/stdin"
        | "wasi:cli/stdout"
        | "wasi:cli/stderr"
        | "wasi:cli/terminal-input"
        | "wasi:cli/terminal-output"
        | "wasi:cli/terminal-stdin"
        | "wasi:cli/terminal-stdout"
        | "wasi:cli/terminal-stderr"
        | "wasi:filesystem/types"
        | "wasi:filesystem/preopens" => ImportClass::Sandbox,
        _ => ImportClass::Unknown,
    }
}

/// Whether `grant` covers an import of `class`; `None` for what needs no
/// grant (or can never have one).
fn covered(class: ImportClass, grant: &Grant) -> Option<bool> {
    Some(match class {
        ImportClass::Http => !grant.http.is_empty() || grant.providers,
        ImportClass::Workspace => !grant.workspace.is_empty(),
        ImportClass::Memory => grant.memory_search,
        ImportClass::Secrets => !grant.secrets.is_empty(),
        ImportClass::Invoke => !grant.invoke.is_empty(),
        ImportClass::Kv => grant.kv.is_some(),
        ImportClass::Inbox => grant.inbox.is_some(),
        ImportClass::Toolgen => grant.toolgen,
        ImportClass::ReplyStream => grant.providers,
        _ => return None,
    })
}

/// The grant section that covers `class`, and an example of it.
fn section_for(class: ImportClass) -> (&'static str, &'static str) {
    match class {
        ImportClass::Http => {
            ("[[http]] rule", "  [[http]]\n  url = \"https://api.example.com/**\"\n  methods = [\"GET\"]")
        }
        ImportClass::Workspace => {
            ("[workspace] paths", "  [workspace]\n  read = [\"notes/\"]\n  write = [\"notes/drafts/\"]")
        }
        ImportClass::Memory => ("[memory] section", "  [memory]\n  search = true"),
        ImportClass::Secrets => (
            "[[secrets]] entry",
            "  [[secrets]]\n  name = \"my_token\"\n  origins = [\"https://api.example.com\"]\n  inject = \"header\"\n  header = \"Authorization\"\n  format = \"Bearer {secret}\"",
        ),
        ImportClass::Invoke => ("[invoke] aliases", "  [invoke]\n  echo = \"echo\""),
        ImportClass::Kv => ("[kv] section", "  [kv]\n  max_kib = 64"),
        ImportClass::Toolgen => ("[toolgen] section", "  [toolgen]\n  request = true"),
        _ => ("[inbox] section", "  [inbox]\n  poll = \"30s\"   # optional: call its poll this often"),
    }
}

/// The capability imports `grant` does not cover that deny stubs can
/// stand in for (`claw component add --deny-ungranted`): every capability
/// but the LLM's reply stream, which no stub may fake.
pub fn ungranted(imports: &[String], grant: &Grant) -> Vec<String> {
    imports
        .iter()
        .filter(|i| {
            let class = classify_import(i);
            class != ImportClass::ReplyStream && covered(class, grant) == Some(false)
        })
        .cloned()
        .collect()
}

/// Check every import against the grant.
///
/// # Errors
///
/// A [`Problem`] naming the first import the grant does not cover and the
/// grant lines that would cover it.
pub fn check_imports(imports: &[String], grant: &Grant, grant_file: &str) -> Result<(), Problem> {
    for import in imports {
        let class = classify_import(import);
        if class == ImportClass::ReplyStream && !grant.providers {
            return Err(Problem::new(format!(
                "the component imports `{import}`, which only the LLM router may import: a tool or a channel must not write into the agent's reply"
            ))
            .hint("only an `llm`-world component with `[providers] use = true` in its grant streams the reply"));
        }
        if covered(class, grant) == Some(false) {
            let (section, example) = section_for(class);
            let fix = if grant_file.starts_with('(') {
                format!("if it should have this capability, pass --grant FILE with:\n{example}")
            } else {
                format!("if it should have this capability, add to {grant_file}:\n{example}")
            };
            return Err(Problem::new(format!(
                "the component imports `{import}`, but its grant ({grant_file}) has no {section}: deny by default"
            ))
            .hint(format!("{fix}\nor pass --deny-ungranted to install it with every call there denied")));
        }
        match class {
            ImportClass::Sockets => {
                return Err(Problem::new(format!("the component imports `{import}`: components may not open sockets"))
                    .hint(
                        "make network requests with wasi:http (claw_sdk::http); they go through the egress boundary",
                    ));
            }
            ImportClass::Unknown if !import.contains(':') => {
                return Err(Problem::new(format!(
                    "the component imports `{import}`, an instance another component must provide"
                ))
                .hint("compose it first: `claw component add ROUTER.wasm --plug ADAPTER.wasm` plugs each adapter's export into the matching import (wac-graph)"));
            }
            ImportClass::Unknown => {
                return Err(Problem::new(format!(
                    "the component imports `{import}`, which claw does not provide"
                ))
                .hint("a tool may import claw:runtime/{log,workspace,memory,secrets,invoke}, wasi:http/outgoing-handler and the sandboxed WASI basics (clocks, random, io, cli)"));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sandbox_imports_need_no_grant() {
        let imports = names(&[
            "wasi:cli/environment@0.2.0",
            "wasi:io/streams@0.2.12",
            "claw:runtime/log@0.1.0",
            "claw:runtime/types@0.1.0",
        ]);
        check_imports(&imports, &Grant::default(), "g.toml").unwrap();
    }

    #[test]
    fn ungranted_http_import_names_import_and_fix() {
        let e =
            check_imports(&names(&["wasi:http/outgoing-handler@0.2.12"]), &Grant::default(), "fetch.toml").unwrap_err();
        assert!(e.to_string().contains("wasi:http/outgoing-handler@0.2.12"), "{e}");
        assert!(e.to_string().contains("fetch.toml"), "{e}");
        assert!(e.hint_text().unwrap().contains("[[http]]"));
    }

    #[test]
    fn each_capability_needs_its_section() {
        let g = Grant::default();
        for (import, section) in [
            ("claw:runtime/workspace@0.1.0", "[workspace]"),
            ("claw:runtime/memory@0.1.0", "[memory]"),
            ("claw:runtime/secrets@0.1.0", "[[secrets]]"),
            ("claw:runtime/invoke@0.1.0", "[invoke]"),
            ("claw:runtime/kv@0.1.0", "[kv]"),
            ("claw:runtime/inbox@0.1.0", "[inbox]"),
            ("claw:runtime/toolgen@0.1.0", "[toolgen]"),
        ] {
            let e = check_imports(&names(&[import]), &g, "g.toml").unwrap_err();
            assert!(e.hint_text().unwrap().contains(section), "{import}");
        }
        let g = Grant::parse("[workspace]\nread=[\"a/\"]\n[memory]\nsearch=true\n[invoke]\ne=\"echo\"\n", "g").unwrap();
        check_imports(
            &names(&["claw:runtime/workspace@0.1.0", "claw:runtime/memory@0.1.0", "claw:runtime/invoke@0.1.0"]),
            &g,
            "g",
        )
        .unwrap();
    }

    #[test]
    fn sockets_and_unknown_imports_are_refused_whatever_the_grant() {
        let g = Grant::parse("[[http]]\nurl=\"https://x.com\"\n", "g").unwrap();
        let e = check_imports(&names(&["wasi:sockets/tcp@0.2.0"]), &g, "g").unwrap_err();
        assert!(e.to_string().contains("sockets"));
        let e = check_imports(&names(&["acme:evil/backdoor"]), &g, "g").unwrap_err();
        assert!(e.to_string().contains("acme:evil/backdoor"));
    }

    #[test]
    fn only_the_llm_may_write_into_the_reply() {
        let stream = names(&["claw:runtime/reply-stream@0.1.0"]);
        let tool = Grant::parse("[[http]]\nurl=\"https://x.com\"\n[workspace]\nread=[\"a/\"]\n", "g").unwrap();
        let e = check_imports(&stream, &tool, "g").unwrap_err();
        assert!(e.to_string().contains("only the LLM router"), "{e}");
        let router = Grant::parse("[providers]\nuse = true\n", "g").unwrap();
        check_imports(&stream, &router, "g").unwrap();
    }
}

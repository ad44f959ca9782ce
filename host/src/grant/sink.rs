//! Sinks: what a component's grant lets it change outside its instance,
//! each named so a person (and `[policy] untrusted_ok`) can point at it.
//!
//! The data-flow policy reads these: once a turn holds content from
//! outside, a call to a tool with a guarded sink waits for a person.

use super::{Grant, HostPattern, HttpRule, WorkspaceGrant};

/// One side effect a grant allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sink {
    /// Its name: `POST https://api.example.com/v1/**`, `write notes/`,
    /// `invoke send`, or `tool` (the grant marks the whole tool a sink).
    pub name: String,
    /// The grant declares it safe for untrusted input (`[policy] untrusted_ok`).
    pub untrusted_ok: bool,
}

/// `[policy]`: how the data-flow policy treats this component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyGrant {
    /// The tool itself is a side effect (it sends a message, pays, posts)
    /// even where its grant shows no other sink.
    pub sink: bool,
    /// Sinks declared safe for untrusted input, by name.
    pub untrusted_ok: Vec<String>,
}

/// The HTTP methods that change nothing (RFC 9110's safe methods).
pub const SAFE_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];

/// The sink a request with `method` under `rule` uses: none for a safe
/// method, else `METHOD scheme://host[:port]/path-glob` (the port only
/// when it is not the scheme's own).
pub fn http_sink(rule: &HttpRule, method: &str) -> Option<String> {
    if SAFE_METHODS.iter().any(|m| m.eq_ignore_ascii_case(method)) {
        return None;
    }
    let host = match &rule.host {
        HostPattern::Exact(h) => h.clone(),
        HostPattern::Subdomains(s) => format!("*.{s}"),
    };
    let port = if rule.port == rule.scheme.default_port() { String::new() } else { format!(":{}", rule.port) };
    Some(format!("{} {}://{host}{port}{}", method.to_ascii_uppercase(), rule.scheme.as_str(), rule.path.as_str()))
}

impl WorkspaceGrant {
    /// The sink a write of `path` uses: `write PREFIX` for the first write
    /// prefix it falls under (none: the write is not granted at all).
    pub fn write_sink(&self, path: &str) -> Option<String> {
        self.write.iter().find(|p| super::under(path, p)).map(|p| format!("write {p}"))
    }
}

impl Grant {
    /// Every sink, in grant order: one per unsafe method of each
    /// `[[http]]` rule, one per workspace write prefix, one per invoke
    /// alias, and `tool` when `[policy] sink = true`.
    pub fn sinks(&self) -> Vec<Sink> {
        let mut names = Vec::new();
        for r in &self.http {
            names.extend(r.methods.iter().filter_map(|m| http_sink(r, m)));
        }
        names.extend(self.workspace.write.iter().map(|p| format!("write {p}")));
        names.extend(self.invoke.keys().map(|a| format!("invoke {a}")));
        if self.policy.sink {
            names.push("tool".into());
        }
        // Two rules may name the same sink: it is one sink.
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names
            .into_iter()
            .map(|name| {
                let untrusted_ok = self.policy.untrusted_ok.contains(&name);
                Sink { name, untrusted_ok }
            })
            .collect()
    }

    /// The sinks untrusted content may not drive without a person.
    pub fn guarded_sinks(&self) -> Vec<String> {
        self.sinks().into_iter().filter(|s| !s.untrusted_ok).map(|s| s.name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Grant;

    fn grant(text: &str) -> Grant {
        Grant::parse(text, "g.toml").unwrap()
    }

    #[test]
    fn every_unsafe_method_write_prefix_and_invoke_is_a_sink() {
        let g = grant(
            "[[http]]\nurl = \"https://api.example.com/v1/**\"\nmethods = [\"GET\", \"POST\", \"DELETE\"]\n\
             [[http]]\nurl = \"http://127.0.0.1:8080/hook\"\nmethods = [\"PUT\"]\n\
             [[http]]\nurl = \"https://*.example.org/**\"\nmethods = [\"HEAD\", \"OPTIONS\"]\n\
             [workspace]\nread = [\"notes/\"]\nwrite = [\"out/\"]\n[invoke]\nsend = \"mailer\"\n",
        );
        let names: Vec<String> = g.sinks().into_iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "POST https://api.example.com/v1/**",
                "DELETE https://api.example.com/v1/**",
                "PUT http://127.0.0.1:8080/hook",
                "write out/",
                "invoke send",
            ]
        );
        assert_eq!(g.guarded_sinks(), names);
    }

    #[test]
    fn a_read_only_grant_has_no_sinks_and_a_marked_tool_has_one() {
        assert!(grant("[[http]]\nurl = \"https://example.com/**\"\n[workspace]\nread = [\"a/\"]\n").sinks().is_empty());
        let g = grant("[policy]\nsink = true\n");
        assert_eq!(g.guarded_sinks(), ["tool"]);
    }

    #[test]
    fn untrusted_ok_unguards_only_the_sinks_it_names() {
        let g = grant("[workspace]\nwrite = [\"drafts/\", \"out/\"]\n[policy]\nuntrusted_ok = [\"write drafts/\"]\n");
        let sinks = g.sinks();
        assert!(sinks[0].untrusted_ok && sinks[0].name == "write drafts/");
        assert!(!sinks[1].untrusted_ok);
        assert_eq!(g.guarded_sinks(), ["write out/"]);
    }

    #[test]
    fn naming_a_sink_that_does_not_exist_is_refused_with_the_list() {
        let e =
            Grant::parse("[workspace]\nwrite = [\"out/\"]\n\n[policy]\nuntrusted_ok = [\"write notes/\"]\n", "g.toml")
                .unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.message.contains("`write notes/` is not a sink of this grant"), "{e}");
        assert!(e.hint.as_deref().unwrap().contains("write out/"), "{e:?}");
        let e = Grant::parse("[policy]\nuntrusted_ok = [\"tool\"]\n", "g.toml").unwrap_err();
        assert!(e.hint.as_deref().unwrap().contains("has no sinks"), "{e:?}");
    }
}

//! Provenance: where a turn's context came from. The operator (and the
//! identities paired to them) are trusted; tool outputs, fetched pages,
//! MCP results, what components wrote and other people's messages are
//! not. Once anything untrusted is in the context, the runtime's approval
//! gate guards every sink (`grant::Sink`).

/// The sources of untrusted content in one turn's context, in the order
/// they entered it (each named once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    untrusted: Vec<String>,
}

/// The most sources named in one description: enough to say why, short
/// enough for an approval request.
const NAMED: usize = 3;

/// The longest source name kept.
const SOURCE_CHARS: usize = 120;

impl Provenance {
    /// A context of the operator's words only.
    pub fn trusted() -> Provenance {
        Provenance::default()
    }

    /// Record that content from `source` entered the context.
    pub fn untrusted(&mut self, source: impl Into<String>) {
        let source = source.into();
        if !self.untrusted.contains(&source) {
            self.untrusted.push(source);
        }
    }

    /// Whether anything untrusted is in the context.
    pub fn is_tainted(&self) -> bool {
        !self.untrusted.is_empty()
    }

    /// The untrusted sources, first in first.
    pub fn sources(&self) -> &[String] {
        &self.untrusted
    }

    /// The untrusted sources in words (`None` when there are none): what an
    /// approval request says about why it asks.
    pub fn describe(&self) -> Option<String> {
        let (first, rest) = (self.untrusted.iter().take(NAMED), self.untrusted.len().saturating_sub(NAMED));
        let mut text = first.cloned().collect::<Vec<_>>().join(", ");
        if text.is_empty() {
            return None;
        }
        if rest > 0 {
            text.push_str(&format!(" and {rest} more"));
        }
        Some(text)
    }

    /// Record what a tool result says of itself: each `<untrusted
    /// source="…">` wrapper in it names a source (a result without one —
    /// an error claw wrote — adds nothing).
    pub fn from_result(&mut self, result: &str) {
        let mut rest = result;
        while let Some(at) = rest.find(super::untrusted::OPEN_PREFIX) {
            let after = &rest[at + super::untrusted::OPEN_PREFIX.len()..];
            // Cut: a summary of a summary names its sources inside its own.
            let source: String = after.split('"').next().unwrap_or_default().chars().take(SOURCE_CHARS).collect();
            self.untrusted(if source.is_empty() { "a tool result".to_string() } else { source });
            rest = after;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_named_once_in_order_and_cut_after_three() {
        let mut p = Provenance::trusted();
        assert!(!p.is_tainted());
        assert_eq!(p.describe(), None);
        p.untrusted("tool http-fetch");
        p.untrusted("a message from telegram:42");
        p.untrusted("tool http-fetch");
        assert!(p.is_tainted());
        assert_eq!(p.sources(), ["tool http-fetch", "a message from telegram:42"]);
        p.untrusted("memory notes/a.md");
        p.untrusted("workspace SOUL.md");
        p.untrusted("MCP server fs");
        assert_eq!(p.describe().unwrap(), "tool http-fetch, a message from telegram:42, memory notes/a.md and 2 more");
    }

    #[test]
    fn a_wrapped_result_names_its_source_and_a_plain_error_names_none() {
        let mut p = Provenance::trusted();
        p.from_result("error: the tool `x` is not available in this run");
        assert!(!p.is_tainted());
        p.from_result(&super::super::untrusted::wrap("tool http-fetch", "a page"));
        assert_eq!(p.sources(), ["tool http-fetch"]);
    }
}

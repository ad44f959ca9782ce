//! What enters the LLM's context — the person's message, identity files,
//! recalled memory, tool outputs and fetched pages — has vault values and
//! credential patterns replaced by a labelled marker first
//! (`[redacted: AWS access key id]`). The router's requests then never
//! carry them, so the boundary's leak scan has nothing to block: a page
//! quoting a key cannot make every later request of the session fail.

use crate::boundary::Boundary;
use crate::llm::Message;

/// What was redacted in one turn, for the person and the audit log.
#[derive(Debug, Default)]
pub struct Redactions {
    /// `NAME in SOURCE`, once each.
    pub notes: Vec<String>,
}

impl Redactions {
    /// `text` from `source` (e.g. `tool http-fetch`), redacted; each find
    /// is warned about and audited once.
    pub async fn text(&mut self, boundary: &Boundary, source: &str, text: &str) -> String {
        let secrets = boundary.secrets();
        let Some((clean, names)) = secrets.detector().cut_named(text) else { return text.to_string() };
        for name in names {
            let note = format!("{name} in {source}");
            if !self.notes.contains(&note) {
                tracing::warn!(target: "claw::agent", "redacted from the LLM's context: {note}");
                boundary.note("host:agent", "redact", &format!("redacted from the LLM's context: {note}")).await;
                self.notes.push(note);
            }
        }
        clean
    }

    /// The last guard before the router: every message of the request.
    /// Content from before a secret was added to the vault can still hold
    /// it; nothing is audited here (it was, or predates the vault value).
    pub fn request(boundary: &Boundary, messages: &mut [Message]) {
        let secrets = boundary.secrets();
        let d = secrets.detector();
        for m in messages {
            if let Some((clean, names)) = d.cut_named(&m.content) {
                tracing::warn!(target: "claw::agent", "redacted {} from a stored message before the LLM saw it", names.join(", "));
                m.content = clean;
            }
            // The LLM's own earlier tool calls, e.g. an exfiltration the
            // boundary refused: sent back as they were, they would fail
            // every later request of the session.
            for call in &mut m.tool_calls {
                if let Some((clean, _)) = d.cut_named(&call.arguments_json) {
                    call.arguments_json = clean;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boundary::Secrets;
    use crate::llm::Role;

    fn boundary() -> Boundary {
        let b = Boundary::new(None);
        b.set_secrets(Secrets::from_values([("api_key".to_string(), b"Zq9-very-secret-Value".to_vec())]));
        b
    }

    #[tokio::test]
    async fn vault_values_and_credentials_become_labelled_markers() {
        let b = boundary();
        let mut r = Redactions::default();
        let page = "docs: export KEY=AKIAZQADLC4K2G733XDX; ours is Zq9-very-secret-Value.";
        let out = r.text(&b, "tool http-fetch", page).await;
        assert_eq!(out, "docs: export KEY=[redacted: AWS access key id]; ours is [redacted: secret api_key].");
        assert_eq!(r.notes, vec!["AWS access key id in tool http-fetch", "secret api_key in tool http-fetch"]);
        // The documentation example is no finding: left as it is.
        assert_eq!(r.text(&b, "tool x", "AKIAIOSFODNN7EXAMPLE").await, "AKIAIOSFODNN7EXAMPLE");
    }

    #[test]
    fn the_request_guard_cleans_every_message() {
        let b = boundary();
        let mut messages =
            vec![Message::text(Role::User, "old: Zq9-very-secret-Value"), Message::text(Role::Assistant, "ok")];
        Redactions::request(&b, &mut messages);
        assert_eq!(messages[0].content, "old: [redacted: secret api_key]");
        assert_eq!(messages[1].content, "ok");
    }
}

//! `workspace`: read and write documents in the agent's workspace. The
//! grant decides which paths each action may touch.

use claw_sdk::serde_json::{Value, json};
use claw_sdk::{Context, Error, Tool, export_tool, schemars, serde, workspace};

/// What to do.
#[derive(Debug, Clone, Copy, serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", rename_all = "lowercase")]
#[schemars(crate = "claw_sdk::schemars")]
enum Action {
    /// Return a document's text.
    Read,
    /// Create or replace a document with `content`.
    Write,
    /// Add `content` to the end of a document, creating it if needed.
    Append,
    /// List the documents whose path starts with `path` ("" lists everything).
    List,
    /// Delete a document.
    Delete,
}

/// Parameters of `workspace`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(crate = "claw_sdk::serde", deny_unknown_fields)]
#[schemars(crate = "claw_sdk::schemars")]
struct Workspace {
    /// What to do: read, write, append, list or delete.
    action: Action,
    /// The document's path, e.g. "notes/ideas.md"; for list, a path prefix such as "journal/".
    path: String,
    /// The text to write or append (required for write and append).
    #[serde(default)]
    content: Option<String>,
}

impl Tool for Workspace {
    const DESCRIPTION: &'static str = "Read and write documents in the agent's workspace (notes, journal): \
         read, write, append to, list or delete a document by path.";
    type Output = Value;

    fn execute(self, _ctx: &Context) -> Result<Value, Error> {
        let path = self.path.trim();
        match self.action {
            Action::List => {
                let entries = workspace::list(path)?;
                let entries: Vec<Value> = entries
                    .into_iter()
                    .map(|e| json!({ "path": e.path, "size": e.size, "modified_ms": e.modified_ms }))
                    .collect();
                Ok(json!({ "prefix": path, "entries": entries }))
            }
            Action::Read => {
                let path = document(path)?;
                Ok(json!({ "path": path, "content": workspace::read(path)? }))
            }
            Action::Write => {
                let path = document(path)?;
                let content = content(self.content, "write")?;
                workspace::write(path, &content)?;
                Ok(json!({ "path": path, "written_bytes": content.len() }))
            }
            Action::Append => {
                let path = document(path)?;
                let content = content(self.content, "append")?;
                workspace::append(path, &content)?;
                Ok(json!({ "path": path, "appended_bytes": content.len() }))
            }
            Action::Delete => {
                let path = document(path)?;
                workspace::delete(path)?;
                Ok(json!({ "path": path, "deleted": true }))
            }
        }
    }
}

/// A document's path, which read, write, append and delete need.
fn document(path: &str) -> Result<&str, Error> {
    if path.is_empty() {
        return Err(Error::invalid_params("path is empty: name a document, e.g. \"notes/ideas.md\""));
    }
    Ok(path)
}

/// The `content` an action needs.
fn content(content: Option<String>, action: &str) -> Result<String, Error> {
    content.ok_or_else(|| Error::invalid_params(format!("{action} needs `content`: the text to {action}")))
}

export_tool!(Workspace);

#[cfg(test)]
mod tests {
    use super::*;
    use claw_sdk::{ErrorKind, serde_json};

    #[test]
    fn actions_are_lowercase_words() {
        for (word, expected) in [("read", "Read"), ("write", "Write"), ("append", "Append"), ("list", "List")] {
            let p: Workspace =
                serde_json::from_str(&format!(r#"{{"action": "{word}", "path": "notes/a.md"}}"#)).unwrap();
            assert_eq!(format!("{:?}", p.action), expected);
        }
        let p: Workspace = serde_json::from_str(r#"{"action": "delete", "path": "x"}"#).unwrap();
        assert!(matches!(p.action, Action::Delete));
        assert!(serde_json::from_str::<Workspace>(r#"{"action": "Read", "path": "x"}"#).is_err());
        assert!(serde_json::from_str::<Workspace>(r#"{"action": "move", "path": "x"}"#).is_err());
        assert!(serde_json::from_str::<Workspace>(r#"{"action": "read", "path": "x", "mode": 1}"#).is_err());
    }

    #[test]
    fn schema_lists_the_actions() {
        let schema = serde_json::to_string(&schemars::schema_for!(Workspace)).unwrap();
        for word in ["read", "write", "append", "list", "delete"] {
            assert!(schema.contains(&format!("\"{word}\"")), "{word} missing from {schema}");
        }
    }

    #[test]
    fn write_and_append_need_content() {
        let err = content(None, "append").unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidParams);
        assert_eq!(err.message, "append needs `content`: the text to append");
        assert_eq!(content(Some(String::new()), "write").unwrap(), "");
    }

    #[test]
    fn documents_need_a_path() {
        assert_eq!(document("").unwrap_err().kind, ErrorKind::InvalidParams);
        assert_eq!(document("notes/a.md").unwrap(), "notes/a.md");
    }
}

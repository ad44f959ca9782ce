//! An MCP tool's result as text the LLM can read, and the names tools are
//! offered under.

use super::config::SEPARATOR;
use rmcp::model::{CallToolResult, ContentBlock};

/// The longest tool name OpenAI and Anthropic accept.
pub const MAX_NAME: usize = 64;

/// The name the agent sees for `tool` of `server`: `server__tool`, with
/// any character the LLM APIs refuse replaced by `_`. `None` when it would
/// be longer than they accept.
pub fn offered_name(server: &str, tool: &str) -> Option<String> {
    let tool: String =
        tool.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    let name = format!("{server}{SEPARATOR}{tool}");
    (name.len() <= MAX_NAME && !tool.is_empty()).then_some(name)
}

/// `server` and the tool part of an offered name.
pub fn split(name: &str) -> Option<(&str, &str)> {
    let (server, tool) = name.split_once(SEPARATOR)?;
    (super::config::check_name(server).is_ok() && !tool.is_empty()).then_some((server, tool))
}

/// The text of a result: its text blocks in order, other blocks named by
/// kind and size, structured content as JSON when there is no text.
/// The second value says whether the server marked it an error.
pub fn text(result: &CallToolResult) -> (String, bool) {
    let mut parts: Vec<String> = Vec::new();
    for block in &result.content {
        parts.push(match block {
            ContentBlock::Text(t) => t.text.clone(),
            ContentBlock::Image(i) => format!("[image: {}, {} bytes of base64]", i.mime_type, i.data.len()),
            ContentBlock::Audio(a) => format!("[audio: {}, {} bytes of base64]", a.mime_type, a.data.len()),
            ContentBlock::Resource(r) => match &r.resource {
                rmcp::model::ResourceContents::TextResourceContents { uri, text, .. } => {
                    format!("[resource {uri}]\n{text}")
                }
                rmcp::model::ResourceContents::BlobResourceContents { uri, blob, .. } => {
                    format!("[resource {uri}: {} bytes of base64]", blob.len())
                }
                _ => "[resource of a kind claw does not read]".into(),
            },
            ContentBlock::ResourceLink(l) => format!("[link: {} {}]", l.name, l.uri),
            _ => "[content of a kind claw does not read]".into(),
        });
    }
    if parts.is_empty()
        && let Some(s) = &result.structured_content
    {
        parts.push(s.to_string());
    }
    (parts.join("\n"), result.is_error == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offered_names_are_valid_llm_tool_names_and_split_back() {
        assert_eq!(offered_name("everything", "echo").as_deref(), Some("everything__echo"));
        assert_eq!(offered_name("fs", "read.file/v2").as_deref(), Some("fs__read_file_v2"));
        assert_eq!(offered_name("fs", &"x".repeat(70)), None);
        assert_eq!(offered_name("fs", ""), None);
        assert_eq!(split("everything__echo"), Some(("everything", "echo")));
        assert_eq!(split("everything__get__env"), Some(("everything", "get__env")));
        assert_eq!(split("echo"), None);
        assert_eq!(split("Bad__x"), None);
        assert_eq!(split("fs__"), None);
    }

    #[test]
    fn results_become_text_and_errors_are_marked() {
        let r: CallToolResult = serde_json::from_value(serde_json::json!({
            "content": [
                {"type": "text", "text": "hello"},
                {"type": "image", "data": "AAAA", "mimeType": "image/png"},
                {"type": "resource_link", "uri": "file:///a", "name": "a"}
            ],
            "isError": true
        }))
        .unwrap();
        let (text, error) = super::text(&r);
        assert_eq!(text, "hello\n[image: image/png, 4 bytes of base64]\n[link: a file:///a]");
        assert!(error);
        let r: CallToolResult =
            serde_json::from_value(serde_json::json!({"content": [], "structuredContent": {"sum": 3}})).unwrap();
        assert_eq!(super::text(&r), (r#"{"sum":3}"#.to_string(), false));
    }
}

//! The LLM as the host sees it: the configured providers (which also make
//! the router's grant), and the router's request and reply types.

pub mod providers;

pub use crate::wit::llm::claw::runtime::llm_types::{
    Attempt, ChatReply, ChatRequest, Failure, LlmError, Message, Provider as WireProvider, ProviderKind, Role,
    ToolCall, ToolSpec, Usage,
};
pub use providers::{Kind, Provider, Providers};

impl Provider {
    /// As the router receives it (no credential: the boundary injects it).
    pub fn to_wire(&self) -> WireProvider {
        WireProvider {
            name: self.name.clone(),
            kind: match self.kind {
                Kind::Openai => ProviderKind::Openai,
                Kind::Anthropic => ProviderKind::Anthropic,
            },
            base_url: self.base_url.trim_end_matches('/').to_string(),
            model: self.model.clone(),
            timeout_ms: self.timeout_ms,
        }
    }
}

impl Message {
    /// A message with text only.
    pub fn text(role: Role, content: impl Into<String>) -> Message {
        Message { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }
}

//! `llm-openai`: the adapter for providers that speak OpenAI's Chat
//! Completions with tool calling (OpenAI, NEAR AI, OpenRouter, Together AI,
//! vLLM, LM Studio, Ollama). One request to one provider; the router owns
//! retries and failover, the host's boundary owns the key.

mod reply;
mod wire;

use llm_common as common;
use llm_common::bindings::claw::runtime::llm_types::{ChatReply, ChatRequest, Provider, ProviderError};

struct OpenAi;

impl llm_common::bindings::exports::claw::runtime::adapter::Guest for OpenAi {
    fn complete(provider: Provider, request: ChatRequest) -> Result<ChatReply, ProviderError> {
        let model = common::model(&provider, &request);
        let body = wire::body(model, &request).to_string().into_bytes();
        let reply = common::post(&provider, &wire::endpoint(&provider.base_url), &[], body)?;
        reply::parse(&reply, &provider.name, model)
    }
}

llm_common::bindings::export!(OpenAi with_types_in llm_common::bindings);

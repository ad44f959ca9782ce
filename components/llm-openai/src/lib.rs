//! `llm-openai`: the adapter for providers that speak OpenAI's Chat
//! Completions with tool calling (OpenAI, NEAR AI, OpenRouter, Together AI,
//! vLLM, LM Studio, Ollama). One request to one provider; the router owns
//! retries and failover, the host's boundary owns the key.

mod reply;
mod stream;
mod wire;

use llm_common as common;
use llm_common::bindings::claw::runtime::llm_types::{ChatReply, ChatRequest, Provider, ProviderError};

struct OpenAi;

impl llm_common::bindings::exports::claw::runtime::adapter::Guest for OpenAi {
    fn complete(provider: Provider, request: ChatRequest) -> Result<ChatReply, ProviderError> {
        let model = common::model(&provider, &request);
        let body = wire::body(model, &request).to_string().into_bytes();
        let url = wire::endpoint(&provider.base_url);
        if !request.stream {
            let reply = common::post(&provider, &url, &[], body)?;
            return reply::parse(&reply, &provider.name, model);
        }
        let mut shown = common::Shown::default();
        let mut streamed = stream::Accumulator::new(&provider.name, model);
        match common::post_stream(&provider, &url, &[], body, &mut shown, |event| streamed.push(&event.data))? {
            Some(whole) => reply::parse(&whole, &provider.name, model),
            None => streamed.finish().map_err(|e| shown.mark(e)),
        }
    }
}

llm_common::bindings::export!(OpenAi with_types_in llm_common::bindings);

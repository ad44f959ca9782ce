//! `llm-anthropic`: the adapter for Anthropic's Messages API with tool
//! use. One request to one provider; the router owns retries and
//! failover, the host's boundary owns the key (it sets `x-api-key`).

mod reply;
mod wire;

use llm_common as common;
use llm_common::bindings::claw::runtime::llm_types::{ChatReply, ChatRequest, Provider, ProviderError};

struct Anthropic;

impl llm_common::bindings::exports::claw::runtime::adapter::Guest for Anthropic {
    fn complete(provider: Provider, request: ChatRequest) -> Result<ChatReply, ProviderError> {
        let model = common::model(&provider, &request);
        let body = wire::body(model, &request).to_string().into_bytes();
        let headers = [("anthropic-version", wire::API_VERSION)];
        let reply = common::post(&provider, &wire::endpoint(&provider.base_url), &headers, body)?;
        reply::parse(&reply, &provider.name, model)
    }
}

llm_common::bindings::export!(Anthropic with_types_in llm_common::bindings);

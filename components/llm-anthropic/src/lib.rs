//! `llm-anthropic`: the adapter for Anthropic's Messages API with tool
//! use. One request to one provider; the router owns retries and
//! failover, the host's boundary owns the key (it sets `x-api-key`).

mod reply;
mod stream;
mod wire;

use llm_common as common;
use llm_common::bindings::claw::runtime::llm_types::{ChatReply, ChatRequest, Provider, ProviderError};

struct Anthropic;

impl llm_common::bindings::exports::claw::runtime::adapter::Guest for Anthropic {
    fn complete(provider: Provider, request: ChatRequest) -> Result<ChatReply, ProviderError> {
        let model = common::model(&provider, &request);
        let body = wire::body(model, &request).to_string().into_bytes();
        let headers = [("anthropic-version", wire::API_VERSION)];
        let url = wire::endpoint(&provider.base_url);
        if !request.stream {
            let reply = common::post(&provider, &url, &headers, body)?;
            return reply::parse(&reply, &provider.name, model);
        }
        let mut shown = common::Shown::default();
        let mut streamed = stream::Accumulator::new(&provider.name, model);
        let on_event = |event: &common::sse::SseEvent| streamed.push(event.event.as_deref(), &event.data);
        match common::post_stream(&provider, &url, &headers, body, &mut shown, on_event)? {
            Some(whole) => reply::parse(&whole, &provider.name, model),
            None => streamed.finish().map_err(|e| shown.mark(e)),
        }
    }
}

llm_common::bindings::export!(Anthropic with_types_in llm_common::bindings);

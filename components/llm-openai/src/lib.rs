//! `llm-openai`: the adapter for providers that speak OpenAI's Chat
//! Completions with tool calling (OpenAI, NEAR AI, OpenRouter, Together AI,
//! vLLM, LM Studio, Ollama). One request to one provider; the router owns
//! retries and failover, the host's boundary owns the key.

#[path = "../../llm-common/common.rs"]
mod common;
mod reply;
mod wire;

#[allow(clippy::too_many_arguments)]
mod bindings {
    // log and wasi:http are claw-client's: one copy of each in the component.
    wit_bindgen::generate!({
        path: "../../wit",
        world: "claw:runtime/llm-adapter",
        with: {
            "claw:runtime/log@0.1.0": claw_client::bindings::claw::runtime::log,
            "wasi:http/types@0.2.12": claw_client::bindings::wasi::http::types,
            "wasi:http/outgoing-handler@0.2.12": claw_client::bindings::wasi::http::outgoing_handler,
            "wasi:io/error@0.2.12": claw_client::bindings::wasi::io::error,
            "wasi:io/poll@0.2.12": claw_client::bindings::wasi::io::poll,
            "wasi:io/streams@0.2.12": claw_client::bindings::wasi::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": claw_client::bindings::wasi::clocks::monotonic_clock,
        },
        generate_all,
    });
}

use bindings::claw::runtime::llm_types::{ChatReply, ChatRequest, Provider, ProviderError};

struct OpenAi;

impl bindings::exports::claw::runtime::adapter::Guest for OpenAi {
    fn complete(provider: Provider, request: ChatRequest) -> Result<ChatReply, ProviderError> {
        let model = common::model(&provider, &request);
        let body = wire::body(model, &request).to_string().into_bytes();
        let reply = common::post(&provider, &wire::endpoint(&provider.base_url), &[], body)?;
        reply::parse(&reply, &provider.name, model)
    }
}

bindings::export!(OpenAi with_types_in bindings);

//! `llm-anthropic`: the adapter for Anthropic's Messages API with tool
//! use. One request to one provider; the router owns retries and
//! failover, the host's boundary owns the key (it sets `x-api-key`).

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

struct Anthropic;

impl bindings::exports::claw::runtime::adapter::Guest for Anthropic {
    fn complete(provider: Provider, request: ChatRequest) -> Result<ChatReply, ProviderError> {
        let model = common::model(&provider, &request);
        let body = wire::body(model, &request).to_string().into_bytes();
        let headers = [("anthropic-version", wire::API_VERSION)];
        let reply = common::post(&provider, &wire::endpoint(&provider.base_url), &headers, body)?;
        reply::parse(&reply, &provider.name, model)
    }
}

bindings::export!(Anthropic with_types_in bindings);

//! `llm-router`: the LLM as the agent sees it. It tries the configured
//! providers in failover order, retries the failures a retry can fix, and
//! hands each attempt to the adapter for the provider's wire format (the
//! `openai` and `anthropic` imports, plugged in by the host with wac-graph).
//!
//! The router makes no HTTP request itself; its grant (`[providers]`) is
//! what the composed component, adapters included, may reach.

mod policy;

#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "claw:runtime/llm-router",
        generate_all,
    });
}

use bindings::claw::runtime::llm_types::{Attempt, ChatReply, ChatRequest, LlmError, Provider, ProviderKind};
use bindings::claw::runtime::log::{Level, log};
use bindings::{anthropic, openai};
use policy::{GiveUp, Outcome, Step};
use std::time::Duration;

struct Router;

impl bindings::Guest for Router {
    fn complete(request: ChatRequest) -> Result<ChatReply, LlmError> {
        if request.providers.is_empty() {
            return Err(LlmError { message: policy::NO_PROVIDER.to_string(), attempts: Vec::new() });
        }
        let mut attempts = Vec::new();
        let mut outcomes = Vec::new();
        let count = request.providers.len();
        'providers: for (index, configured) in request.providers.iter().enumerate() {
            let mut provider = configured.clone();
            if let Some(model) = &request.model {
                provider.model.clone_from(model);
            }
            let is_last = index + 1 == count;
            let mut attempt = 0;
            loop {
                attempt += 1;
                let error = match call(&provider, &request) {
                    Ok(reply) => return Ok(reply),
                    Err(error) => error,
                };
                let step = policy::next_step(&error, attempt, random_unit());
                let then = match step {
                    Step::Retry { delay_ms } => format!("retrying in {delay_ms} ms"),
                    Step::NextProvider(_) if is_last => "no provider left to try".to_string(),
                    Step::NextProvider(GiveUp::RetryAfterTooLong(ms)) => {
                        format!("it asked to wait {} s, trying the next provider instead", ms.div_ceil(1000))
                    }
                    Step::NextProvider(_) => "trying the next provider".to_string(),
                    Step::Stop => "part of the reply was already shown, so no other attempt is made".to_string(),
                };
                log(
                    Level::Warn,
                    &format!(
                        "LLM provider {}: attempt {attempt} failed ({}): {}; {then}",
                        provider.name,
                        policy::failure_text(error.failure),
                        error.message.trim(),
                    ),
                );
                attempts.push(Attempt { provider: provider.name.clone(), error: error.clone() });
                match step {
                    Step::Retry { delay_ms } => std::thread::sleep(Duration::from_millis(delay_ms)),
                    Step::NextProvider(gave_up) => {
                        outcomes.push(Outcome {
                            provider: provider.name.clone(),
                            attempts: attempt,
                            last: error,
                            gave_up,
                        });
                        break;
                    }
                    Step::Stop => {
                        let gave_up = GiveUp::Streamed;
                        outcomes.push(Outcome {
                            provider: provider.name.clone(),
                            attempts: attempt,
                            last: error,
                            gave_up,
                        });
                        break 'providers;
                    }
                }
            }
        }
        Err(LlmError { message: policy::summary(&outcomes), attempts })
    }
}

/// One attempt at one provider, through the adapter for its wire format.
fn call(
    provider: &Provider,
    request: &ChatRequest,
) -> Result<ChatReply, bindings::claw::runtime::llm_types::ProviderError> {
    match provider.kind {
        ProviderKind::Openai => openai::complete(provider, request),
        ProviderKind::Anthropic => anthropic::complete(provider, request),
    }
}

/// A random number in `[0, 1)` for the backoff jitter. std seeds each
/// `RandomState` from the platform's randomness (wasi:random here).
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let bits = RandomState::new().hash_one(0x6c6c_6d5f_726f_7574_u64);
    // 53 random bits make an exactly representable fraction.
    #[allow(clippy::cast_precision_loss)]
    let unit = (bits >> 11) as f64 / (1u64 << 53) as f64;
    unit
}

bindings::export!(Router with_types_in bindings);

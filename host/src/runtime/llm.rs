//! One request to the LLM router: a fresh instance of the composed router,
//! under its grant's limits, its HTTP through the boundary.

use super::call::{classify, new_store, outer_timeout};
use super::{CallError, Runtime};
use crate::capabilities::CallInfo;
use crate::components::{Pre, World};
use crate::llm::{ChatReply, ChatRequest, LlmError};
use std::fmt;

/// Why the LLM gave no reply.
#[derive(Debug)]
pub enum LlmFailure {
    /// No LLM router component is installed.
    NoRouter,
    /// The router ran, and every provider failed (or none is configured).
    Providers(LlmError),
    /// The router itself failed (trap, time limit).
    Router(CallError),
    /// The boundary refused the router's request (the turn's context
    /// tripped it): this turn fails, the agent goes on.
    Refused {
        /// What the router reported.
        error: LlmError,
        /// The boundary's reasons.
        reasons: Vec<String>,
    },
}

impl fmt::Display for LlmFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LlmFailure::NoRouter => f.write_str("no LLM router is installed"),
            LlmFailure::Providers(e) => write!(f, "the LLM did not answer: {}", e.message),
            LlmFailure::Router(e) => write!(f, "the LLM router failed: {e}"),
            LlmFailure::Refused { reasons, .. } => {
                write!(f, "the boundary refused the request to the LLM: {}", reasons.join("; "))
            }
        }
    }
}

impl std::error::Error for LlmFailure {}

impl LlmFailure {
    /// How to fix it.
    pub fn hint(&self) -> Option<String> {
        match self {
            LlmFailure::NoRouter => Some(
                "`bash scripts/dev run` installs it; by hand: `claw component add llm_router.wasm --name llm-router --grant components/llm-router/grant.toml --plug openai=llm_openai.wasm --plug anthropic=llm_anthropic.wasm`"
                    .into(),
            ),
            LlmFailure::Providers(e) if e.attempts.is_empty() => Some(ADD_PROVIDER.into()),
            LlmFailure::Providers(_) => {
                Some("`claw provider list` shows the providers; `claw audit -n 20` shows what the boundary saw".into())
            }
            LlmFailure::Router(e) => e.hint(),
            LlmFailure::Refused { .. } => Some(
                "this session's context tripped the boundary; `/new` starts a session without it, `claw audit -n 5` shows the record"
                    .into(),
            ),
        }
    }
}

/// How to configure a provider, said wherever one is missing.
pub const ADD_PROVIDER: &str = "add a provider: `claw provider add NAME --kind openai|anthropic --base-url URL --model MODEL [--credential SECRET]`, e.g. `claw provider add openai --kind openai --base-url https://api.openai.com/v1 --model gpt-4o-mini --credential openai_key` after `claw secret set openai_key`";

impl Runtime {
    /// Send `request` to the installed LLM router.
    ///
    /// # Errors
    ///
    /// An [`LlmFailure`] saying whether the router is missing, every
    /// provider failed, or the router itself failed.
    pub async fn complete(&self, request: &ChatRequest) -> Result<ChatReply, LlmFailure> {
        self.complete_streaming(request, None).await
    }

    /// [`Runtime::complete`], passing the reply's text to `sink` as it is
    /// written (when `request.stream` asks the provider to stream).
    ///
    /// # Errors
    ///
    /// As [`Runtime::complete`].
    pub async fn complete_streaming(
        &self,
        request: &ChatRequest,
        sink: Option<crate::capabilities::reply_stream::Sink>,
    ) -> Result<ChatReply, LlmFailure> {
        let router = self.first_of(World::Llm).ok_or(LlmFailure::NoRouter)?;
        let Pre::Llm(pre) = &router.pre else { return Err(LlmFailure::NoRouter) };
        let limits = router.grant.limits;
        let name = router.record.name.clone();
        let info = CallInfo { call_id: self.next_call_id(), tool: name.clone(), caller: None, depth: 0, sinks: None };
        let mut store = new_store(self.engine.wasmtime(), &router, &info, &self.services);
        if let Some(sink) = sink {
            store.data_mut().stream_reply_to(sink);
        }
        let run = async {
            let instance = pre.instantiate_async(&mut store).await?;
            instance.call_complete(&mut store, request).await
        };
        match tokio::time::timeout(outer_timeout(limits.timeout_ms), run).await {
            Err(_) => Err(LlmFailure::Router(CallError::Timeout { tool: name, ms: limits.timeout_ms })),
            Ok(Ok(Ok(reply))) => Ok(reply),
            Ok(Ok(Err(error))) => {
                let reasons = store.data().boundary_denials();
                if reasons.is_empty() {
                    Err(LlmFailure::Providers(error))
                } else {
                    Err(LlmFailure::Refused { error, reasons })
                }
            }
            Ok(Err(trap)) => {
                Err(LlmFailure::Router(classify(trap, &store, name, limits.timeout_ms, limits.memory_bytes)))
            }
        }
    }
}

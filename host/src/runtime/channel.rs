//! Calls into a channel component: what it made of a terminal line, an
//! HTTP request the gateway routed to it (already verified), a poll, and
//! delivering what the agent says. Each call is a fresh instance; what its
//! inbox queued is counted, so the caller wakes the pool.

use super::call::{classify, new_store, outer_timeout};
use super::{CallError, Runtime};
use crate::capabilities::CallInfo;
use crate::components::{LoadedComponent, Pre};
use crate::wit::channel::claw::runtime::channel_types::{Event, Outbound};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};

/// The largest response a channel may give a webhook.
pub const MAX_RESPONSE: usize = 1 << 20;

/// Which call to make.
enum Op<'a> {
    Receive(&'a [u8]),
    Deliver(&'a Outbound),
    Http(Box<http::Request<Full<Bytes>>>),
    Poll,
}

/// What a call returned.
enum Done {
    Events(Vec<Event>),
    Delivered,
    Answered(http::Response<Bytes>),
}

/// A channel's answer to a request, and how many messages it queued.
#[derive(Debug)]
pub struct Answered {
    /// The response for the caller.
    pub response: http::Response<Bytes>,
    /// New messages its inbox queued.
    pub queued: usize,
}

impl Runtime {
    /// Hand `input` (a terminal line) to `channel`.
    ///
    /// # Errors
    ///
    /// The channel's own error (as `Tool`), or why it could not run.
    pub async fn channel_receive(&self, channel: &LoadedComponent, input: &[u8]) -> Result<Vec<Event>, CallError> {
        match self.channel_call(channel, Op::Receive(input)).await?.0 {
            Done::Events(e) => Ok(e),
            _ => Ok(Vec::new()),
        }
    }

    /// Have `channel` deliver `message`.
    ///
    /// # Errors
    ///
    /// As [`Runtime::channel_receive`].
    pub async fn channel_deliver(&self, channel: &LoadedComponent, message: &Outbound) -> Result<(), CallError> {
        self.channel_call(channel, Op::Deliver(message)).await.map(|_| ())
    }

    /// Hand `request` (verified by the caller) to `channel`'s HTTP handler.
    ///
    /// # Errors
    ///
    /// As [`Runtime::channel_receive`]; a channel that sets no response, or
    /// one over [`MAX_RESPONSE`], fails.
    pub async fn channel_http(
        &self,
        channel: &LoadedComponent,
        request: http::Request<Full<Bytes>>,
    ) -> Result<Answered, CallError> {
        let (done, queued) = self.channel_call(channel, Op::Http(Box::new(request))).await?;
        match done {
            Done::Answered(response) => Ok(Answered { response, queued }),
            _ => Err(CallError::Tool { tool: channel.record.name.clone(), error: failed("no response".into()) }),
        }
    }

    /// Call `channel`'s `poll`; how many messages it queued.
    ///
    /// # Errors
    ///
    /// As [`Runtime::channel_receive`].
    pub async fn channel_poll(&self, channel: &LoadedComponent) -> Result<usize, CallError> {
        self.channel_call(channel, Op::Poll).await.map(|(_, queued)| queued)
    }

    async fn channel_call(&self, channel: &LoadedComponent, op: Op<'_>) -> Result<(Done, usize), CallError> {
        let name = channel.record.name.clone();
        let Pre::Channel(pre) = &channel.pre else {
            return Err(CallError::NotATool { name, world: channel.record.world });
        };
        if let Some(hold) = self.services.boundary.quarantine().get(&name) {
            return Err(CallError::Quarantined { tool: name, reason: hold.reason });
        }
        let limits = channel.grant.limits;
        let info = CallInfo { call_id: self.next_call_id(), tool: name.clone(), caller: None, depth: 0, sinks: None };
        let mut store = new_store(self.engine.wasmtime(), channel, &info, &self.services);
        let run = async {
            let instance = pre.instantiate_async(&mut store).await?;
            wasmtime::Result::Ok(match op {
                Op::Receive(input) => instance.call_receive(&mut store, input).await?.map(Done::Events),
                Op::Deliver(m) => instance.call_deliver(&mut store, m).await?.map(|()| Done::Delivered),
                Op::Poll => instance.call_poll(&mut store).await?.map(|()| Done::Delivered),
                Op::Http(request) => {
                    use wasmtime_wasi_http::WasiHttpView as _;
                    let scheme = wasmtime_wasi_http::p2::bindings::http::types::Scheme::Http;
                    let req = store.data_mut().http().new_incoming_request(scheme, *request)?;
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let out = store.data_mut().http().new_response_outparam(tx)?;
                    // The body is read while the handler writes it, so a
                    // large one cannot stall the guest on a full pipe.
                    let answer = async {
                        let Ok(Ok(response)) = rx.await else { return Err("it set no response".to_string()) };
                        let (head, body) = response.into_parts();
                        match Limited::new(body, MAX_RESPONSE).collect().await {
                            Ok(b) => Ok(http::Response::from_parts(head, b.to_bytes())),
                            Err(e) => Err(format!("its response body failed or is over {MAX_RESPONSE} bytes: {e}")),
                        }
                    };
                    let handle = instance.wasi_http_incoming_handler().call_handle(&mut store, req, out);
                    let (handled, answer) = futures::future::join(handle, answer).await;
                    handled?;
                    answer.map(Done::Answered)
                }
            })
        };
        let result = tokio::time::timeout(outer_timeout(limits.timeout_ms), run).await;
        store.data().sandbox.flush_terminal();
        let queued = store.data().inbox_queued();
        match result {
            Err(_) => Err(CallError::Timeout { tool: name, ms: limits.timeout_ms }),
            Ok(Ok(Ok(done))) => Ok((done, queued)),
            Ok(Ok(Err(message))) => Err(CallError::Tool { tool: name, error: failed(message) }),
            Ok(Err(trap)) => Err(classify(trap, &store, name, limits.timeout_ms, limits.memory_bytes)),
        }
    }
}

fn failed(message: String) -> crate::wit::claw::runtime::types::ToolError {
    crate::wit::claw::runtime::types::ToolError { kind: crate::wit::claw::runtime::types::ErrorKind::Failed, message }
}

//! Calls into a channel component: what it made of some input, and
//! delivering what the agent says. Each call is a fresh instance.

use super::call::{classify, new_store, outer_timeout};
use super::{CallError, Runtime};
use crate::capabilities::CallInfo;
use crate::components::{LoadedComponent, Pre};
use crate::wit::channel::claw::runtime::channel_types::{Event, Outbound};

/// Which call to make.
enum Op<'a> {
    Receive(&'a [u8]),
    Deliver(&'a Outbound),
}

/// What a call returned.
enum Done {
    Events(Vec<Event>),
    Delivered,
}

impl Runtime {
    /// Hand `input` (a terminal line, a webhook body) to `channel`.
    ///
    /// # Errors
    ///
    /// The channel's own error (as `Tool`), or why it could not run.
    pub async fn channel_receive(&self, channel: &LoadedComponent, input: &[u8]) -> Result<Vec<Event>, CallError> {
        match self.channel_call(channel, Op::Receive(input)).await? {
            Done::Events(e) => Ok(e),
            Done::Delivered => Ok(Vec::new()),
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

    async fn channel_call(&self, channel: &LoadedComponent, op: Op<'_>) -> Result<Done, CallError> {
        let name = channel.record.name.clone();
        let Pre::Channel(pre) = &channel.pre else {
            return Err(CallError::NotATool { name, world: channel.record.world });
        };
        if let Some(hold) = self.services.boundary.quarantine().get(&name) {
            return Err(CallError::Quarantined { tool: name, reason: hold.reason });
        }
        let limits = channel.grant.limits;
        let info = CallInfo { call_id: self.next_call_id(), tool: name.clone(), caller: None, depth: 0 };
        let mut store = new_store(self.engine.wasmtime(), channel, &info, &self.services);
        let run = async {
            let instance = pre.instantiate_async(&mut store).await?;
            wasmtime::Result::Ok(match op {
                Op::Receive(input) => instance.call_receive(&mut store, input).await?.map(Done::Events),
                Op::Deliver(m) => instance.call_deliver(&mut store, m).await?.map(|()| Done::Delivered),
            })
        };
        let own_error = |message: String| CallError::Tool {
            tool: name.clone(),
            error: crate::wit::claw::runtime::types::ToolError {
                kind: crate::wit::claw::runtime::types::ErrorKind::Failed,
                message,
            },
        };
        let result = tokio::time::timeout(outer_timeout(limits.timeout_ms), run).await;
        store.data().sandbox.flush_terminal();
        match result {
            Err(_) => Err(CallError::Timeout { tool: name, ms: limits.timeout_ms }),
            Ok(Ok(Ok(done))) => Ok(done),
            Ok(Ok(Err(message))) => Err(own_error(message)),
            Ok(Err(trap)) => Err(classify(trap, &store, name, limits.timeout_ms, limits.memory_bytes)),
        }
    }
}

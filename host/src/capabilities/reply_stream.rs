//! `claw:runtime/reply-stream`: the LLM's text as it is written, passed to
//! whoever waits on the turn (the web chat, an API client). Only the LLM
//! imports it (the grant check refuses it elsewhere); an instance nobody
//! waits on drops what it is given.

use super::CallState;
use crate::wit::llm::claw::runtime::reply_stream::{Host, add_to_linker};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// Bytes of streamed text one call may pass on: far above any reply, so
/// a runaway component cannot grow a waiting person's buffers without end.
pub const BUDGET: usize = 4 << 20;

/// Where one call's text goes.
#[derive(Clone)]
pub struct Sink(Arc<dyn Fn(&str) + Send + Sync>);

impl Sink {
    /// Text goes to `f`, piece by piece, in order.
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Sink {
        Sink(Arc::new(f))
    }
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

/// Link `claw:runtime/reply-stream`.
///
/// # Errors
///
/// When wasmtime refuses a definition.
pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    add_to_linker::<CallState, HasSelf<Instance>>(linker, |s| &mut s.reply_stream)
}

/// One call's stream: nowhere until [`Instance::to`] says where.
#[derive(Debug, Default)]
pub struct Instance {
    sink: Option<Sink>,
    left: usize,
}

impl Instance {
    pub(super) fn prepare() -> Instance {
        Instance { sink: None, left: BUDGET }
    }

    /// Send this call's text to `sink`.
    pub fn to(&mut self, sink: Sink) {
        self.sink = Some(sink);
    }
}

impl Host for Instance {
    fn text(&mut self, delta: String) -> wasmtime::Result<()> {
        let Some(sink) = &self.sink else { return Ok(()) };
        if delta.len() > self.left {
            // The rest is dropped; the whole reply still arrives at the end.
            self.left = 0;
            return Ok(());
        }
        self.left -= delta.len();
        (sink.0)(&delta);
        Ok(())
    }
}

//! Room in the instance pool for tools, leaving some for the LLM router and
//! the channels: a burst of tool calls must not make the next turn's router
//! call, or the terminal, fail for want of an instance.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Instances kept for the router and the channels.
pub const RESERVED: usize = 32;

/// The pool's tool instances.
#[derive(Debug, Clone)]
pub struct ToolSlots(Arc<Semaphore>);

impl ToolSlots {
    /// Slots for a pool of `pool` instances, `RESERVED` kept back.
    pub fn new(pool: usize) -> ToolSlots {
        ToolSlots(Arc::new(Semaphore::new(pool.saturating_sub(RESERVED).max(1))))
    }

    /// A slot for a call at `depth`. A direct call waits for one; a call
    /// from another tool does not (its caller holds a slot and waits on
    /// it, so waiting here could deadlock a full pool): `None` then.
    pub async fn take(&self, depth: u32) -> Option<OwnedSemaphorePermit> {
        if depth == 0 { self.0.clone().acquire_owned().await.ok() } else { self.0.clone().try_acquire_owned().ok() }
    }

    /// Slots free now.
    #[cfg(test)]
    fn free(&self) -> usize {
        self.0.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_reserve_stays_and_nested_calls_never_wait() {
        let slots = ToolSlots::new(RESERVED + 2);
        assert_eq!(slots.free(), 2);
        let a = slots.take(0).await.unwrap();
        let _b = slots.take(1).await.unwrap();
        assert!(slots.take(1).await.is_none(), "a nested call fails at once on a full pool");
        // A direct call waits until a slot frees.
        let waiting = tokio::spawn({
            let slots = slots.clone();
            async move { slots.take(0).await.is_some() }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(a);
        assert!(waiting.await.unwrap());
    }
}

//! The gateway's limits: requests per minute per address and per user
//! (token buckets: a burst of a minute's worth, refilled steadily), and a
//! cap on agent turns waited for at once. Each refusal is a clear status
//! with `Retry-After`; nothing is queued for a refused request.

use super::GatewayError;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Whose requests a bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    /// The peer's address (every request).
    Addr(IpAddr),
    /// An authenticated user (by id).
    User(i64),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets beyond this many are pruned of full (idle) ones, so a flood
/// of addresses cannot grow the map without end.
const PRUNE_AT: usize = 10_000;

/// The limits of one gateway.
pub struct Limits {
    per_minute: u32,
    buckets: Mutex<HashMap<Who, Bucket>>,
    turns: Arc<tokio::sync::Semaphore>,
    max_turns: usize,
}

impl Limits {
    /// `per_minute` requests per address and per user; `max_turns` turns at once.
    pub fn new(per_minute: u32, max_turns: usize) -> Limits {
        Limits {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
            turns: Arc::new(tokio::sync::Semaphore::new(max_turns.max(1))),
            max_turns: max_turns.max(1),
        }
    }

    /// Take one request from `who`'s bucket at `now`.
    ///
    /// # Errors
    ///
    /// [`GatewayError::RateLimited`] with the seconds until one is free.
    pub fn take(&self, who: Who, now: Instant) -> Result<(), GatewayError> {
        let full = f64::from(self.per_minute);
        let per_second = full / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, b| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second < full);
        }
        let b = buckets.entry(who).or_insert(Bucket { tokens: full, at: now });
        b.tokens = (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second).min(full);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - b.tokens) / per_second).ceil().max(1.0) as u64;
        Err(GatewayError::RateLimited { per_minute: self.per_minute, retry_after_s: wait })
    }

    /// A place among the turns waited for at once, held until dropped.
    ///
    /// # Errors
    ///
    /// [`GatewayError::Busy`] when all are taken.
    pub fn turn(&self) -> Result<tokio::sync::OwnedSemaphorePermit, GatewayError> {
        self.turns.clone().try_acquire_owned().map_err(|_| GatewayError::Busy(self.max_turns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_a_minutes_burst_then_refills_steadily_and_says_when() {
        let limits = Limits::new(60, 2);
        let t0 = Instant::now();
        let me = Who::Addr("127.0.0.1".parse().unwrap());
        for _ in 0..60 {
            limits.take(me, t0).unwrap();
        }
        let e = limits.take(me, t0).unwrap_err();
        assert_eq!(e, GatewayError::RateLimited { per_minute: 60, retry_after_s: 1 });
        assert_eq!(e.status().as_u16(), 429);
        // Others are not held back by one address.
        limits.take(Who::User(7), t0).unwrap();
        // One a second comes back.
        limits.take(me, t0 + Duration::from_millis(1_000)).unwrap();
        assert!(limits.take(me, t0 + Duration::from_millis(1_100)).is_err());
    }

    #[test]
    fn turns_at_once_are_capped_and_a_place_frees_when_its_turn_ends() {
        let limits = Limits::new(60, 2);
        let (a, _b) = (limits.turn().unwrap(), limits.turn().unwrap());
        let e = limits.turn().unwrap_err();
        assert_eq!((e.status().as_u16(), e.to_string().contains("2 agent turns")), (503, true), "{e}");
        drop(a);
        assert!(limits.turn().is_ok());
    }

    #[test]
    fn a_flood_of_addresses_does_not_grow_the_map_without_end() {
        let limits = Limits::new(10, 1);
        let t0 = Instant::now();
        for i in 0..(PRUNE_AT as u32 + 50) {
            let who = Who::Addr(IpAddr::from(i.to_be_bytes()));
            limits.take(who, t0).unwrap();
        }
        // Six seconds on, every bucket has refilled: the pruning drops them.
        limits.take(Who::User(1), t0 + Duration::from_secs(6)).unwrap();
        assert!(limits.buckets.lock().unwrap().len() < 100);
    }
}

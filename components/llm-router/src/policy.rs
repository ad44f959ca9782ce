//! The router's pure logic: whether to retry a failed attempt, how long to
//! wait first, and how to sum up a request that failed everywhere. Nothing
//! here calls an import, so it is unit-tested natively.

use crate::bindings::claw::runtime::llm_types::{Failure, ProviderError};

/// What the router answers when the request names no provider.
pub const NO_PROVIDER: &str = "no LLM provider is configured; add one with \
     `claw provider add NAME --kind openai|anthropic --base-url URL --model MODEL [--credential SECRET]`";

/// The first retry waits this long; each later one twice as long as the one before.
pub const BASE_BACKOFF_MS: u64 = 250;
/// Each backoff is scaled by a random factor in `[1 - JITTER, 1 + JITTER]`.
pub const JITTER: f64 = 0.2;
/// A provider's Retry-After is honoured up to this long; beyond it the
/// router moves on to the next provider instead of waiting.
pub const MAX_RETRY_AFTER_MS: u32 = 10_000;

/// How many attempts one provider gets for a failure of this kind.
pub fn max_attempts(failure: Failure) -> u32 {
    match failure {
        Failure::RateLimited | Failure::Server => 3,
        Failure::Timeout | Failure::Network => 2,
        Failure::Rejected | Failure::Denied | Failure::InvalidReply => 1,
    }
}

/// What to do after an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Wait this long, then try the same provider again.
    Retry {
        /// Milliseconds to sleep before the next attempt.
        delay_ms: u64,
    },
    /// Give up on this provider and fail over to the next one.
    NextProvider(GiveUp),
    /// Give up on every provider: part of this reply already reached the
    /// person, and another attempt would splice a second reply onto it.
    Stop,
}

/// Why the router gave up on a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// Retrying cannot fix this kind of failure.
    NotRetryable,
    /// Every attempt this kind of failure allows was used.
    Exhausted,
    /// The provider asked to wait longer than [`MAX_RETRY_AFTER_MS`] (the value, in ms).
    RetryAfterTooLong(u32),
    /// The reply broke off after part of it was streamed.
    Streamed,
}

/// What to do after attempt number `attempt` (counted from 1) at one
/// provider failed with `error`. `unit` is a random number in `[0, 1)` that
/// sets the jitter.
pub fn next_step(error: &ProviderError, attempt: u32, unit: f64) -> Step {
    if error.streamed {
        return Step::Stop;
    }
    let max = max_attempts(error.failure);
    if max <= 1 {
        return Step::NextProvider(GiveUp::NotRetryable);
    }
    if attempt >= max {
        return Step::NextProvider(GiveUp::Exhausted);
    }
    match error.retry_after_ms {
        Some(ms) if ms > MAX_RETRY_AFTER_MS => Step::NextProvider(GiveUp::RetryAfterTooLong(ms)),
        Some(ms) => Step::Retry { delay_ms: u64::from(ms) },
        None => Step::Retry { delay_ms: backoff_ms(attempt, unit) },
    }
}

/// The pause before retry number `retry` (the first retry is 1):
/// 250 ms × 2^(retry-1), scaled by a jitter factor in `[0.8, 1.2]` that
/// `unit` (in `[0, 1)`) picks.
pub fn backoff_ms(retry: u32, unit: f64) -> u64 {
    let exponent = retry.saturating_sub(1).min(16);
    let base = BASE_BACKOFF_MS << exponent;
    let unit = if unit.is_finite() { unit.clamp(0.0, 1.0) } else { 0.5 };
    let factor = 1.0 - JITTER + 2.0 * JITTER * unit;
    // The product is at most 250 × 2^16 × 1.2, far inside u64 and f64's exact range.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let delay = (base as f64 * factor).round() as u64;
    delay
}

/// A failure kind in words, for logs and the summary.
pub fn failure_text(failure: Failure) -> &'static str {
    match failure {
        Failure::RateLimited => "rate limited",
        Failure::Server => "server error",
        Failure::Timeout => "timeout",
        Failure::Network => "network error",
        Failure::Rejected => "rejected",
        Failure::Denied => "denied by the host",
        Failure::InvalidReply => "invalid reply",
    }
}

/// How one provider ended: its last error, after how many attempts, and why
/// the router gave up on it.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The provider's name.
    pub provider: String,
    /// Attempts made at it.
    pub attempts: u32,
    /// The last attempt's error.
    pub last: ProviderError,
    /// Why the router moved on.
    pub gave_up: GiveUp,
}

/// One sentence summing up every provider's last failure, e.g.
/// `every provider failed: primary: server error (3 attempts): HTTP 503;
/// backup: timeout (2 attempts): no response in 60 s`.
pub fn summary(outcomes: &[Outcome]) -> String {
    if outcomes.is_empty() {
        return NO_PROVIDER.to_string();
    }
    let parts: Vec<String> = outcomes.iter().map(describe).collect();
    format!("every provider failed: {}", parts.join("; "))
}

/// `NAME: KIND (N attempts[, asked to wait S s]): MESSAGE`.
fn describe(outcome: &Outcome) -> String {
    let plural = if outcome.attempts == 1 { "" } else { "s" };
    let mut text =
        format!("{}: {} ({} attempt{plural}", outcome.provider, failure_text(outcome.last.failure), outcome.attempts);
    if let GiveUp::RetryAfterTooLong(ms) = outcome.gave_up {
        text.push_str(&format!(", asked to wait {} s", ms.div_ceil(1000)));
    }
    if outcome.gave_up == GiveUp::Streamed {
        text.push_str(", broke off while streaming");
    }
    text.push(')');
    let message = outcome.last.message.trim();
    if !message.is_empty() {
        text.push_str(": ");
        text.push_str(message);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(failure: Failure, retry_after_ms: Option<u32>) -> ProviderError {
        ProviderError { failure, message: "boom".to_string(), retry_after_ms, streamed: false }
    }

    #[test]
    fn retryable_kinds_get_their_attempts() {
        assert_eq!(max_attempts(Failure::RateLimited), 3);
        assert_eq!(max_attempts(Failure::Server), 3);
        assert_eq!(max_attempts(Failure::Timeout), 2);
        assert_eq!(max_attempts(Failure::Network), 2);
        assert_eq!(max_attempts(Failure::Rejected), 1);
        assert_eq!(max_attempts(Failure::Denied), 1);
        assert_eq!(max_attempts(Failure::InvalidReply), 1);
    }

    #[test]
    fn server_errors_retry_twice_then_fail_over() {
        let e = error(Failure::Server, None);
        assert!(matches!(next_step(&e, 1, 0.5), Step::Retry { delay_ms: 250 }));
        assert!(matches!(next_step(&e, 2, 0.5), Step::Retry { delay_ms: 500 }));
        assert_eq!(next_step(&e, 3, 0.5), Step::NextProvider(GiveUp::Exhausted));
    }

    #[test]
    fn timeouts_and_network_errors_retry_once() {
        for failure in [Failure::Timeout, Failure::Network] {
            let e = error(failure, None);
            assert!(matches!(next_step(&e, 1, 0.5), Step::Retry { delay_ms: 250 }));
            assert_eq!(next_step(&e, 2, 0.5), Step::NextProvider(GiveUp::Exhausted));
        }
    }

    #[test]
    fn permanent_failures_are_not_retried() {
        for failure in [Failure::Rejected, Failure::Denied, Failure::InvalidReply] {
            assert_eq!(next_step(&error(failure, None), 1, 0.5), Step::NextProvider(GiveUp::NotRetryable));
            // A Retry-After does not make them retryable.
            assert_eq!(next_step(&error(failure, Some(100)), 1, 0.5), Step::NextProvider(GiveUp::NotRetryable));
        }
    }

    #[test]
    fn backoff_doubles_within_twenty_percent_jitter() {
        assert_eq!(backoff_ms(1, 0.0), 200);
        assert_eq!(backoff_ms(1, 0.5), 250);
        assert_eq!(backoff_ms(1, 1.0), 300);
        assert_eq!(backoff_ms(2, 0.0), 400);
        assert_eq!(backoff_ms(2, 1.0), 600);
        assert_eq!(backoff_ms(3, 0.5), 1000);
        for i in 0..100 {
            let unit = f64::from(i) / 100.0;
            let d = backoff_ms(2, unit);
            assert!((400..=600).contains(&d), "{d}");
        }
    }

    #[test]
    fn backoff_tolerates_odd_randomness() {
        assert_eq!(backoff_ms(1, f64::NAN), 250);
        assert_eq!(backoff_ms(1, -3.0), 200);
        assert_eq!(backoff_ms(1, 7.0), 300);
        assert!(backoff_ms(u32::MAX, 1.0) > 0);
    }

    #[test]
    fn a_reply_that_broke_off_while_streaming_is_never_tried_again() {
        for failure in [Failure::Server, Failure::Network, Failure::Timeout, Failure::RateLimited] {
            let mut e = error(failure, None);
            assert!(matches!(next_step(&e, 1, 0.5), Step::Retry { .. }));
            e.streamed = true;
            assert_eq!(next_step(&e, 1, 0.5), Step::Stop, "{failure:?}");
        }
        let outcome = Outcome {
            provider: "p".into(),
            attempts: 1,
            last: error(Failure::Network, None),
            gave_up: GiveUp::Streamed,
        };
        assert_eq!(
            summary(&[outcome]),
            "every provider failed: p: network error (1 attempt, broke off while streaming): boom"
        );
    }

    #[test]
    fn short_retry_after_is_honoured() {
        let e = error(Failure::RateLimited, Some(1_500));
        assert_eq!(next_step(&e, 1, 0.0), Step::Retry { delay_ms: 1_500 });
        let e = error(Failure::RateLimited, Some(MAX_RETRY_AFTER_MS));
        assert_eq!(next_step(&e, 2, 0.0), Step::Retry { delay_ms: 10_000 });
    }

    #[test]
    fn long_retry_after_fails_over_instead_of_waiting() {
        let e = error(Failure::RateLimited, Some(MAX_RETRY_AFTER_MS + 1));
        assert_eq!(next_step(&e, 1, 0.5), Step::NextProvider(GiveUp::RetryAfterTooLong(10_001)));
        // The last attempt is simply exhausted, whatever it asked.
        assert_eq!(next_step(&e, 3, 0.5), Step::NextProvider(GiveUp::Exhausted));
    }

    #[test]
    fn summary_names_each_provider_in_one_sentence() {
        let outcomes = [
            Outcome {
                provider: "primary".into(),
                attempts: 3,
                last: ProviderError {
                    failure: Failure::Server,
                    message: "HTTP 503".into(),
                    retry_after_ms: None,
                    streamed: false,
                },
                gave_up: GiveUp::Exhausted,
            },
            Outcome {
                provider: "backup".into(),
                attempts: 1,
                last: ProviderError {
                    failure: Failure::RateLimited,
                    message: "slow down".into(),
                    retry_after_ms: None,
                    streamed: false,
                },
                gave_up: GiveUp::RetryAfterTooLong(60_000),
            },
            Outcome {
                provider: "local".into(),
                attempts: 1,
                last: ProviderError {
                    failure: Failure::Rejected,
                    message: "  ".into(),
                    retry_after_ms: None,
                    streamed: false,
                },
                gave_up: GiveUp::NotRetryable,
            },
        ];
        assert_eq!(
            summary(&outcomes),
            "every provider failed: primary: server error (3 attempts): HTTP 503; \
             backup: rate limited (1 attempt, asked to wait 60 s): slow down; local: rejected (1 attempt)"
        );
    }

    #[test]
    fn no_provider_says_how_to_add_one() {
        assert!(NO_PROVIDER.starts_with("no LLM provider is configured"));
        assert!(NO_PROVIDER.contains(
            "add one with `claw provider add NAME --kind openai|anthropic --base-url URL --model MODEL [--credential SECRET]`"
        ));
        assert_eq!(summary(&[]), NO_PROVIDER);
    }
}

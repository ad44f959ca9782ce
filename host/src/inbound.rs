//! Inbound authentication of webhooks, done by the host with the vault's
//! secret before a channel component sees the request — so the channel
//! never holds the signing secret. A grant's `[inbound]` section says which
//! verifier applies:
//!
//! ```toml
//! [inbound]
//! verify = "slack"            # telegram | slack | hmac-sha256 | bearer
//! secret = "slack_signing_secret"
//! # header = "x-hub-signature-256"   # hmac-sha256 only (this is the default)
//! ```

use hmac::{Hmac, Mac as _};
use http::HeaderMap;
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Slack's replay window: requests older or newer than this are refused.
pub const SLACK_WINDOW: Duration = Duration::from_secs(5 * 60);

/// How a webhook proves it comes from the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verifier {
    /// `X-Telegram-Bot-Api-Secret-Token` equals the secret.
    Telegram,
    /// Slack's v0 signature over `v0:{timestamp}:{body}`, within 5 minutes.
    Slack,
    /// HMAC-SHA256 of the body, hex, in `header` (an optional `sha256=` prefix).
    HmacSha256 {
        /// The header carrying the signature.
        header: String,
    },
    /// `Authorization: Bearer {secret}`.
    Bearer,
}

/// Why a webhook was refused (never echoing a secret or signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub String);

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Rejection {}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Rejection> {
    headers
        .get(name)
        .ok_or_else(|| Rejection(format!("missing the {name} header")))?
        .to_str()
        .map_err(|_| Rejection(format!("the {name} header is not text")))
}

/// Compare without leaking, through timing, where the first difference is.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hmac_ok(secret: &[u8], parts: &[&[u8]], hex_sig: &str) -> bool {
    let Ok(sig) = hex::decode(hex_sig.trim()) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(&sig).is_ok()
}

impl Verifier {
    /// Check a webhook request against `secret` at time `now`.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] saying what was missing or wrong.
    pub fn verify(&self, secret: &[u8], headers: &HeaderMap, body: &[u8], now: SystemTime) -> Result<(), Rejection> {
        match self {
            Verifier::Telegram => {
                let got = header(headers, "x-telegram-bot-api-secret-token")?;
                same(got.as_bytes(), secret)
                    .then_some(())
                    .ok_or_else(|| Rejection("the Telegram secret token does not match".into()))
            }
            Verifier::Bearer => {
                let got = header(headers, "authorization")?;
                let token = got
                    .strip_prefix("Bearer ")
                    .ok_or_else(|| Rejection("authorization is not a Bearer token".into()))?;
                same(token.as_bytes(), secret)
                    .then_some(())
                    .ok_or_else(|| Rejection("the bearer token does not match".into()))
            }
            Verifier::HmacSha256 { header: name } => {
                let got = header(headers, name)?;
                let hex_sig = got.strip_prefix("sha256=").unwrap_or(got);
                hmac_ok(secret, &[body], hex_sig)
                    .then_some(())
                    .ok_or_else(|| Rejection(format!("the {name} signature does not match the body")))
            }
            Verifier::Slack => {
                let ts = header(headers, "x-slack-request-timestamp")?;
                let sig = header(headers, "x-slack-signature")?;
                let ts_secs: u64 =
                    ts.trim().parse().map_err(|_| Rejection("the Slack timestamp is not a number".into()))?;
                let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                if now_secs.abs_diff(ts_secs) > SLACK_WINDOW.as_secs() {
                    return Err(Rejection("the Slack timestamp is outside the 5-minute window (a replay?)".into()));
                }
                let hex_sig = sig
                    .strip_prefix("v0=")
                    .ok_or_else(|| Rejection("the Slack signature is not a v0 signature".into()))?;
                hmac_ok(secret, &[b"v0:", ts.trim().as_bytes(), b":", body], hex_sig)
                    .then_some(())
                    .ok_or_else(|| Rejection("the Slack signature does not match".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    // Slack's published example (api.slack.com, "Verifying requests from Slack").
    const SLACK_SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const SLACK_TS: &str = "1531420618";
    const SLACK_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";

    #[test]
    fn slacks_published_example_verifies() {
        let h = headers(&[("x-slack-request-timestamp", SLACK_TS), ("x-slack-signature", SLACK_SIG)]);
        Verifier::Slack.verify(SLACK_SECRET, &h, SLACK_BODY.as_bytes(), at(1_531_420_618 + 60)).unwrap();
    }

    #[test]
    fn slack_refuses_tampering_wrong_secrets_and_replays() {
        let h = headers(&[("x-slack-request-timestamp", SLACK_TS), ("x-slack-signature", SLACK_SIG)]);
        let now = at(1_531_420_618);
        let tampered = SLACK_BODY.replace("roadrunner", "coyote");
        assert!(Verifier::Slack.verify(SLACK_SECRET, &h, tampered.as_bytes(), now).is_err());
        assert!(Verifier::Slack.verify(b"another-secret", &h, SLACK_BODY.as_bytes(), now).is_err());
        let late =
            Verifier::Slack.verify(SLACK_SECRET, &h, SLACK_BODY.as_bytes(), at(1_531_420_618 + 301)).unwrap_err();
        assert!(late.0.contains("5-minute window"), "{late}");
        let early = Verifier::Slack.verify(SLACK_SECRET, &h, SLACK_BODY.as_bytes(), at(1_531_420_618 - 301));
        assert!(early.is_err());
        let missing = Verifier::Slack.verify(SLACK_SECRET, &HeaderMap::new(), b"", now).unwrap_err();
        assert!(missing.0.contains("x-slack-request-timestamp"));
    }

    #[test]
    fn telegram_and_bearer_compare_the_token() {
        let now = at(0);
        let ok = headers(&[("x-telegram-bot-api-secret-token", "s3cret-token")]);
        Verifier::Telegram.verify(b"s3cret-token", &ok, b"{}", now).unwrap();
        let bad = headers(&[("x-telegram-bot-api-secret-token", "s3cret-tokex")]);
        assert!(Verifier::Telegram.verify(b"s3cret-token", &bad, b"{}", now).is_err());
        assert!(Verifier::Telegram.verify(b"s3cret-token", &HeaderMap::new(), b"{}", now).is_err());
        Verifier::Bearer.verify(b"abc", &headers(&[("authorization", "Bearer abc")]), b"", now).unwrap();
        assert!(Verifier::Bearer.verify(b"abc", &headers(&[("authorization", "Bearer abd")]), b"", now).is_err());
        assert!(Verifier::Bearer.verify(b"abc", &headers(&[("authorization", "Basic abc")]), b"", now).is_err());
    }

    #[test]
    fn generic_hmac_checks_the_body() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") — RFC 4231 style check value.
        let sig = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        let v = Verifier::HmacSha256 { header: "x-hub-signature-256".into() };
        let body = b"The quick brown fox jumps over the lazy dog";
        v.verify(b"key", &headers(&[("x-hub-signature-256", &format!("sha256={sig}"))]), body, at(0)).unwrap();
        v.verify(b"key", &headers(&[("x-hub-signature-256", sig)]), body, at(0)).unwrap();
        assert!(v.verify(b"key", &headers(&[("x-hub-signature-256", sig)]), b"other body", at(0)).is_err());
        assert!(v.verify(b"key", &headers(&[("x-hub-signature-256", "zz")]), body, at(0)).is_err());
    }
}

//! The channel's settings, from the WASI environment (the grant's `[env]`).

/// Where Telegram's Bot API is unless `TELEGRAM_API` says otherwise.
const DEFAULT_API: &str = "https://api.telegram.org";
/// Seconds a `getUpdates` waits for an update; Telegram allows up to 50.
const DEFAULT_POLL_TIMEOUT: u64 = 25;
const MAX_POLL_TIMEOUT: i64 = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The Bot API's base URL, without a trailing `/`.
    pub api: String,
    /// Where Telegram should send updates; `None` means long polling.
    pub webhook_url: Option<String>,
    /// Seconds each `getUpdates` may wait.
    pub poll_timeout: u64,
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The settings `var` gives; an empty value counts as unset.
    ///
    /// # Errors
    ///
    /// When `TELEGRAM_POLL_TIMEOUT` is not a whole number.
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let var = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let api = var("TELEGRAM_API").unwrap_or_else(|| DEFAULT_API.to_string());
        let poll_timeout = match var("TELEGRAM_POLL_TIMEOUT") {
            None => DEFAULT_POLL_TIMEOUT,
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| {
                    format!(
                        "TELEGRAM_POLL_TIMEOUT is `{v}`, not a number of seconds: set it to 0..=50 in the grant's [env]"
                    )
                })?
                // In range, so the cast is exact.
                .clamp(0, MAX_POLL_TIMEOUT) as u64,
        };
        Ok(Config {
            api: api.trim_end_matches('/').to_string(),
            webhook_url: var("TELEGRAM_WEBHOOK_URL"),
            poll_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
        Config::from_vars(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn defaults_are_telegram_and_long_polling() {
        let c = config(&[]).unwrap();
        assert_eq!(c, Config { api: DEFAULT_API.into(), webhook_url: None, poll_timeout: 25 });
        assert_eq!(config(&[("TELEGRAM_WEBHOOK_URL", " ")]).unwrap().webhook_url, None);
    }

    #[test]
    fn the_api_loses_its_trailing_slash_and_the_timeout_is_clamped() {
        let c = config(&[("TELEGRAM_API", "http://127.0.0.1:9/"), ("TELEGRAM_POLL_TIMEOUT", "90")]).unwrap();
        assert_eq!((c.api.as_str(), c.poll_timeout), ("http://127.0.0.1:9", 50));
        assert_eq!(config(&[("TELEGRAM_POLL_TIMEOUT", "-3")]).unwrap().poll_timeout, 0);
        let e = config(&[("TELEGRAM_POLL_TIMEOUT", "soon")]).unwrap_err();
        assert!(e.contains("TELEGRAM_POLL_TIMEOUT") && e.contains("[env]"), "{e}");
    }
}

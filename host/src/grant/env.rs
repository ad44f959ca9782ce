//! `[env]`: the environment a component reads (`std::env::var` in Rust).
//! Configuration only — a base URL, a mode — never a credential: a secret
//! in the environment would be in the component's memory, which is what
//! the vault and the boundary exist to prevent.

use super::PLACEHOLDER_OPEN;
use std::collections::BTreeMap;

/// The most variables one grant may set.
pub const MAX_VARS: usize = 64;
/// The longest value, in bytes.
pub const MAX_VALUE: usize = 4 << 10;

/// Why one `[env]` entry is refused: the message and its fix.
pub fn check(name: &str, value: &str) -> Result<(), (String, &'static str)> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !name_ok {
        return Err((format!("env: `{name}` is not a variable name"), "use capitals, digits and _, e.g. API_BASE"));
    }
    if value.contains(PLACEHOLDER_OPEN) {
        return Err((
            format!("env.{name} holds a {{secret:…}} placeholder: the environment is never filled from the vault"),
            "keep the secret in the vault and let the boundary inject it ([[secrets]] inject = ...)",
        ));
    }
    if value.len() > MAX_VALUE || value.contains('\0') {
        return Err((format!("env.{name} is over 4 KiB or holds a NUL byte"), "keep values short: configuration only"));
    }
    Ok(())
}

/// The environment as WASI gets it, in name order.
pub fn pairs(env: &BTreeMap<String, String>) -> Vec<(String, String)> {
    env.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::Grant;

    #[test]
    fn names_values_and_secrets_are_checked() {
        assert!(check("TELEGRAM_API", "https://api.telegram.org").is_ok());
        assert!(check("lower", "x").unwrap_err().0.contains("not a variable name"));
        assert!(check("1ST", "x").is_err());
        assert!(check("A-B", "x").is_err());
        assert!(check("TOKEN", "{secret:tg}").unwrap_err().0.contains("never filled from the vault"));
        assert!(check("BIG", &"x".repeat(MAX_VALUE + 1)).unwrap_err().0.contains("4 KiB"));
    }

    #[test]
    fn a_grant_sets_the_environment_or_names_the_bad_line() {
        let g = Grant::parse("[env]\nTELEGRAM_API = \"http://127.0.0.1:9\"\nMODE = \"poll\"\n", "g.toml").unwrap();
        assert_eq!(
            pairs(&g.env),
            vec![("MODE".into(), "poll".into()), ("TELEGRAM_API".into(), "http://127.0.0.1:9".into())]
        );
        let e = Grant::parse("[limits]\n\n[env]\nKEY = \"{secret:k}\"\n", "g.toml").unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.hint.unwrap().contains("vault"));
        let e = Grant::parse("[env]\nN = 3\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
    }
}

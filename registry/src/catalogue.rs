//! The first-party catalogue (`registry/catalogue.toml`): each first-party
//! component's name and the sha256 of its bytes. Guest builds are
//! reproducible (the SDK and WIT live inside the guest workspace, and the
//! checkout's path is remapped out), so a component built from any
//! checkout of this commit has these digests; `scripts/dev components`
//! refreshes the file, and `claw component add --first-party` refuses
//! bytes that are not the catalogue's.

use std::collections::BTreeMap;

/// The catalogue this build of claw carries.
const BUILTIN: &str = include_str!("../catalogue.toml");

/// Name → `sha256:HEX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    entries: BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    components: BTreeMap<String, String>,
}

impl Catalogue {
    /// The catalogue inside this build.
    ///
    /// # Panics
    ///
    /// Never for the committed file (a test parses it).
    pub fn builtin() -> Catalogue {
        Catalogue::parse(BUILTIN).expect("registry/catalogue.toml parses")
    }

    /// Parse a catalogue.
    ///
    /// # Errors
    ///
    /// When it is not TOML of `[components] NAME = "sha256:HEX"`.
    pub fn parse(text: &str) -> Result<Catalogue, String> {
        let raw: Raw = toml::from_str(text).map_err(|e| format!("the catalogue does not parse: {e}"))?;
        for (name, digest) in &raw.components {
            let hex = digest.strip_prefix("sha256:").unwrap_or_default();
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("the catalogue's `{name}` is not sha256:HEX (64 hex digits): {digest}"));
            }
        }
        Ok(Catalogue { entries: raw.components })
    }

    /// The first-party digest of `name`.
    pub fn digest_of(&self, name: &str) -> Option<&str> {
        self.entries.get(name).map(String::as_str)
    }

    /// The first-party component whose bytes have `digest`.
    pub fn name_of(&self, digest: &str) -> Option<&str> {
        self.entries.iter().find(|(_, d)| d.as_str() == digest).map(|(n, _)| n.as_str())
    }

    /// Whether `digest` is the first-party `name`'s.
    ///
    /// # Errors
    ///
    /// What differs: no such first-party component, or other bytes.
    pub fn check(&self, name: &str, digest: &str) -> Result<(), String> {
        match self.digest_of(name) {
            None => Err(format!(
                "`{name}` is not a first-party component (the catalogue lists {})",
                self.entries.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
            Some(d) if d == digest => Ok(()),
            Some(d) => Err(format!("these bytes ({digest}) are not the first-party {name}'s ({d})")),
        }
    }

    /// Every entry, by name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, d)| (n.as_str(), d.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalogue_parses_and_names_the_first_party_components() {
        let c = Catalogue::builtin();
        for name in ["echo", "llm-router", "repl", "deny"] {
            assert!(c.digest_of(name).is_some(), "{name}");
        }
    }

    #[test]
    fn a_check_names_what_differs() {
        let d = format!("sha256:{}", "a".repeat(64));
        let c = Catalogue::parse(&format!("[components]\necho = \"{d}\"\n")).unwrap();
        assert!(c.check("echo", &d).is_ok());
        assert_eq!(c.name_of(&d), Some("echo"));
        let other = format!("sha256:{}", "b".repeat(64));
        assert!(c.check("echo", &other).unwrap_err().contains("not the first-party echo's"));
        assert!(c.check("evil", &d).unwrap_err().contains("not a first-party component"));
        assert!(Catalogue::parse("[components]\necho = \"md5:00\"\n").unwrap_err().contains("sha256:HEX"));
        assert!(Catalogue::parse("echo = 1\n").is_err());
    }
}

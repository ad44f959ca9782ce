//! The trust store (`trust.toml` in the home): which public keys the
//! operator trusts, and for which repositories (`HOST/NS/*`). A key is
//! trusted only inside its scopes: a key trusted for one publisher's
//! namespace does not vouch for another's.

use crate::key::PublicKey;
use crate::signature::KeyInScope;
use crate::{Error, Reference};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One trusted key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKey {
    /// Its name (the key file's stem unless given).
    pub name: String,
    /// Its fingerprint, `sha256:HEX` of the SPKI.
    pub fingerprint: String,
    /// The PEM `PUBLIC KEY`.
    pub public_key: String,
    /// Where it is trusted: `HOST[:PORT]/PATH` patterns.
    pub scopes: Vec<String>,
}

/// Every trusted key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustStore {
    /// The keys, in the order added.
    #[serde(default, rename = "key")]
    pub keys: Vec<TrustedKey>,
}

const HEADER: &str =
    "# The keys claw trusts to sign components, and for which repositories.\n# Written by `claw trust add|rm`.\n";

/// Check a scope pattern: `HOST[:PORT]/SEGMENT/…`, where a `*` segment
/// matches one segment and a final `*` matches everything below.
///
/// # Errors
///
/// When it names no host and path, or uses `*` inside a segment.
pub fn check_scope(pattern: &str) -> Result<(), Error> {
    let segments: Vec<&str> = pattern.split('/').collect();
    let bad = |why: &str| {
        Error::new(format!("the scope `{pattern}` {why}"))
            .hint("write HOST[:PORT]/NAMESPACE/* (every component below the namespace) or HOST/NAMESPACE/NAME")
    };
    if segments.len() < 2 || segments.iter().any(|s| s.is_empty()) {
        return Err(bad("is not HOST/PATH"));
    }
    if segments[0].contains('*') {
        return Err(bad("has a `*` in its host: a key is trusted for named registries only"));
    }
    if segments.iter().any(|s| s.contains('*') && *s != "*") {
        return Err(bad("has a `*` inside a segment: `*` stands for whole segments"));
    }
    Ok(())
}

/// Whether `repository` (`HOST[:PORT]/PATH`) falls in `pattern`.
pub fn in_scope(pattern: &str, repository: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let r: Vec<&str> = repository.split('/').collect();
    if !p[0].eq_ignore_ascii_case(r[0]) {
        return false;
    }
    let (p, r) = (&p[1..], &r[1..]);
    match p.split_last() {
        Some((&"*", head)) => r.len() > head.len() && head.iter().zip(r).all(|(a, b)| *a == "*" || a == b),
        _ => p.len() == r.len() && p.iter().zip(r).all(|(a, b)| *a == "*" || a == b),
    }
}

/// The repository a reference names, as scopes and claims spell it.
pub fn repository_of(reference: &Reference) -> String {
    format!("{}/{}", reference.registry, reference.repository)
}

impl TrustStore {
    /// The store at `path` (empty when there is none).
    ///
    /// # Errors
    ///
    /// When it exists and cannot be read or parsed, or holds a key that
    /// does not parse: the error names the file and the key.
    pub fn load(path: &Path) -> Result<TrustStore, Error> {
        let store: TrustStore = match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                Error::new(format!("{} cannot be read: {}", path.display(), e.message()))
                    .hint("fix it, or remove it and add the keys again with `claw trust add`")
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => TrustStore::default(),
            Err(e) => return Err(Error::new(format!("cannot read {}: {e}", path.display()))),
        };
        for k in &store.keys {
            let key = PublicKey::from_pem(&k.public_key)
                .map_err(|e| Error::new(format!("{}: key `{}`: {}", path.display(), k.name, e.message)))?;
            if key.fingerprint() != k.fingerprint {
                return Err(Error::new(format!(
                    "{}: key `{}` has fingerprint {}, not the {} written beside it",
                    path.display(),
                    k.name,
                    key.fingerprint(),
                    k.fingerprint
                ))
                .hint("the file was edited: remove the key and add it again with `claw trust add`"));
            }
        }
        Ok(store)
    }

    /// Write it atomically.
    ///
    /// # Errors
    ///
    /// On I/O failure.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = toml::to_string_pretty(self).map_err(|e| Error::new(format!("encoding the trust store: {e}")))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
        }
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, format!("{HEADER}{text}"))
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))
    }

    /// Trust `key` (named `name`) for `scope`; a key already trusted gains
    /// the scope. Whether anything changed.
    ///
    /// # Errors
    ///
    /// A scope that does not parse, or a name another key has.
    pub fn add(&mut self, name: &str, key: &PublicKey, scope: &str) -> Result<bool, Error> {
        check_scope(scope)?;
        let fingerprint = key.fingerprint();
        if let Some(other) = self.keys.iter().find(|k| k.name == name && k.fingerprint != fingerprint) {
            return Err(Error::new(format!("another key is already trusted as `{name}` ({})", other.fingerprint))
                .hint("pick another name with --name, or `claw trust rm` the old key first"));
        }
        if let Some(k) = self.keys.iter_mut().find(|k| k.fingerprint == fingerprint) {
            if k.scopes.iter().any(|s| s == scope) {
                return Ok(false);
            }
            k.scopes.push(scope.to_string());
            return Ok(true);
        }
        self.keys.push(TrustedKey {
            name: name.to_string(),
            fingerprint,
            public_key: key.to_pem(),
            scopes: vec![scope.to_string()],
        });
        Ok(true)
    }

    /// Stop trusting the key named or fingerprinted `which` (for every
    /// scope, or only `scope`). Whether anything changed.
    pub fn remove(&mut self, which: &str, scope: Option<&str>) -> bool {
        let before = self.keys.clone();
        let matches =
            |k: &TrustedKey| k.name == which || k.fingerprint == which || k.fingerprint[7..].starts_with(which);
        match scope {
            None => self.keys.retain(|k| !matches(k)),
            Some(s) => {
                for k in self.keys.iter_mut().filter(|k| matches(k)) {
                    k.scopes.retain(|x| x != s);
                }
                self.keys.retain(|k| !k.scopes.is_empty());
            }
        }
        self.keys != before
    }

    /// The keys with their public keys parsed (one that does not parse is
    /// left out; [`TrustStore::load`] already refused such a file).
    pub fn parsed(&self) -> Vec<(&TrustedKey, PublicKey)> {
        self.keys.iter().filter_map(|k| Some((k, PublicKey::from_pem(&k.public_key).ok()?))).collect()
    }

    /// The keys as the verifier takes them, for `repository`.
    pub fn for_repository<'a>(parsed: &'a [(&'a TrustedKey, PublicKey)], repository: &str) -> Vec<KeyInScope<'a>> {
        parsed
            .iter()
            .map(|(k, key)| KeyInScope {
                name: &k.name,
                key,
                in_scope: k.scopes.iter().any(|s| in_scope(s, repository)),
                scopes: &k.scopes,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::SigningKey;

    #[test]
    fn scopes_match_whole_segments() {
        assert!(in_scope("r.io/acme/*", "r.io/acme/echo"));
        assert!(in_scope("r.io/acme/*", "r.io/acme/tools/echo"));
        assert!(in_scope("R.IO/acme/*", "r.io/acme/echo"));
        assert!(!in_scope("r.io/acme/*", "r.io/acme"));
        assert!(!in_scope("r.io/acme/*", "r.io/acmecorp/echo"));
        assert!(!in_scope("r.io/acme/*", "evil.io/acme/echo"));
        assert!(!in_scope("r.io/acme/*", "r.io:444/acme/echo"));
        assert!(in_scope("r.io/*/echo", "r.io/acme/echo"));
        assert!(!in_scope("r.io/*/echo", "r.io/acme/x/echo"));
        assert!(in_scope("r.io/acme/echo", "r.io/acme/echo"));
        assert!(!in_scope("r.io/acme/echo", "r.io/acme/echo2"));
        assert!(check_scope("127.0.0.1:5000/claw/*").is_ok());
        for bad in ["r.io", "*/acme/*", "r.io/ac*/x", "r.io//x", ""] {
            assert!(check_scope(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_store_adds_scopes_refuses_clashing_names_and_detects_edits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust.toml");
        let (a, _) = SigningKey::generate().unwrap();
        let (b, _) = SigningKey::generate().unwrap();
        let mut store = TrustStore::load(&path).unwrap();
        assert!(store.add("acme", &a.public_key(), "r.io/acme/*").unwrap());
        assert!(!store.add("acme", &a.public_key(), "r.io/acme/*").unwrap());
        assert!(store.add("acme", &a.public_key(), "r.io/tools/*").unwrap());
        assert!(store.add("acme", &b.public_key(), "r.io/x/*").unwrap_err().message.contains("already trusted"));
        assert!(store.add("b", &b.public_key(), "bad").is_err());
        store.save(&path).unwrap();
        let back = TrustStore::load(&path).unwrap();
        assert_eq!(back, store);
        let parsed = back.parsed();
        let keys = TrustStore::for_repository(&parsed, "r.io/tools/echo");
        assert!(keys[0].in_scope);
        assert!(!TrustStore::for_repository(&parsed, "r.io/other/echo")[0].in_scope);

        let mut s = back.clone();
        assert!(s.remove("acme", Some("r.io/acme/*")));
        assert_eq!(s.keys[0].scopes, vec!["r.io/tools/*"]);
        assert!(s.remove(&a.public_key().fingerprint()[7..19], None));
        assert!(s.keys.is_empty() && !s.remove("acme", None));

        // A public key swapped in by hand no longer matches its fingerprint.
        let mut edited = back.clone();
        edited.keys[0].public_key = b.public_key().to_pem();
        std::fs::write(&path, toml::to_string(&edited).unwrap()).unwrap();
        assert!(TrustStore::load(&path).unwrap_err().message.contains("fingerprint"));
    }
}

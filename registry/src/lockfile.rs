//! The lockfile (`components.lock` in the home): for each component
//! installed from a registry, the reference it was added by, the digests
//! it resolved to and who signed it. `--locked` holds an install to it: a
//! tag that now points elsewhere is refused.

use crate::{Error, Reference, Sha256Digest};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One installed component's provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// The installed name.
    pub name: String,
    /// The reference it was added or upgraded by, as written.
    pub reference: String,
    /// The manifest digest it resolved to.
    pub manifest: Sha256Digest,
    /// The component (layer) digest.
    pub component: Sha256Digest,
    /// Who signed it: a key's fingerprint, or `unsigned`.
    pub signer: String,
}

/// Every lock, by installed name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockfile {
    /// The format's version.
    pub version: u32,
    /// The locks, sorted by name.
    #[serde(default, rename = "component")]
    pub components: Vec<Lock>,
}

const HEADER: &str = "# What each component installed from a registry was pulled from. Written by claw;\n# `claw component add --locked` refuses a tag that now points elsewhere.\n";

impl Lockfile {
    /// The lockfile at `path` (empty when there is none yet).
    ///
    /// # Errors
    ///
    /// When it exists and cannot be read or parsed: the error names it.
    pub fn load(path: &Path) -> Result<Lockfile, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                Error::new(format!("{} cannot be read: {}", path.display(), e.message()))
                    .hint("restore it from a backup, or remove it and add the components again")
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lockfile { version: 1, components: Vec::new() }),
            Err(e) => Err(Error::new(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Write it to `path` atomically (a reader sees the old or the new).
    ///
    /// # Errors
    ///
    /// On I/O failure.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = toml::to_string_pretty(self).map_err(|e| Error::new(format!("encoding the lockfile: {e}")))?;
        let tmp = path.with_extension("lock.tmp");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
        }
        std::fs::write(&tmp, format!("{HEADER}{text}"))
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))
    }

    /// The lock of `name`.
    pub fn get(&self, name: &str) -> Option<&Lock> {
        self.components.iter().find(|l| l.name == name)
    }

    /// Record `lock`, replacing any of the same name.
    pub fn set(&mut self, lock: Lock) {
        self.components.retain(|l| l.name != lock.name);
        self.components.push(lock);
        self.components.sort_by(|a, b| a.name.cmp(&b.name));
        self.version = 1;
    }

    /// Forget `name`.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.components.len();
        self.components.retain(|l| l.name != name);
        before != self.components.len()
    }

    /// With `--locked`: `reference`, resolved to `manifest`, may be
    /// installed as `name` only if the lockfile already says so.
    ///
    /// # Errors
    ///
    /// No lock for the name, a lock for another reference, or the tag now
    /// pointing at another manifest.
    pub fn check_locked(&self, name: &str, reference: &Reference, manifest: &Sha256Digest) -> Result<(), Error> {
        let Some(lock) = self.get(name) else {
            return Err(Error::new(format!("--locked: `{name}` is not in the lockfile"))
                .hint("add it once without --locked to record it"));
        };
        let locked_ref = Reference::parse(&lock.reference, None).ok();
        let same = locked_ref.as_ref().is_some_and(|l| {
            l.registry == reference.registry && l.repository == reference.repository && l.tag == reference.tag
        });
        if !same {
            return Err(Error::new(format!("--locked: `{name}` is locked to {}, not {reference}", lock.reference))
                .hint("add it without --locked to move the lock, after reading what changed"));
        }
        if lock.manifest != *manifest {
            return Err(Error::new(format!(
                "--locked: {reference} now points at {manifest}, but `{name}` is locked to {}",
                lock.manifest
            ))
            .hint("the tag was moved; read what changed, then add it without --locked to accept the new version"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(name: &str, reference: &str, manifest: &[u8]) -> Lock {
        Lock {
            name: name.into(),
            reference: reference.into(),
            manifest: Sha256Digest::of(manifest),
            component: Sha256Digest::of(b"wasm"),
            signer: "unsigned".into(),
        }
    }

    #[test]
    fn locks_survive_a_round_trip_and_replace_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config/components.lock");
        let mut f = Lockfile::load(&path).unwrap();
        assert!(f.components.is_empty());
        f.set(lock("b", "oci://r.io/ns/b:1", b"1"));
        f.set(lock("a", "oci://r.io/ns/a:1", b"1"));
        f.set(lock("b", "oci://r.io/ns/b:2", b"2"));
        f.save(&path).unwrap();
        let back = Lockfile::load(&path).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.components.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(back.get("b").unwrap().reference, "oci://r.io/ns/b:2");
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("# What each component"));
        std::fs::write(&path, "version = [").unwrap();
        assert!(Lockfile::load(&path).unwrap_err().message.contains("components.lock"));
    }

    #[test]
    fn locked_refuses_a_moved_tag_another_reference_and_an_unknown_name() {
        let mut f = Lockfile::default();
        f.set(lock("a", "oci://r.io/ns/a:1", b"one"));
        let r = Reference::parse("oci://r.io/ns/a:1", None).unwrap();
        f.check_locked("a", &r, &Sha256Digest::of(b"one")).unwrap();
        let e = f.check_locked("a", &r, &Sha256Digest::of(b"two")).unwrap_err();
        assert!(e.message.contains("now points at") && e.hint.unwrap().contains("tag was moved"));
        let other = Reference::parse("oci://r.io/ns/a:2", None).unwrap();
        assert!(f.check_locked("a", &other, &Sha256Digest::of(b"one")).unwrap_err().message.contains("locked to"));
        assert!(
            f.check_locked("b", &r, &Sha256Digest::of(b"one")).unwrap_err().message.contains("not in the lockfile")
        );
    }
}

//! The component store on disk: blobs named by digest, and one index that
//! maps names to digests and grants.
//!
//! Writers take an exclusive lock and replace the index atomically (temp
//! file + rename), so a reader — a running `claw run` — sees the old index
//! or the new one, never half of one. Blobs are written before the index
//! names them: a failed add leaves at most an unnamed blob behind.

use super::{Digest, World};
use crate::engine::write_private;
use crate::problem::Problem;
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One installed component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The operator's name for it.
    pub name: String,
    /// sha256 of its bytes.
    pub digest: Digest,
    /// Its world.
    pub world: World,
    /// Size in bytes.
    pub size: u64,
    /// The tool's description, as it reported it at add time.
    pub description: String,
    /// The JSON Schema of its parameters, as it reported it at add time.
    pub schema: String,
    /// Its import names.
    pub imports: Vec<String>,
    /// The grant file's text.
    pub grant: String,
    /// Where the grant came from (a path, or "(none)").
    pub grant_source: String,
    /// When it was added or last upgraded, ms since the Unix epoch.
    pub updated_ms: u64,
    /// Imports its grant did not cover, filled by deny stubs at install
    /// (each call there fails with `denied`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stubbed: Vec<String>,
}

/// All installed components.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Index {
    /// Bumped on every change, so watchers notice cheaply.
    pub generation: u64,
    /// By name.
    pub components: BTreeMap<String, Record>,
}

impl Index {
    /// The record named `name`, or an error saying it is not installed.
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming the component, with how to list and add them.
    pub fn record(&self, name: &str) -> Result<&Record, Problem> {
        self.components.get(name).ok_or_else(|| {
            Problem::new(format!("no component named `{name}` is installed"))
                .hint("`claw component list` shows what is installed; `claw component add FILE.wasm` installs one")
        })
    }
}

/// The on-disk store.
#[derive(Debug, Clone)]
pub struct ComponentStore {
    dir: PathBuf,
}

impl ComponentStore {
    /// The store under `dir` (created on first write).
    pub fn new(dir: &Path) -> ComponentStore {
        ComponentStore { dir: dir.to_path_buf() }
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs").join(format!("{}.wasm", digest.hex()))
    }

    /// The current index (empty when nothing was ever added).
    ///
    /// # Errors
    ///
    /// When the index exists but cannot be read or parsed.
    pub fn index(&self) -> Result<Index> {
        let path = self.index_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!("{} is damaged; restore it or remove it and add the components again", path.display())
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// A stamp of the index's content: cheap to poll (the file is small).
    pub fn stamp(&self) -> Option<u64> {
        crate::home::content_stamp(&self.index_path())
    }

    /// Store a blob under its digest (idempotent).
    ///
    /// # Errors
    ///
    /// On I/O failure.
    pub fn put_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        let path = self.blob_path(digest);
        if !path.is_file() {
            write_private(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }

    /// The bytes of a stored blob, checked against their digest.
    ///
    /// # Errors
    ///
    /// When missing or when the bytes no longer match the digest.
    pub fn blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        anyhow::ensure!(
            Digest::of(&bytes) == *digest,
            "{} does not match its digest: the store was tampered with",
            path.display()
        );
        Ok(bytes)
    }

    /// Change the index under the store's exclusive lock and write it
    /// atomically. `change` sees the current index; when it fails nothing
    /// is written.
    ///
    /// # Errors
    ///
    /// `change`'s error, or an I/O failure.
    pub fn update<T>(&self, change: impl FnOnce(&mut Index) -> Result<T>) -> Result<T> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let lock = std::fs::File::create(self.dir.join(".lock")).context("opening the store lock")?;
        lock.lock().context("locking the component store")?;
        let mut index = self.index()?;
        let out = change(&mut index)?;
        index.generation += 1;
        let bytes = serde_json::to_vec_pretty(&index).context("encoding the index")?;
        write_private(&self.index_path(), &bytes).context("writing the component index")?;
        Ok(out)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, digest: Digest) -> Record {
        Record {
            name: name.into(),
            digest,
            world: World::Tool,
            size: 3,
            description: String::new(),
            schema: "{}".into(),
            imports: vec![],
            grant: String::new(),
            grant_source: "(none)".into(),
            updated_ms: now_ms(),
            stubbed: Vec::new(),
        }
    }

    #[test]
    fn failed_update_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ComponentStore::new(dir.path());
        let d = Digest::of(b"abc");
        store.put_blob(&d, b"abc").unwrap();
        store
            .update(|i| {
                i.components.insert("a".into(), record("a", d.clone()));
                Ok(())
            })
            .unwrap();
        let before = store.index().unwrap();
        let r: Result<()> = store.update(|i| {
            i.components.clear();
            anyhow::bail!("no")
        });
        assert!(r.is_err());
        let after = store.index().unwrap();
        assert_eq!(after.generation, before.generation);
        assert!(after.components.contains_key("a"));
        assert_eq!(store.blob(&d).unwrap(), b"abc");
    }

    #[test]
    fn tampered_blob_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = ComponentStore::new(dir.path());
        let d = Digest::of(b"abc");
        store.put_blob(&d, b"abc").unwrap();
        std::fs::write(store.blob_path(&d), b"evil").unwrap();
        assert!(store.blob(&d).unwrap_err().to_string().contains("tampered"));
    }
}

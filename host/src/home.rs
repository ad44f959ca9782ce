//! Where claw keeps its configuration and data.
//!
//! `CLAW_HOME=DIR` puts both under one directory (`DIR/config`, `DIR/data`),
//! so two homes never mix; otherwise the XDG base directories are used
//! (`$XDG_CONFIG_HOME/claw`, `$XDG_DATA_HOME/claw`).

use crate::problem::Problem;
use std::path::{Path, PathBuf};

/// The configuration and data directories of one claw installation.
#[derive(Debug, Clone)]
pub struct Home {
    /// Operator-edited configuration.
    pub config: PathBuf,
    /// Everything claw writes: components, compile cache, vault, audit log, the SQLite store.
    pub data: PathBuf,
}

impl Home {
    /// Resolve from the environment (`CLAW_HOME`, then XDG, then `$HOME`).
    ///
    /// # Errors
    ///
    /// When neither `CLAW_HOME`, the XDG variables nor `HOME` is set.
    pub fn from_env() -> Result<Home, Problem> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(root) = var("CLAW_HOME") {
            return Ok(Home::at(&root));
        }
        let home = var("HOME");
        let config = var("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
        let data = var("XDG_DATA_HOME").or_else(|| home.as_ref().map(|h| h.join(".local/share")));
        match (config, data) {
            (Some(c), Some(d)) => Ok(Home { config: c.join("claw"), data: d.join("claw") }),
            _ => Err(Problem::new("cannot tell where to keep claw's files: HOME is not set")
                .hint("set CLAW_HOME=/some/dir (or HOME, or XDG_CONFIG_HOME and XDG_DATA_HOME)")),
        }
    }

    /// Both directories under one root.
    pub fn at(root: &Path) -> Home {
        Home { config: root.join("config"), data: root.join("data") }
    }

    /// Installed components: blobs by digest and the index.
    pub fn components(&self) -> PathBuf {
        self.data.join("components")
    }

    /// Compiled components, by engine and digest.
    pub fn compile_cache(&self) -> PathBuf {
        self.data.join("cache")
    }
}

/// A stamp of a small file's content, to poll for changes: equal stamps,
/// equal content. (A modification time can stay the same across two
/// writes within one clock tick, and a watcher would miss the second.)
/// `None` when the file does not exist.
pub fn content_stamp(path: &Path) -> Option<u64> {
    use std::hash::{Hash as _, Hasher as _};
    let bytes = std::fs::read(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_root_holds_config_and_data_apart() {
        let h = Home::at(Path::new("/x"));
        assert_eq!(h.config, PathBuf::from("/x/config"));
        assert_eq!(h.data, PathBuf::from("/x/data"));
        assert!(h.components().starts_with(&h.data));
        assert!(h.compile_cache().starts_with(&h.data));
    }

    #[test]
    fn a_content_stamp_changes_with_the_content_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("index.json");
        assert_eq!(content_stamp(&p), None);
        std::fs::write(&p, "a").unwrap();
        let a = content_stamp(&p);
        std::fs::write(&p, "b").unwrap();
        assert_ne!(content_stamp(&p), a, "two writes in one clock tick still differ");
        std::fs::write(&p, "a").unwrap();
        assert_eq!(content_stamp(&p), a);
    }
}

//! Where claw keeps its configuration and data.
//!
//! `CLAW_HOME=DIR` puts both under one directory (`DIR/config`, `DIR/data`),
//! so two homes never mix; otherwise the XDG base directories are used
//! (`$XDG_CONFIG_HOME/claw`, `$XDG_DATA_HOME/claw`).
//!
//! The environment is read here, once, by [`Home::from_env`] (the CLI's
//! edge): `CLAW_DATABASE_URL`, `CLAW_MASTER_KEY` and `CLAW_TOOLGEN_TARGET` travel in the `Home`
//! from then on. [`Home::at`] is that directory and nothing else, so a
//! library caller (a test, a benchmark) never picks up what a developer's
//! shell has set.

use crate::problem::Problem;
use crate::vault::KeySource;
use std::path::{Path, PathBuf};

/// The variable that overrides `database_url` in config.toml.
pub const DATABASE_URL_ENV: &str = "CLAW_DATABASE_URL";

/// The configuration and data directories of one claw installation, and
/// the overrides the environment gave it.
#[derive(Clone)]
pub struct Home {
    /// Operator-edited configuration.
    pub config: PathBuf,
    /// Everything claw writes: components, compile cache, vault, audit log, the SQLite store.
    pub data: PathBuf,
    /// `CLAW_DATABASE_URL`, when set and not empty (parsed where it is used,
    /// so a bad one fails only the commands that open the store).
    database_url: Option<String>,
    /// Where the master key comes from.
    key: KeySource,
    /// `CLAW_TOOLGEN_TARGET`: cargo's target dir for generated tools, when
    /// set (several homes then share one build of the SDK's dependencies).
    toolgen_target: Option<PathBuf>,
}

impl std::fmt::Debug for Home {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Home")
            .field("config", &self.config)
            .field("data", &self.data)
            .field("database_url", &self.database_url.as_deref().map(crate::store::redact))
            .field("key", &self.key)
            .field("toolgen_target", &self.toolgen_target)
            .finish()
    }
}

impl Home {
    /// Resolve from the environment: the directories from `CLAW_HOME`, then
    /// XDG, then `$HOME`; the overrides `CLAW_DATABASE_URL` and
    /// `CLAW_MASTER_KEY` and `CLAW_TOOLGEN_TARGET`.
    ///
    /// # Errors
    ///
    /// When neither `CLAW_HOME`, the XDG variables nor `HOME` is set.
    pub fn from_env() -> Result<Home, Problem> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let dirs = if let Some(root) = var("CLAW_HOME") {
            Home::at(&root)
        } else {
            let home = var("HOME");
            let config = var("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
            let data = var("XDG_DATA_HOME").or_else(|| home.as_ref().map(|h| h.join(".local/share")));
            match (config, data) {
                (Some(c), Some(d)) => Home::dirs(c.join("claw"), d.join("claw")),
                _ => {
                    return Err(Problem::new("cannot tell where to keep claw's files: HOME is not set")
                        .hint("set CLAW_HOME=/some/dir (or HOME, or XDG_CONFIG_HOME and XDG_DATA_HOME)"));
                }
            }
        };
        let database_url = std::env::var(DATABASE_URL_ENV).ok().filter(|u| !u.trim().is_empty());
        Ok(Home { database_url, key: KeySource::from_env(), toolgen_target: var("CLAW_TOOLGEN_TARGET"), ..dirs })
    }

    /// Both directories under one root, with no overrides: the database
    /// and the master key come from the files there, whatever the
    /// environment says.
    pub fn at(root: &Path) -> Home {
        Home::dirs(root.join("config"), root.join("data"))
    }

    fn dirs(config: PathBuf, data: PathBuf) -> Home {
        Home { config, data, database_url: None, key: KeySource::key_file_only(), toolgen_target: None }
    }

    /// The database URL the environment set (`CLAW_DATABASE_URL`), which
    /// wins over config.toml.
    pub fn database_url_override(&self) -> Option<&str> {
        self.database_url.as_deref()
    }

    /// Where the master key comes from: `CLAW_MASTER_KEY` when
    /// [`Home::from_env`] found it, else the key file.
    pub fn key_source(&self) -> &KeySource {
        &self.key
    }

    /// Installed components: blobs by digest and the index.
    pub fn components(&self) -> PathBuf {
        self.data.join("components")
    }

    /// cargo's target dir for generated tools (kept between builds, so the
    /// SDK's dependencies compile once).
    pub fn toolgen_target(&self) -> PathBuf {
        self.toolgen_target.clone().unwrap_or_else(|| self.data.join("toolgen/target"))
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
    fn a_home_at_a_directory_has_no_overrides() {
        // Whatever this process's environment holds, `Home::at` reads none of it.
        let h = Home::at(Path::new("/x"));
        assert_eq!(h.database_url_override(), None);
        assert!(!h.key_source().is_env());
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

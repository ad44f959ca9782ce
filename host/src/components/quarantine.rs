//! Quarantined components. A component whose request tripped the leak scan
//! runs no more until the operator releases it (`claw component release
//! NAME`): were it allowed to go on, which of its requests are blocked
//! would tell it, guess by guess, a vault value it was never granted. The
//! state is a file beside the audit log, so every claw process sees it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

/// Why and since when a component is held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The boundary's reason (names a secret or pattern, never a value).
    pub reason: String,
    /// When, ms since the Unix epoch.
    pub since_ms: u64,
}

/// The quarantine list of one home.
#[derive(Debug)]
pub struct Quarantine {
    path: PathBuf,
    held: RwLock<BTreeMap<String, Hold>>,
    stamp: Mutex<Option<SystemTime>>,
}

impl Quarantine {
    /// The list kept at `path` (loaded now; missing means empty).
    pub fn open(path: &Path) -> Quarantine {
        let q = Quarantine { path: path.to_path_buf(), held: RwLock::default(), stamp: Mutex::default() };
        q.refresh();
        q
    }

    /// A list that is never written (tests, benchmarks).
    pub fn in_memory() -> Quarantine {
        Quarantine { path: PathBuf::new(), held: RwLock::default(), stamp: Mutex::default() }
    }

    /// Why `name` is held, if it is.
    pub fn get(&self, name: &str) -> Option<Hold> {
        self.held.read().ok()?.get(name).cloned()
    }

    /// Every held component.
    pub fn list(&self) -> BTreeMap<String, Hold> {
        self.held.read().map(|m| m.clone()).unwrap_or_default()
    }

    /// Hold `name` (kept from a first hold: the first reason is the one
    /// that matters).
    ///
    /// # Errors
    ///
    /// When the file cannot be written; the component is held in this
    /// process all the same.
    pub fn hold(&self, name: &str, reason: &str) -> std::io::Result<()> {
        let hold = Hold { reason: reason.to_string(), since_ms: crate::components::store_now_ms() };
        if let Ok(mut m) = self.held.write() {
            m.entry(name.to_string()).or_insert_with(|| hold.clone());
        }
        self.update(|m| {
            m.entry(name.to_string()).or_insert(hold);
        })
    }

    /// Release `name`; false when it was not held.
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn release(&self, name: &str) -> std::io::Result<bool> {
        let mut was = false;
        self.update(|m| was = m.remove(name).is_some())?;
        if let Ok(mut m) = self.held.write() {
            m.remove(name);
        }
        Ok(was)
    }

    /// Reload from the file if another process changed it.
    pub fn refresh(&self) {
        if self.path.as_os_str().is_empty() {
            return;
        }
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        let Ok(mut stamp) = self.stamp.lock() else { return };
        if *stamp == modified && modified.is_some() {
            return;
        }
        *stamp = modified;
        let list = read(&self.path).unwrap_or_default();
        if let Ok(mut m) = self.held.write() {
            *m = list;
        }
    }

    /// Read, change and write the file under a lock, atomically.
    fn update(&self, change: impl FnOnce(&mut BTreeMap<String, Hold>)) -> std::io::Result<()> {
        if self.path.as_os_str().is_empty() {
            let mut m = self.held.write().map_err(|_| std::io::Error::other("poisoned"))?;
            change(&mut m);
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let lock =
            OpenOptions::new().create(true).truncate(false).write(true).open(self.path.with_extension("lock"))?;
        lock.lock()?;
        let mut list = read(&self.path)?;
        change(&mut list);
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&list).map_err(std::io::Error::other)?)?;
        std::fs::rename(&tmp, &self.path)?;
        lock.unlock()?;
        if let Ok(mut m) = self.held.write() {
            *m = list;
        }
        Ok(())
    }
}

fn read(path: &Path) -> std::io::Result<BTreeMap<String, Hold>> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| std::io::Error::other(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_is_seen_by_another_process_and_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quarantine.json");
        let a = Quarantine::open(&path);
        let b = Quarantine::open(&path);
        a.hold("fetch", "leak: vault secret `k` in the URL").unwrap();
        a.hold("fetch", "a second reason").unwrap();
        assert_eq!(a.get("fetch").unwrap().reason, "leak: vault secret `k` in the URL", "the first reason stays");
        assert!(b.get("fetch").is_none(), "not before a refresh");
        b.refresh();
        assert!(b.get("fetch").is_some());
        assert!(b.release("fetch").unwrap());
        assert!(!b.release("fetch").unwrap());
        std::thread::sleep(std::time::Duration::from_millis(10));
        a.refresh();
        assert!(a.get("fetch").is_none());
    }
}

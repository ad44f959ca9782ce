//! `claw:runtime/workspace`: documents under the workspace root, limited
//! to the prefixes the grant names.
//!
//! Paths are relative, `/`-separated, without `..`, `.` or empty segments;
//! anything else is refused before the file system is touched.

use super::{CallState, HostServices};
use crate::grant::{Grant, WorkspaceGrant};
use crate::wit::claw::runtime::types::{ErrorKind, ToolError};
use crate::wit::claw::runtime::workspace::{Entry, Host, add_to_linker};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// The largest document a component may write.
pub const MAX_DOCUMENT: usize = 8 << 20;

/// Link `claw:runtime/workspace`.
///
/// # Errors
///
/// When wasmtime refuses a definition.
pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    add_to_linker::<CallState, HasSelf<Instance>>(linker, |s| &mut s.workspace)
}

/// The component's workspace grant.
#[derive(Debug)]
pub struct Config {
    grant: WorkspaceGrant,
}

impl Config {
    pub(super) fn from_grant(grant: &Grant) -> Config {
        Config { grant: grant.workspace.clone() }
    }
}

/// One instance's workspace access.
pub struct Instance {
    config: Arc<Config>,
    root: PathBuf,
}

impl Instance {
    pub(super) fn prepare(config: &Arc<Config>, host: &HostServices) -> Instance {
        Instance { config: config.clone(), root: host.workspace_root.clone() }
    }

    fn resolve(&self, path: &str, write: bool) -> Result<PathBuf, ToolError> {
        let clean = clean(path)?;
        let allowed = if write { self.config.grant.may_write(&clean) } else { self.config.grant.may_read(&clean) };
        if !allowed {
            let what = if write { "write" } else { "read" };
            return Err(err(ErrorKind::Denied, format!("the grant does not let this tool {what} `{clean}`")));
        }
        Ok(self.root.join(clean))
    }
}

fn err(kind: ErrorKind, message: String) -> ToolError {
    ToolError { kind, message }
}

fn clean(path: &str) -> Result<String, ToolError> {
    let trimmed = path.trim_start_matches('/');
    let bad = trimmed.is_empty()
        || trimmed.contains('\\')
        || trimmed.contains('\0')
        || trimmed.split('/').any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        return Err(err(ErrorKind::InvalidParams, format!("`{path}` is not a workspace path (use a/b/c.md, no `..`)")));
    }
    Ok(trimmed.to_string())
}

fn io(path: &str, e: std::io::Error) -> ToolError {
    match e.kind() {
        std::io::ErrorKind::NotFound => err(ErrorKind::NotFound, format!("`{path}` does not exist")),
        _ => err(ErrorKind::Failed, format!("`{path}`: {e}")),
    }
}

fn write_file(full: &Path, path: &str, content: &[u8], append: bool) -> Result<(), ToolError> {
    use std::io::Write as _;
    if let Some(dir) = full.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io(path, e))?;
    }
    if append {
        let len = std::fs::metadata(full).map(|m| m.len() as usize).unwrap_or(0);
        if len + content.len() > MAX_DOCUMENT {
            return Err(err(ErrorKind::Limit, format!("`{path}` would exceed {MAX_DOCUMENT} bytes")));
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(full).map_err(|e| io(path, e))?;
        return f.write_all(content).map_err(|e| io(path, e));
    }
    crate::engine::write_private(full, content).map_err(|e| io(path, e))
}

impl Host for Instance {
    fn read(&mut self, path: String) -> wasmtime::Result<Result<String, ToolError>> {
        Ok(self.resolve(&path, false).and_then(|full| std::fs::read_to_string(full).map_err(|e| io(&path, e))))
    }

    fn write(&mut self, path: String, content: String) -> wasmtime::Result<Result<(), ToolError>> {
        if content.len() > MAX_DOCUMENT {
            return Ok(Err(err(ErrorKind::Limit, format!("documents are limited to {MAX_DOCUMENT} bytes"))));
        }
        Ok(self.resolve(&path, true).and_then(|full| write_file(&full, &path, content.as_bytes(), false)))
    }

    fn append(&mut self, path: String, content: String) -> wasmtime::Result<Result<(), ToolError>> {
        Ok(self.resolve(&path, true).and_then(|full| write_file(&full, &path, content.as_bytes(), true)))
    }

    fn list(&mut self, prefix: String) -> wasmtime::Result<Result<Vec<Entry>, ToolError>> {
        let prefix = prefix.trim_start_matches('/').to_string();
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out);
        out.retain(|e| e.path.starts_with(&prefix) && self.config.grant.may_read(&e.path));
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Ok(out))
    }

    fn delete(&mut self, path: String) -> wasmtime::Result<Result<(), ToolError>> {
        Ok(self.resolve(&path, true).and_then(|full| std::fs::remove_file(full).map_err(|e| io(&path, e))))
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Entry>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        let p = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            walk(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            let modified_ms = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis() as u64);
            out.push(Entry { path: rel.to_string_lossy().into_owned(), size: meta.len(), modified_ms });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn traversal_and_odd_paths_are_refused() {
        for bad in ["", "/", "../x", "a/../../b", "a//b", "a/./b", "a\\b", "a\0b"] {
            assert!(clean(bad).is_err(), "{bad:?}");
        }
        assert_eq!(clean("/notes/a.md").unwrap(), "notes/a.md");
    }
}

//! `claw:runtime/workspace`: documents in the store's workspace, limited to
//! the prefixes the grant names. Paths are checked before the store is
//! touched; what a tool writes is external content, checked for
//! prompt-injection markers, flagged, and recorded as the tool's.

use super::sinks::Sinks;
use super::{CallInfo, CallState, HostServices};
use crate::grant::{Grant, WorkspaceGrant};
use crate::store::LazyStore;
use crate::store::workspace::{Origin, WorkspaceError, normalize};
use crate::wit::claw::runtime::types::{ErrorKind, ToolError};
use crate::wit::claw::runtime::workspace::{Entry, Host, add_to_linker};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

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
    /// Recorded as the writer of what it writes.
    component: String,
}

impl Config {
    pub(super) fn from_grant(component: &str, grant: &Grant) -> Config {
        Config { grant: grant.workspace.clone(), component: component.to_string() }
    }
}

/// One instance's workspace access.
pub struct Instance {
    config: Arc<Config>,
    store: Arc<LazyStore>,
    /// Set when untrusted content drove the call: writes pass it first.
    sinks: Option<Arc<Sinks>>,
}

impl Instance {
    pub(super) fn prepare(config: &Arc<Config>, call: &CallInfo, host: &HostServices) -> Instance {
        Instance { config: config.clone(), store: host.store.clone(), sinks: call.sinks.clone() }
    }

    /// A path it may write, its sink passed (the data-flow policy).
    async fn check_write(&self, path: &str) -> Result<String, ToolError> {
        let clean = self.check(path, true)?;
        if let (Some(sinks), Some(sink)) = (&self.sinks, self.config.grant.write_sink(&clean)) {
            sinks.enter(&sink).await.map_err(|m| err(ErrorKind::Denied, m))?;
        }
        Ok(clean)
    }

    fn check(&self, path: &str, write: bool) -> Result<String, ToolError> {
        let clean = normalize(path).map_err(to_tool)?;
        let allowed = if write { self.config.grant.may_write(&clean) } else { self.config.grant.may_read(&clean) };
        if !allowed {
            let what = if write { "write" } else { "read" };
            return Err(err(ErrorKind::Denied, format!("the grant does not let this tool {what} `{clean}`")));
        }
        Ok(clean)
    }

    async fn store(&self) -> Result<&crate::store::Store, ToolError> {
        self.store.get().await.map_err(|e| err(ErrorKind::Unavailable, format!("the workspace is unavailable: {e}")))
    }
}

fn err(kind: ErrorKind, message: String) -> ToolError {
    ToolError { kind, message }
}

fn to_tool(e: WorkspaceError) -> ToolError {
    let kind = match &e {
        WorkspaceError::InvalidPath(_) => ErrorKind::InvalidParams,
        WorkspaceError::NotFound(_) => ErrorKind::NotFound,
        WorkspaceError::Exists(_) => ErrorKind::Failed,
        WorkspaceError::TooLarge(_) => ErrorKind::Limit,
        WorkspaceError::Db(_) => ErrorKind::Unavailable,
    };
    err(kind, e.to_string())
}

impl Host for Instance {
    async fn read(&mut self, path: String) -> wasmtime::Result<Result<String, ToolError>> {
        let run = async {
            let path = self.check(&path, false)?;
            match self.store().await?.workspace().read(&path).await.map_err(to_tool)? {
                Some(doc) => Ok(doc.content),
                None => Err(to_tool(WorkspaceError::NotFound(path))),
            }
        };
        Ok(run.await)
    }

    async fn write(&mut self, path: String, content: String) -> wasmtime::Result<Result<(), ToolError>> {
        let run = async {
            let path = self.check_write(&path).await?;
            self.store()
                .await?
                .workspace()
                .write(&path, &content, Origin::Component(&self.config.component))
                .await
                .map_err(to_tool)?;
            Ok(())
        };
        Ok(run.await)
    }

    async fn append(&mut self, path: String, content: String) -> wasmtime::Result<Result<(), ToolError>> {
        let run = async {
            let path = self.check_write(&path).await?;
            self.store()
                .await?
                .workspace()
                .append(&path, &content, Origin::Component(&self.config.component))
                .await
                .map_err(to_tool)?;
            Ok(())
        };
        Ok(run.await)
    }

    async fn list(&mut self, prefix: String) -> wasmtime::Result<Result<Vec<Entry>, ToolError>> {
        let run = async {
            let entries = self.store().await?.workspace().list(&prefix).await.map_err(to_tool)?;
            Ok(entries
                .into_iter()
                .filter(|e| self.config.grant.may_read(&e.path))
                .map(|e| Entry { path: e.path, size: e.size as u64, modified_ms: e.modified_ms as u64 })
                .collect())
        };
        Ok(run.await)
    }

    async fn delete(&mut self, path: String) -> wasmtime::Result<Result<(), ToolError>> {
        let run = async {
            let path = self.check_write(&path).await?;
            self.store().await?.workspace().delete(&path).await.map_err(to_tool)
        };
        Ok(run.await)
    }
}

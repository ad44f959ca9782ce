//! `claw:runtime/kv`: a small durable state of the component's own — a
//! channel's offset, the update ids it has seen — in the store, under the
//! component's name (another component never reads it), capped by the
//! grant's `[kv] max_kib`.

use super::{CallState, HostServices};
use crate::grant::Grant;
use crate::store::LazyStore;
use crate::store::kv::KvError;
use crate::wit::claw::runtime::kv::{Host, add_to_linker};
use crate::wit::claw::runtime::types::{ErrorKind, ToolError};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// Link `claw:runtime/kv`.
///
/// # Errors
///
/// When wasmtime refuses a definition.
pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    add_to_linker::<CallState, HasSelf<Instance>>(linker, |s| &mut s.kv)
}

/// Whose state, and its cap (none: not granted).
#[derive(Debug)]
pub struct Config {
    owner: String,
    max_bytes: Option<u64>,
}

impl Config {
    pub(super) fn from_grant(component: &str, grant: &Grant) -> Config {
        Config { owner: component.to_string(), max_bytes: grant.kv.map(|k| k.max_bytes) }
    }
}

/// One instance's access to its state.
pub struct Instance {
    config: Arc<Config>,
    store: Arc<LazyStore>,
}

impl Instance {
    pub(super) fn prepare(config: &Arc<Config>, host: &HostServices) -> Instance {
        Instance { config: config.clone(), store: host.store.clone() }
    }

    /// The store and the cap, or why there is no state to use.
    async fn open(&self) -> Result<(&crate::store::Store, u64), ToolError> {
        // The import check refuses kv without [kv]; this holds if it is bypassed.
        let max =
            self.config.max_bytes.ok_or_else(|| err(ErrorKind::Denied, "the grant has no [kv] section".into()))?;
        let store = self
            .store
            .get()
            .await
            .map_err(|e| err(ErrorKind::Unavailable, format!("the store is unavailable: {e}")))?;
        Ok((store, max))
    }
}

fn err(kind: ErrorKind, message: String) -> ToolError {
    ToolError { kind, message }
}

fn to_tool(e: KvError) -> ToolError {
    let kind = match &e {
        KvError::BadKey(_) => ErrorKind::InvalidParams,
        KvError::Full { .. } => ErrorKind::Limit,
        KvError::Db(_) => ErrorKind::Unavailable,
    };
    err(kind, e.to_string())
}

impl Host for Instance {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, ToolError>> {
        let (store, _) = match self.open().await {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        Ok(store.kv(&self.config.owner).get(&key).await.map_err(to_tool))
    }

    async fn set(&mut self, key: String, value: String) -> wasmtime::Result<Result<(), ToolError>> {
        let (store, max) = match self.open().await {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        Ok(store.kv(&self.config.owner).set(&key, &value, max).await.map_err(to_tool))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, ToolError>> {
        let (store, _) = match self.open().await {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        Ok(store.kv(&self.config.owner).delete(&key).await.map_err(to_tool))
    }

    async fn keys(&mut self, prefix: String) -> wasmtime::Result<Result<Vec<String>, ToolError>> {
        let (store, _) = match self.open().await {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        Ok(store.kv(&self.config.owner).keys(&prefix).await.map_err(to_tool))
    }
}

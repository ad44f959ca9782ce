//! The live table: installed components ready to instantiate, swapped
//! atomically.
//!
//! A call clones the `Arc<LoadedComponent>` it starts with, so a call in
//! flight finishes on the version it began with while new calls see the new
//! one.

use super::Record;
use crate::capabilities::{CallState, Config};
use crate::grant::Grant;
use crate::wit::ToolPre;
use crate::wit::channel::ChannelPre;
use crate::wit::llm::LlmPre;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;

/// A component ready to run: compiled, linked and configured from its grant.
pub struct LoadedComponent {
    /// Its record in the store.
    pub record: Record,
    /// Its effective grant (for the LLM router: with the providers merged in).
    pub grant: Grant,
    /// Pre-instantiated: each call only makes a fresh instance.
    pub pre: Pre,
    /// Capabilities configured from the grant.
    pub config: Arc<Config>,
}

impl std::fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedComponent").field("name", &self.record.name).field("digest", &self.record.digest).finish()
    }
}

/// A pre-instantiated component, by world.
pub enum Pre {
    /// A tool.
    Tool(ToolPre<CallState>),
    /// The LLM router (composed with its adapters).
    Llm(LlmPre<CallState>),
    /// A channel.
    Channel(ChannelPre<CallState>),
}

/// Name → loaded component, replaced as a whole on every change.
#[derive(Debug, Default)]
pub struct LiveTable {
    tools: ArcSwap<HashMap<String, Arc<LoadedComponent>>>,
}

impl LiveTable {
    /// The tool named `name` right now.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedComponent>> {
        self.tools.load().get(name).cloned()
    }

    /// All names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tools.load().keys().cloned().collect();
        v.sort();
        v
    }

    /// A snapshot of the whole table.
    pub fn snapshot(&self) -> Arc<HashMap<String, Arc<LoadedComponent>>> {
        self.tools.load_full()
    }

    /// Replace the whole table at once.
    pub fn replace(&self, tools: HashMap<String, Arc<LoadedComponent>>) {
        self.tools.store(Arc::new(tools));
    }

    /// Insert or replace one tool.
    pub fn insert(&self, tool: Arc<LoadedComponent>) {
        self.tools.rcu(|old| {
            let mut next = HashMap::clone(old);
            next.insert(tool.record.name.clone(), tool.clone());
            next
        });
    }
}

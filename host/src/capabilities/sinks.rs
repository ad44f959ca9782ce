//! The data-flow policy inside one call. A call made while the turn holds
//! content from outside carries its [`Sinks`]: each side effect the tool
//! reaches — a workspace write, an HTTP request with an unsafe method, an
//! invoke — passes it first, and a sink the grant does not declare safe
//! for untrusted input waits for a person (`claw approvals`). The tool sees
//! the refusal as a denial; the runtime tells the LLM what waits.

use crate::grant::{Approval, Grant};
use crate::store::LazyStore;
use crate::store::approvals::canonical;
use std::sync::{Arc, Mutex};

/// Why a person is asked, in their words and the LLM's.
pub fn reason(from: &str, sink: &str) -> String {
    format!("the turn holds content from outside ({from}) and this call would use {sink}")
}

/// One tainted call's sinks and what happened at them.
#[derive(Debug)]
pub struct Sinks {
    tool: String,
    arguments: String,
    tainted_by: String,
    guarded: Vec<String>,
    store: Arc<LazyStore>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// A person approved this call: its later sinks pass too.
    approved: bool,
    /// What the first held sink said, for the call's result.
    held: Option<String>,
}

impl Sinks {
    /// The sinks of a call of `tool` (its `grant`) with `arguments`, made
    /// while the turn holds content from `tainted_by`.
    pub fn new(tool: &str, grant: &Grant, arguments: &str, tainted_by: &str, store: Arc<LazyStore>) -> Sinks {
        Sinks {
            tool: tool.to_string(),
            arguments: canonical(arguments),
            tainted_by: tainted_by.to_string(),
            guarded: grant.guarded_sinks(),
            store,
            state: Mutex::default(),
        }
    }

    /// The untrusted content the call was made under (passed on to the
    /// tools it invokes).
    pub fn tainted_by(&self) -> &str {
        &self.tainted_by
    }

    /// May the call use `sink` now? A sink declared safe passes; a guarded
    /// one passes once a person approved this call (or an "always" covers
    /// it), and otherwise is held: the request waits in the store, and the
    /// reason is kept for the call's result. Fails closed.
    ///
    /// # Errors
    ///
    /// What the tool is told: that the sink waits for a person.
    pub async fn enter(&self, sink: &str) -> Result<(), String> {
        if !self.guarded.iter().any(|g| g == sink) || self.lock().approved {
            return Ok(());
        }
        let why = reason(&self.tainted_by, sink);
        let refusal = match self.store.get().await {
            Ok(store) => {
                match store.approvals().gate(&self.tool, &self.arguments, Approval::Always, Some(&why)).await {
                    Ok(gate) => {
                        let undone = format!("It stopped there: {sink} was not used.");
                        gate.refusal(&self.tool, &why, &undone)
                    }
                    Err(e) => {
                        Some(format!("the approvals could not be read ({e}), so `{}` did not use {sink}", self.tool))
                    }
                }
            }
            Err(e) => Some(format!("the approvals could not be read ({e}), so `{}` did not use {sink}", self.tool)),
        };
        let mut state = self.lock();
        match refusal {
            None => {
                state.approved = true;
                Ok(())
            }
            Some(message) => {
                state.held.get_or_insert(message);
                Err(format!("{sink} waits for a person's approval (the data-flow policy): it was not used"))
            }
        }
    }

    /// What the first held sink said, if one was held.
    pub fn held(&self) -> Option<String> {
        self.lock().held.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

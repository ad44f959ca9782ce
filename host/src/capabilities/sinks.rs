//! The approvals that fall inside one call. A call made while the turn
//! holds content from outside carries its [`Sinks`]: each side effect the
//! tool reaches — a workspace write, an HTTP request with an unsafe
//! method, an invoke — passes it first, and a sink the grant does not
//! declare safe for untrusted input waits for a person (the data-flow
//! policy). A request under an `[[http]]` rule with `approval = "always"`
//! waits for a person in any call the agent makes, asked by its method,
//! host and path. The tool sees a refusal as a denial; the runtime tells
//! the LLM what waits (`claw approvals`).

use crate::grant::{Approval, Grant, HttpRule};
use crate::store::LazyStore;
use crate::store::approvals::{Gate, canonical};
use std::sync::{Arc, Mutex};

/// Why a person is asked, in their words and the LLM's.
pub fn reason(from: &str, sink: &str) -> String {
    format!("the turn holds content from outside ({from}) and this call would use {sink}")
}

/// One call's sinks and what happened at them.
#[derive(Debug)]
pub struct Sinks {
    tool: String,
    arguments: String,
    tainted_by: Option<String>,
    guarded: Vec<String>,
    store: Arc<LazyStore>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// A person approved this call: its later sinks pass too.
    approved: bool,
    /// Requests a person approved during this call (method, host, path).
    requests: Vec<String>,
    /// What the first held sink said, for the call's result.
    held: Option<String>,
}

impl Sinks {
    /// What a call of `tool` (its `grant`) with `arguments` must pass, made
    /// while the turn holds content from `tainted_by` (if any); `None`
    /// when nothing in it could ask a person.
    pub fn new(
        tool: &str,
        grant: &Grant,
        arguments: &str,
        tainted_by: Option<&str>,
        store: Arc<LazyStore>,
    ) -> Option<Sinks> {
        let rules_ask = grant.http.iter().any(|r| r.approval != Approval::Never);
        (tainted_by.is_some() || rules_ask).then(|| Sinks {
            tool: tool.to_string(),
            arguments: canonical(arguments),
            tainted_by: tainted_by.map(str::to_string),
            guarded: grant.guarded_sinks(),
            store,
            state: Mutex::default(),
        })
    }

    /// The untrusted content the call was made under (passed on to the
    /// tools it invokes).
    pub fn tainted_by(&self) -> Option<&str> {
        self.tainted_by.as_deref()
    }

    /// May the call use `sink` now? Without untrusted content, or for a
    /// sink declared safe, yes; a guarded one passes once a person
    /// approved this call (or an "always" covers it), and otherwise is
    /// held: the request waits in the store, and the reason is kept for
    /// the call's result. Fails closed.
    ///
    /// # Errors
    ///
    /// What the tool is told: that the sink waits for a person.
    pub async fn enter(&self, sink: &str) -> Result<(), String> {
        let Some(from) = &self.tainted_by else { return Ok(()) };
        if !self.guarded.iter().any(|g| g == sink) || self.lock().approved {
            return Ok(());
        }
        let why = reason(from, sink);
        let undone = format!("It stopped there: {sink} was not used.");
        match self.ask(&self.arguments, &why, &undone).await {
            None => {
                self.lock().approved = true;
                Ok(())
            }
            Some(message) => Err(self.hold(sink, message)),
        }
    }

    /// May this request under `rule` go out? Its rule's own approval
    /// (asked by method, scheme, host and path — never the query, never a
    /// secret: it is asked before anything is injected), then, for an
    /// unsafe method, the data-flow policy.
    ///
    /// # Errors
    ///
    /// As [`Sinks::enter`].
    pub async fn enter_request(&self, rule: &HttpRule, method: &str, uri: &http::Uri) -> Result<(), String> {
        if rule.approval != Approval::Never {
            let host = uri.authority().map(|a| a.as_str()).unwrap_or_default();
            let request = format!("{method} {}://{host}{}", uri.scheme_str().unwrap_or("https"), uri.path());
            if !self.lock().requests.contains(&request) {
                let why = format!("the grant's rule on line {} asks a person before each request it allows", rule.line);
                let undone = format!("It stopped there: {request} was not sent.");
                match self.ask(&request, &why, &undone).await {
                    None => self.lock().requests.push(request),
                    Some(message) => return Err(self.hold(&request, message)),
                }
            }
        }
        match crate::grant::http_sink(rule, method) {
            Some(sink) => self.enter(&sink).await,
            None => Ok(()),
        }
    }

    /// What the first held sink said, if one was held.
    pub fn held(&self) -> Option<String> {
        self.lock().held.clone()
    }

    /// The store's answer for `arguments` of this tool: `None` to go on,
    /// else what the LLM is told. Fails closed.
    async fn ask(&self, arguments: &str, why: &str, undone: &str) -> Option<String> {
        let gate = match self.store.get().await {
            Ok(store) => store.approvals().gate(&self.tool, arguments, Approval::Always, Some(why)).await,
            Err(e) => {
                return Some(format!("the approvals could not be read ({e}), so `{}` stopped: {undone}", self.tool));
            }
        };
        match gate {
            Ok(Gate::Pass) => None,
            Ok(gate) => gate.refusal(&self.tool, why, undone),
            Err(e) => Some(format!("the approvals could not be read ({e}), so `{}` stopped: {undone}", self.tool)),
        }
    }

    fn hold(&self, what: &str, message: String) -> String {
        self.lock().held.get_or_insert(message);
        format!("{what} waits for a person's approval: it was not used")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

//! Grants: what one component may do, as plain data.
//!
//! One TOML file per component; deny by default. An empty file grants only
//! the sandbox (clocks, randomness, a log). Each section opens one
//! capability:
//!
//! ```toml
//! [limits]                 # optional; defaults shown
//! memory_mib = 64
//! timeout_ms = 10000
//! output_kib = 1024
//!
//! [[http]]                 # wasi:http/outgoing-handler, through the boundary
//! url = "https://api.github.com/repos/**"
//! methods = ["GET"]        # default ["GET"]
//! approval = "never"       # or "always": each request waits for a person
//!
//! [[secrets]]              # claw:runtime/secrets, and boundary injection
//! name = "github_token"
//! origins = ["https://api.github.com"]   # scheme, host and port it goes to
//! inject = "header"        # header | query | basic | placeholder | none
//! header = "Authorization"
//! format = "Bearer {secret}"
//!
//! [[http]]                 # a placeholder goes only where a rule writes it:
//! url = "https://api.telegram.org/bot{secret:telegram_token}/**"
//! [[secrets]]              # (or into one named header, `header = "X-Key"`)
//! name = "telegram_token"
//! inject = "placeholder"   # origins default to the rules that write it
//!                          # (or the value of one query parameter, `param =
//!                          #  "secret_token"`, sent to its named origins)
//!
//! [workspace]              # claw:runtime/workspace
//! read = ["notes/"]
//! write = ["notes/drafts/"]
//!
//! [memory]                 # claw:runtime/memory
//! search = true
//!
//! [invoke]                 # claw:runtime/invoke: alias = "tool name"
//! summarise = "summarise"
//!
//! [inbound]                # channels: webhooks verified by the host
//! verify = "slack"         # telegram | slack | hmac-sha256 | bearer
//! secret = "slack_signing_secret"
//!
//! [providers]              # the LLM router: HTTP to the configured providers
//! use = true               # (their scheme, host, port and credential only)
//!
//! [inbox]                  # channels: hand messages to the agent
//! poll = "1s"              # call the channel's poll this often
//! drafts = "1s"            # deliver a streaming reply's drafts this often
//!
//! [kv]                     # claw:runtime/kv: a small durable state
//! max_kib = 64
//!
//! [toolgen]                # claw:runtime/toolgen: ask claw to write a tool
//! request = true           # (it waits for `claw tool approve`)
//!
//! [env]                    # the component's environment (no secrets)
//! TELEGRAM_API = "https://api.telegram.org"
//!
//! [terminal]               # a channel's stdout is the operator's terminal
//! output = true
//!
//! [approval]               # a person confirms calls (`claw approvals`)
//! calls = "first-use"      # always | first-use | never
//!
//! [policy]                 # the data-flow policy (see `claw policy explain`)
//! sink = true              # the tool is a side effect in itself (it sends, pays)
//! untrusted_ok = ["write notes/drafts/"]   # sinks content from outside may drive
//!
//! [network]                # non-global networks, named explicitly
//! allow = ["10.0.0.0/8"]   # (an IP-literal or localhost [[http]] host names itself)
//! ```

mod check;
pub mod env;
mod explain;
mod http_rule;
mod parse;
mod sink;

pub use check::{ImportClass, check_imports, classify_import, ungranted};
pub use explain::explain;
pub use http_rule::{
    HostPattern, HttpRule, Origin, PLACEHOLDER_OPEN, PathGlob, PathPlaceholder, Scheme, placeholder_names, split_host,
};
pub use parse::{GrantError, SIGNING_KEY_PREFIX, valid_name};
pub use sink::{PolicyGrant, SAFE_METHODS, Sink, http_sink};

use std::collections::BTreeMap;

/// Everything one component may do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grant {
    /// Resource limits for each instance.
    pub limits: Limits,
    /// Where it may send HTTP requests.
    pub http: Vec<HttpRule>,
    /// Secrets it may ask about, and how the boundary injects them.
    pub secrets: Vec<SecretGrant>,
    /// Workspace paths it may read and write.
    pub workspace: WorkspaceGrant,
    /// Whether it may search memory.
    pub memory_search: bool,
    /// Tools it may invoke: alias → installed tool name.
    pub invoke: BTreeMap<String, String>,
    /// Non-global networks it may reach (loopback, private...), named
    /// explicitly: under `[network] allow`, or as an IP literal or
    /// `localhost` host in an `[[http]]` rule.
    pub networks: Vec<ipnet::IpNet>,
    /// How the host authenticates this channel's webhooks, if it has any.
    pub inbound: Option<InboundGrant>,
    /// The LLM router: HTTP to exactly the providers `claw provider add`
    /// configured (merged in by [`Grant::with_providers`] when loaded).
    pub providers: bool,
    /// A channel whose stdout is the operator's terminal (the REPL).
    pub terminal_output: bool,
    /// A durable key-value state of its own, and its cap.
    pub kv: Option<KvGrant>,
    /// A channel that hands messages to the agent (and how often it is polled).
    pub inbox: Option<InboxGrant>,
    /// It may ask claw to write new tools (each waits for the operator's
    /// approval).
    pub toolgen: bool,
    /// Environment variables the component reads (configuration, never a
    /// secret: those stay in the vault).
    pub env: BTreeMap<String, String>,
    /// Which of its calls, as a tool, need a person's approval.
    pub approval: Approval,
    /// Its sinks as the data-flow policy sees them.
    pub policy: PolicyGrant,
}

/// `[approval] calls = …`: when a person confirms a tool's calls before
/// they run (`claw approvals`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Approval {
    /// Calls run without asking.
    #[default]
    Never,
    /// The first call needs a person; once one was approved, later ones run.
    FirstUse,
    /// Every call needs a person, unless an "always" covers it.
    Always,
}

/// `[inbox]`: the channel hands messages to the agent; each reply is
/// delivered back through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxGrant {
    /// Call the channel's `poll` this often (none: never).
    pub poll_ms: Option<u64>,
    /// Deliver a streaming reply as drafts this often (none: the whole
    /// reply once, at the end).
    pub drafts_ms: Option<u64>,
}

/// `[kv]`: the component keeps a small state of its own in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvGrant {
    /// Keys and values together, in bytes.
    pub max_bytes: u64,
}

/// The cap of `[kv]` without `max_kib`.
pub const KV_DEFAULT_KIB: u64 = 64;

/// A channel's webhook authentication: the verifier and the vault secret
/// it checks against (the channel never sees the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundGrant {
    /// How requests are verified.
    pub verifier: crate::inbound::Verifier,
    /// The vault secret to verify with.
    pub secret: String,
}

/// Per-instance resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock time for one call, in milliseconds.
    pub timeout_ms: u64,
    /// Largest output one call may return, in bytes.
    pub output_bytes: usize,
    /// Largest outbound request body, in bytes (buffered and scanned whole).
    pub http_request_bytes: usize,
    /// Largest response body the boundary buffers to redact, in bytes.
    pub http_response_bytes: usize,
    /// Outbound requests in flight at once.
    pub http_concurrency: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            timeout_ms: 10_000,
            output_bytes: 1 << 20,
            http_request_bytes: 8 << 20,
            http_response_bytes: 16 << 20,
            http_concurrency: 8,
        }
    }
}

/// One secret named in a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretGrant {
    /// The vault name.
    pub name: String,
    /// Where the boundary may send it: scheme, host and port.
    pub origins: Vec<Origin>,
    /// How it is put on the wire.
    pub inject: Injection,
}

/// How the boundary puts a secret on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// Only `secrets.exists` may ask about it; never sent.
    None,
    /// As a header, `format` with `{secret}` replaced.
    Header {
        /// Header name.
        name: String,
        /// Value template containing `{secret}`.
        format: String,
    },
    /// As a query parameter.
    Query {
        /// Parameter name.
        param: String,
    },
    /// As HTTP basic auth password for `username`.
    Basic {
        /// The user name sent with it.
        username: String,
    },
    /// Where the component writes `{secret:NAME}`, at a place the grant
    /// declares: a path segment of an `[[http]]` rule's URL, this one
    /// header (once), or the whole value of this one query parameter.
    Placeholder {
        /// The one header whose value may carry the placeholder.
        header: Option<String>,
        /// The one query parameter whose value may be the placeholder.
        param: Option<String>,
    },
}

/// Workspace path prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkspaceGrant {
    /// Prefixes it may read and list.
    pub read: Vec<String>,
    /// Prefixes it may write, append to and delete (implies read).
    pub write: Vec<String>,
}

impl WorkspaceGrant {
    /// Whether `path` falls under a read (or write) prefix.
    pub fn may_read(&self, path: &str) -> bool {
        self.read.iter().chain(&self.write).any(|p| under(path, p))
    }

    /// Whether `path` falls under a write prefix.
    pub fn may_write(&self, path: &str) -> bool {
        self.write.iter().any(|p| under(path, p))
    }

    /// Whether anything at all is granted.
    pub fn is_empty(&self) -> bool {
        self.read.is_empty() && self.write.is_empty()
    }
}

/// `path` is `prefix` itself or lies below it. `""` and `"/"` mean everything.
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_start_matches('/');
    let path = path.trim_start_matches('/');
    if prefix.is_empty() {
        return true;
    }
    if prefix.ends_with('/') {
        path.starts_with(prefix)
    } else {
        path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
    }
}

impl SecretGrant {
    /// Whether it may be sent to `scheme://host:port`.
    pub fn goes_to(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        self.origins.iter().any(|o| o.matches(scheme, host, port))
    }
}

impl Grant {
    /// Parse a grant file's text; `file` names it in errors.
    ///
    /// # Errors
    ///
    /// A [`GrantError`] naming the file, line and field, with the fix.
    pub fn parse(text: &str, file: &str) -> Result<Grant, GrantError> {
        parse::parse(text, file)
    }

    /// Whether the component can change nothing outside its own instance:
    /// no workspace writes, HTTP only with GET or HEAD, no tools to invoke
    /// (a read-only tool could otherwise call one that writes). These are
    /// the tools a routine may use when it names none.
    pub fn is_read_only(&self) -> bool {
        self.workspace.write.is_empty()
            && self.invoke.is_empty()
            && !self.providers
            && self.http.iter().all(|r| r.methods.iter().all(|m| m == "GET" || m == "HEAD"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_means_no_writes_no_unsafe_methods_and_no_invokes() {
        let g = |text: &str| Grant::parse(text, "g.toml").unwrap();
        assert!(g("").is_read_only());
        assert!(g("[[http]]\nurl = \"https://api.example.com/**\"\nmethods = [\"GET\"]\n").is_read_only());
        assert!(g("[workspace]\nread = [\"notes/\"]\n").is_read_only());
        assert!(!g("[workspace]\nwrite = [\"notes/\"]\n").is_read_only());
        assert!(!g("[[http]]\nurl = \"https://api.example.com/**\"\nmethods = [\"GET\", \"POST\"]\n").is_read_only());
        assert!(!g("[invoke]\nsend = \"mailer\"\n").is_read_only());
    }

    #[test]
    fn workspace_prefixes_do_not_leak_to_siblings() {
        let g = WorkspaceGrant { read: vec!["notes".into()], write: vec!["out/".into()] };
        assert!(g.may_read("notes/a.md"));
        assert!(g.may_read("notes"));
        assert!(!g.may_read("notesecret.md"));
        assert!(g.may_read("out/x"));
        assert!(g.may_write("out/x"));
        assert!(!g.may_write("notes/a.md"));
        assert!(!g.may_read("AGENTS.md"));
    }
}

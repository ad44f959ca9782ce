//! The operator's configuration file, `$CONFIG/config.toml`. Every key is
//! optional; an unknown key or a bad value is an error naming the line.
//!
//! ```toml
//! database_url = "postgres://claw@db.internal/claw"   # default: SQLite under the data dir
//!
//! [memory]
//! rrf_k = 60            # Reciprocal Rank Fusion constant
//!
//! [embedder]            # default: the offline embedder
//! kind = "openai"       # any OpenAI-compatible /v1/embeddings
//! url = "http://127.0.0.1:11434/v1/embeddings"
//! model = "nomic-embed-text"
//! credential = "openai_key"   # optional vault secret, injected by the boundary
//!
//! [agent]
//! history_tokens = 8000 # history kept verbatim; older turns are summarised
//! max_iterations = 8    # LLM rounds with tool calls in one turn
//! max_tool_calls = 16   # tool calls one LLM reply may ask for
//! untrusted_sinks = "ask"  # the data-flow policy: "ask" a person before content
//!                        # from outside drives a sink, or "allow" (off: measured
//!                        # in docs/BENCHMARKS.md, and `claw policy explain` warns)
//! recall = 4            # memory hits put in context per message
//!
//! [network]             # how the boundary reaches the network
//! dns = ["10.0.0.2"]    # name servers it asks (default: the system's resolver)
//! ca_files = ["corp-ca.pem"]  # roots TLS trusts besides the public web's
//!
//! [jobs]                # the worker pool of each `claw run`
//! workers = 4           # jobs in parallel (default: the machine's cores)
//! lease = "30s"         # a job whose worker stops renewing is taken over after this
//! poll = "1s"           # how often idle workers look for work nobody woke them for
//!
//! [gateway]             # the HTTP listener of `claw run` (webhooks, the API, health)
//! listen = "127.0.0.1:8080"   # "off" turns it off
//! tls_cert = "gateway.pem"    # serve HTTPS with this certificate chain (PEM) ...
//! tls_key = "gateway.key"     # ... and its private key (paths relative to the config dir)
//! per_minute = 120            # requests per minute per address and per user (429 past it)
//! max_turns = 32              # agent turns the gateway waits for at once (503 past it)
//!
//! [heartbeat]           # the agent reviews HEARTBEAT.md on a schedule
//! every = "30m"         # "off" turns it off (shown by `claw status`)
//! channel = "repl"      # where findings go (default: the document routines/heartbeat.md)
//! ```

use crate::home::Home;
use crate::problem::Problem;
use serde::Deserialize;
use std::path::PathBuf;

/// The parsed configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the store lives (`sqlite://...` or `postgres://...`).
    pub database_url: Option<String>,
    /// Memory search settings.
    #[serde(default)]
    pub memory: MemoryConfig,
    /// The embedder (default: the offline one).
    pub embedder: Option<EmbedderConfig>,
    /// The agent loop.
    #[serde(default)]
    pub agent: AgentConfig,
    /// The boundary's resolver and TLS roots.
    #[serde(default)]
    pub network: NetworkConfig,
    /// The worker pool.
    #[serde(default)]
    pub jobs: JobsConfig,
    /// The agent's heartbeat.
    #[serde(default)]
    pub heartbeat: HeartbeatConfig,
    /// The HTTP listener.
    #[serde(default)]
    pub gateway: GatewayConfig,
    /// Component registries.
    #[serde(default)]
    pub registry: RegistryConfig,
}

/// `[registry]`: where `NAME@VERSION` is pulled from, and how each
/// registry host is reached.
///
/// ```toml
/// [registry]
/// default = "ghcr.io/acme"            # NAME@VERSION → oci://ghcr.io/acme/NAME:VERSION
/// [registry.hosts."ghcr.io"]
/// username = "acme-bot"
/// credential = "ghcr_token"           # a vault secret, sent to this host only
/// [registry.hosts."registry.lan:5000"]
/// plain_http = true                   # (loopback registries always may)
/// ```
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// `HOST[:PORT]/NS` that a bare `NAME@VERSION` resolves under.
    pub default: Option<String>,
    /// Per registry host (`HOST[:PORT]`).
    #[serde(default)]
    pub hosts: std::collections::BTreeMap<String, RegistryHost>,
}

/// `[registry.hosts."HOST"]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RegistryHost {
    /// The user name of the basic-auth credential.
    pub username: Option<String>,
    /// The vault secret holding its password or token.
    pub credential: Option<String>,
    /// Speak plain HTTP to it (a registry on a trusted network).
    #[serde(default)]
    pub plain_http: bool,
}

/// `[gateway]`: where `claw run` listens.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// `HOST:PORT` (default 127.0.0.1:8080), or `off`.
    pub listen: Option<String>,
    /// The certificate chain (PEM) to serve HTTPS with.
    pub tls_cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Requests per minute per address and per user (default 120).
    pub per_minute: Option<u32>,
    /// Turns waited for at once (default 32).
    pub max_turns: Option<usize>,
}

impl GatewayConfig {
    /// The address to listen on; `None`: off.
    pub fn address(&self) -> Option<String> {
        match self.listen.as_deref() {
            Some("off") => None,
            Some(a) => Some(a.to_string()),
            None => Some("127.0.0.1:8080".into()),
        }
    }
}

/// `[jobs]`: each `claw run`'s worker pool.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// Workers (default: the machine's cores).
    pub workers: Option<usize>,
    /// The lease (default 30s).
    pub lease: Option<String>,
    /// The idle poll (default 1s).
    pub poll: Option<String>,
}

impl JobsConfig {
    /// Workers, lease and poll, with the defaults.
    ///
    /// # Errors
    ///
    /// A duration that does not parse, naming the key.
    pub fn resolved(&self) -> Result<(usize, std::time::Duration, std::time::Duration), Problem> {
        let ms = |v: &Option<String>, key: &str, default: i64| {
            v.as_deref().map_or(Ok(default), |t| crate::jobs::trigger::duration_ms(t, key))
        };
        let workers = self.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let lease = ms(&self.lease, "jobs.lease", 30_000)?;
        let poll = ms(&self.poll, "jobs.poll", 1_000)?;
        let d = |v: i64| std::time::Duration::from_millis(v as u64);
        Ok((workers.max(1), d(lease), d(poll)))
    }
}

/// `[heartbeat]`: the agent's checklist review.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatConfig {
    /// The period (default 30m), or `off`.
    pub every: Option<String>,
    /// The channel findings go to (default: the document only).
    pub channel: Option<String>,
    /// The conversation on that channel.
    pub conversation: Option<String>,
}

/// `[network]`: how the boundary resolves names and whom TLS trusts.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Name servers (`IP` or `IP:PORT`); empty: the system's resolver.
    #[serde(default)]
    pub dns: Vec<String>,
    /// PEM files of CA certificates trusted besides the public web roots
    /// (relative to the config directory).
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
}

/// `[agent]`: the agent loop's budgets.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Estimated tokens of history kept verbatim (about 4 bytes a token).
    pub history_tokens: usize,
    /// LLM rounds with tool calls in one turn before the agent stops.
    pub max_iterations: usize,
    /// Memory hits recalled into the context for each message.
    pub recall: usize,
    /// Tool calls one LLM reply may ask for; the rest get an error.
    pub max_tool_calls: usize,
    /// The data-flow policy: whether content from outside may drive a
    /// sink without a person.
    pub untrusted_sinks: UntrustedSinks,
}

/// `[agent] untrusted_sinks`: what a sink does once the turn holds content
/// from outside.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UntrustedSinks {
    /// It waits for a person, unless its grant declares it safe.
    #[default]
    Ask,
    /// It runs: the policy is off (a prompt-injected LLM may act).
    Allow,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            history_tokens: 8000,
            max_iterations: 8,
            recall: 4,
            max_tool_calls: 16,
            untrusted_sinks: UntrustedSinks::Ask,
        }
    }
}

/// `[embedder]`: where embeddings come from.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EmbedderConfig {
    /// `offline` or `openai` (any OpenAI-compatible `/v1/embeddings`).
    pub kind: String,
    /// The endpoint, e.g. `http://127.0.0.1:11434/v1/embeddings`.
    pub url: Option<String>,
    /// The model name.
    pub model: Option<String>,
    /// A vault secret sent as `Authorization: Bearer` to that host only.
    pub credential: Option<String>,
}

/// `[memory]`: retrieval settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {
    /// The Reciprocal Rank Fusion constant (default 60).
    #[serde(default = "default_k")]
    pub rrf_k: f64,
}

fn default_k() -> f64 {
    crate::memory::rrf::DEFAULT_K
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig { rrf_k: default_k() }
    }
}

impl Config {
    /// The configuration file's path.
    pub fn path(home: &Home) -> PathBuf {
        home.config.join("config.toml")
    }

    /// Read the configuration (defaults when the file does not exist).
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming the file and line of a parse error.
    pub fn load(home: &Home) -> Result<Config, Problem> {
        let path = Config::path(home);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(Problem::new(format!("cannot read {}: {e}", path.display()))),
        };
        let config: Config = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            let at = line.map_or(String::new(), |l| format!(":{l}"));
            Problem::new(format!("{}{at}: {}", path.display(), e.message().trim()))
                .hint("the keys claw reads are listed in `host/src/config.rs`; e.g. database_url = \"postgres://...\"")
        })?;
        if !(config.memory.rrf_k > 0.0 && config.memory.rrf_k.is_finite()) {
            return Err(Problem::new(format!("{}: memory.rrf_k must be a positive number", path.display()))
                .hint("the usual value is 60"));
        }
        if config.agent.max_iterations == 0 || config.agent.history_tokens < 200 || config.agent.max_tool_calls == 0 {
            return Err(Problem::new(format!(
                "{}: agent.max_iterations and agent.max_tool_calls must be at least 1, agent.history_tokens at least 200",
                path.display()
            ))
            .hint("the defaults are max_iterations = 8, max_tool_calls = 16 and history_tokens = 8000"));
        }
        let at = |e: Problem| Problem::new(format!("{}: {e}", path.display())).hint(e.hint_text().unwrap_or_default());
        config.jobs.resolved().map_err(at)?;
        if let Some(every) = config.heartbeat.every.as_deref().filter(|e| *e != "off") {
            crate::jobs::trigger::duration_ms(every, "heartbeat.every").map_err(at)?;
        }
        if config.jobs.workers == Some(0) {
            return Err(Problem::new(format!("{}: jobs.workers must be at least 1", path.display()))
                .hint("leave it out for one worker per core"));
        }
        let g = &config.gateway;
        if g.tls_cert.is_some() != g.tls_key.is_some() {
            return Err(Problem::new(format!(
                "{}: [gateway] needs both tls_cert and tls_key, or neither",
                path.display()
            ))
            .hint("tls_cert = \"gateway.pem\" (the certificate chain) and tls_key = \"gateway.key\" (its key)"));
        }
        if g.per_minute == Some(0) || g.max_turns == Some(0) {
            return Err(Problem::new(format!(
                "{}: [gateway] per_minute and max_turns must be at least 1",
                path.display()
            ))
            .hint("leave them out for 120 requests a minute and 32 turns at once"));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_defaults_and_bad_keys_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        assert_eq!(Config::load(&home).unwrap(), Config::default());
        std::fs::create_dir_all(&home.config).unwrap();
        std::fs::write(Config::path(&home), "database_url = \"sqlite://x\"\n\ndatabse = 1\n").unwrap();
        let e = Config::load(&home).unwrap_err().to_string();
        assert!(e.contains("config.toml:3:") && e.contains("databse"), "{e}");
    }

    #[test]
    fn the_data_flow_policy_asks_unless_turned_off_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        assert_eq!(Config::load(&home).unwrap().agent.untrusted_sinks, UntrustedSinks::Ask);
        std::fs::create_dir_all(&home.config).unwrap();
        std::fs::write(Config::path(&home), "[agent]\nuntrusted_sinks = \"allow\"\n").unwrap();
        assert_eq!(Config::load(&home).unwrap().agent.untrusted_sinks, UntrustedSinks::Allow);
        std::fs::write(Config::path(&home), "[agent]\nuntrusted_sinks = \"maybe\"\n").unwrap();
        let e = Config::load(&home).unwrap_err().to_string();
        assert!(e.contains("config.toml:2:") && e.contains("maybe"), "{e}");
    }
}

//! The configured MCP servers, kept in `mcp.toml` in the config directory
//! and written by `claw mcp add|rm`: plain data, checked on every read.
//!
//! ```toml
//! [[server]]
//! name = "everything"
//! command = ["node", "/opt/mcp/server-everything/dist/index.js", "stdio"]
//! env = [{ name = "GITHUB_TOKEN", secret = "gh_token" }, { name = "LOG", value = "debug" }]
//! dirs = ["/srv/notes"]        # read-write for the server; everything else is closed
//! read = ["/opt/mcp"]          # read-only (its own code, say)
//! network = false              # its own empty network namespace
//! timeout_ms = 60000           # one call
//! memory_mb = 2048             # address-space limit
//!
//! [[server]]
//! name = "docs"
//! url = "https://mcp.example.com/mcp"   # Streamable HTTP, through the boundary
//! timeout_ms = 60000                    # under the grant in mcp/docs.grant.toml
//! ```

use crate::home::Home;
use crate::problem::Problem;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How long one tool call may take by default.
pub const DEFAULT_TIMEOUT_MS: u64 = 60_000;

/// The address space a server gets by default: room for Node's and
/// Python's runtimes, not for a runaway allocation.
pub const DEFAULT_MEMORY_MB: u64 = 2048;

/// The separator between a server's name and its tool's in the name the
/// agent sees (`everything__echo`). OpenAI and Anthropic accept only
/// `[A-Za-z0-9_-]` in tool names, so `NAME.tool` would be refused on the
/// wire; two underscores cannot occur in a server name.
pub const SEPARATOR: &str = "__";

/// One configured server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Its name: the prefix of its tools' names.
    pub name: String,
    /// The program and its arguments (a stdio server).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Its endpoint (a Streamable HTTP server, reached through the boundary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The only environment it gets, besides a fixed system `PATH`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Directories it may read and write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirs: Vec<PathBuf>,
    /// Directories it may only read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<PathBuf>,
    /// Whether it may use the network (default: no).
    #[serde(default)]
    pub network: bool,
    /// How long one call may take.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Its address-space limit.
    #[serde(default = "default_memory")]
    pub memory_mb: u64,
    /// Which of its tools' calls wait for a person.
    #[serde(default)]
    pub approval: McpApproval,
}

/// `claw mcp add --approval`: which calls of a server's tools need a
/// person (`claw approvals`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum McpApproval {
    /// Calls of tools the server does not mark harmless: neither
    /// `readOnlyHint` nor `destructiveHint: false` (MCP's own default
    /// is that a tool may destroy).
    #[default]
    Destructive,
    /// Every call.
    Always,
    /// None (the data-flow policy still holds a tool not marked read-only
    /// once untrusted content is in the turn).
    Never,
}

impl McpApproval {
    /// What a call of a tool with these hints needs.
    pub fn needs(self, destructive: bool) -> crate::grant::Approval {
        match self {
            McpApproval::Always => crate::grant::Approval::Always,
            McpApproval::Destructive if destructive => crate::grant::Approval::Always,
            _ => crate::grant::Approval::Never,
        }
    }
}

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_MS
}

fn default_memory() -> u64 {
    DEFAULT_MEMORY_MB
}

/// One variable of a server's environment: a plain value, or a vault
/// secret — the one way a vault value leaves the boundary, which
/// `claw mcp list` and `claw policy explain` say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    /// The variable's name.
    pub name: String,
    /// Its value, written in the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The vault secret whose value it gets when the server starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl EnvVar {
    /// `K=V` or `K=secret:NAME`, as `--env` takes it.
    ///
    /// # Errors
    ///
    /// Without `=`, or with a bad name.
    pub fn parse(text: &str) -> Result<EnvVar, Problem> {
        let Some((name, value)) = text.split_once('=') else {
            return Err(Problem::new(format!("--env `{text}` has no `=`"))
                .hint("write NAME=VALUE, or NAME=secret:SECRET to pass a vault secret"));
        };
        let var = match value.strip_prefix("secret:") {
            Some(secret) => EnvVar { name: name.to_string(), value: None, secret: Some(secret.to_string()) },
            None => EnvVar { name: name.to_string(), value: Some(value.to_string()), secret: None },
        };
        var.check()?;
        Ok(var)
    }

    fn check(&self) -> Result<(), Problem> {
        let name_ok = !self.name.is_empty()
            && !self.name.starts_with(|c: char| c.is_ascii_digit())
            && self.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !name_ok {
            return Err(Problem::new(format!("environment variable name `{}` is not valid", self.name))
                .hint("use letters, digits and `_`, not starting with a digit"));
        }
        match (&self.value, &self.secret) {
            (Some(_), None) => Ok(()),
            (None, Some(s)) if s.starts_with(crate::grant::SIGNING_KEY_PREFIX) => {
                Err(Problem::new(format!("`{}`: `{s}` is a signing key; no server may be given one", self.name)))
            }
            (None, Some(s)) if crate::grant::valid_name(s) => Ok(()),
            (None, Some(s)) => Err(Problem::new(format!("`{}`: `{s}` is not a vault secret name", self.name))
                .hint("vault secret names are letters, digits, `-` and `_` (`claw secret list`)")),
            _ => Err(Problem::new(format!("`{}` needs exactly one of `value` and `secret`", self.name))),
        }
    }
}

impl std::fmt::Display for EnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.value, &self.secret) {
            (_, Some(s)) => write!(f, "{}=secret:{s}", self.name),
            (Some(v), None) => write!(f, "{}={v}", self.name),
            (None, None) => write!(f, "{}", self.name),
        }
    }
}

impl Server {
    /// A stdio server running `command` with the defaults.
    pub fn stdio(name: &str, command: Vec<String>) -> Server {
        Server {
            name: name.to_string(),
            command,
            url: None,
            env: Vec::new(),
            dirs: Vec::new(),
            read: Vec::new(),
            network: false,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            memory_mb: DEFAULT_MEMORY_MB,
            approval: McpApproval::default(),
        }
    }

    /// A Streamable HTTP server at `url` with the defaults.
    pub fn http(name: &str, url: &str) -> Server {
        Server { url: Some(url.to_string()), ..Server::stdio(name, Vec::new()) }
    }

    /// Whether it is well formed; the message names the field.
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming what is wrong and the fix.
    pub fn check(&self) -> Result<(), Problem> {
        check_name(&self.name)?;
        if self.timeout_ms == 0 || self.memory_mb < 16 {
            return Err(Problem::new(format!(
                "MCP server `{}`: timeout_ms must be above 0 and memory_mb at least 16",
                self.name
            )));
        }
        if let Some(url) = &self.url {
            return self.check_http(url);
        }
        let Some(program) = self.command.first() else {
            return Err(Problem::new(format!("MCP server `{}` has no command", self.name))
                .hint("e.g. --command \"npx -y @modelcontextprotocol/server-everything\""));
        };
        if program.trim().is_empty() {
            return Err(Problem::new(format!("MCP server `{}`: the command's program is empty", self.name)));
        }
        let mut seen = Vec::new();
        for var in &self.env {
            var.check().map_err(|e| Problem::new(format!("MCP server `{}`: {e}", self.name)))?;
            if seen.contains(&&var.name) {
                return Err(Problem::new(format!("MCP server `{}` sets `{}` twice", self.name, var.name)));
            }
            seen.push(&var.name);
        }
        for dir in self.dirs.iter().chain(&self.read) {
            if !dir.is_absolute() {
                return Err(Problem::new(format!(
                    "MCP server `{}`: `{}` is not an absolute path",
                    self.name,
                    dir.display()
                ))
                .hint("give directories as absolute paths"));
            }
        }
        Ok(())
    }

    /// A Streamable HTTP server: an absolute http(s) URL, and none of what
    /// only a local process has.
    fn check_http(&self, url: &str) -> Result<(), Problem> {
        let name = &self.name;
        if !self.command.is_empty() {
            return Err(Problem::new(format!("MCP server `{name}` has both a command and a url"))
                .hint("a server is either a local program (--command) or a Streamable HTTP endpoint (--url)"));
        }
        let parsed = url
            .parse::<http::Uri>()
            .ok()
            .filter(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some_and(|h| !h.is_empty()));
        let Some(parsed) = parsed else {
            return Err(Problem::new(format!("MCP server `{name}`: `{url}` is not an http:// or https:// URL"))
                .hint("give the server's endpoint, e.g. https://mcp.example.com/mcp"));
        };
        if parsed.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(Problem::new(format!("MCP server `{name}`: the URL carries credentials"))
                .hint("keep the credential in the vault and pass --bearer SECRET (or name it in the server's grant)"));
        }
        let local = [
            (!self.env.is_empty(), "env"),
            (!self.dirs.is_empty(), "dirs"),
            (!self.read.is_empty(), "read"),
            (self.network, "network"),
        ];
        if let Some((_, field)) = local.iter().find(|(set, _)| *set) {
            return Err(Problem::new(format!("MCP server `{name}`: `{field}` applies to a local (stdio) server only"))
                .hint("what a remote server may reach is its grant: the file `claw mcp add` writes beside mcp.toml"));
        }
        Ok(())
    }

    /// Whether it is reached over Streamable HTTP.
    pub fn is_remote(&self) -> bool {
        self.url.is_some()
    }

    /// The vault secrets it is given.
    pub fn secrets(&self) -> impl Iterator<Item = (&str, &str)> {
        self.env.iter().filter_map(|v| v.secret.as_deref().map(|s| (v.name.as_str(), s)))
    }
}

/// A server name: lowercase letters, digits, `-` and single `_`, so the
/// name before [`SEPARATOR`] is always the server's.
///
/// # Errors
///
/// When it is not one.
pub fn check_name(name: &str) -> Result<(), Problem> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !name.contains(SEPARATOR);
    if ok {
        Ok(())
    } else {
        Err(Problem::new(format!("`{name}` is not a valid MCP server name"))
            .hint("use up to 32 lowercase letters, digits, `-` and `_` (not `__`), starting with a letter"))
    }
}

/// The configured servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Servers {
    /// In the order they were added.
    #[serde(default, rename = "server")]
    pub list: Vec<Server>,
}

impl Servers {
    /// Where they are kept.
    pub fn path(home: &Home) -> PathBuf {
        home.config.join("mcp.toml")
    }

    /// Read them (none when the file does not exist).
    ///
    /// # Errors
    ///
    /// When the file cannot be read, does not parse, or a server is malformed.
    pub fn load(home: &Home) -> Result<Servers> {
        let path = Self::path(home);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Servers::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(Self::parse(&text, &path)?)
    }

    /// Parse the text of `path`.
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming the file, the server and the field.
    pub fn parse(text: &str, path: &Path) -> Result<Servers, Problem> {
        let servers: Servers = toml::from_str(text).map_err(|e| {
            Problem::new(format!("{}: {}", path.display(), e.message().trim()))
                .hint("fix the file, or remove the server with `claw mcp rm NAME` and add it again")
        })?;
        for (i, s) in servers.list.iter().enumerate() {
            s.check().map_err(|e| Problem::new(format!("{}: {e}", path.display())))?;
            if servers.list[..i].iter().any(|o| o.name == s.name) {
                return Err(Problem::new(format!("{}: two servers are named `{}`", path.display(), s.name)));
            }
        }
        Ok(servers)
    }

    /// Write them atomically.
    ///
    /// # Errors
    ///
    /// On I/O failure.
    pub fn save(&self, home: &Home) -> Result<()> {
        let path = Self::path(home);
        let body = toml::to_string(self).context("serialising the MCP servers")?;
        let text = format!(
            "# MCP servers. Written by `claw mcp add|rm`.\n# A `secret` names a vault secret passed in the server's environment.\n\n{body}"
        );
        std::fs::create_dir_all(&home.config).with_context(|| format!("creating {}", home.config.display()))?;
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("replacing {}", path.display()))?;
        Ok(())
    }

    /// The server named `name`.
    pub fn get(&self, name: &str) -> Option<&Server> {
        self.list.iter().find(|s| s.name == name)
    }

    /// The stdio servers given vault secret `secret`, and the variable each
    /// reads it as: the places that secret leaves the boundary.
    pub fn given<'a>(&'a self, secret: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.list.iter().flat_map(move |s| {
            s.secrets().filter(move |(_, n)| *n == secret).map(move |(var, _)| (s.name.as_str(), var))
        })
    }

    /// Add `server` (checked; the name must be free).
    ///
    /// # Errors
    ///
    /// When it does not check or the name is taken.
    pub fn add(&mut self, server: Server) -> Result<(), Problem> {
        server.check()?;
        if self.get(&server.name).is_some() {
            return Err(Problem::new(format!("an MCP server named `{}` is already configured", server.name))
                .hint(format!("remove it first with `claw mcp rm {}`, or pick another name", server.name)));
        }
        self.list.push(server);
        Ok(())
    }

    /// Remove the server named `name`.
    ///
    /// # Errors
    ///
    /// When there is none.
    pub fn remove(&mut self, name: &str) -> Result<Server, Problem> {
        let i = self.list.iter().position(|s| s.name == name).ok_or_else(|| {
            Problem::new(format!("no MCP server named `{name}` is configured"))
                .hint("`claw mcp list` shows the configured servers")
        })?;
        Ok(self.list.remove(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_plain_or_vault_secrets() {
        assert_eq!(EnvVar::parse("LOG=debug").unwrap().value.as_deref(), Some("debug"));
        let s = EnvVar::parse("GITHUB_TOKEN=secret:gh_token").unwrap();
        assert_eq!((s.value, s.secret.as_deref()), (None, Some("gh_token")));
        assert!(EnvVar::parse("NOEQUALS").unwrap_err().to_string().contains("no `=`"));
        assert!(EnvVar::parse("1X=y").unwrap_err().to_string().contains("not valid"));
        assert!(EnvVar::parse("X=secret:bad name").unwrap_err().to_string().contains("not a vault secret name"));
        assert_eq!(EnvVar::parse("A=b=c").unwrap().value.as_deref(), Some("b=c"));
    }

    #[test]
    fn server_names_cannot_hold_the_separator() {
        for good in ["everything", "fs-1", "my_notes"] {
            check_name(good).unwrap();
        }
        for bad in ["", "Everything", "a__b", "1fs", "a.b", &"x".repeat(33)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_round_trips_and_bad_files_name_the_problem() {
        let path = Path::new("/c/mcp.toml");
        let mut servers = Servers::default();
        let mut s = Server::stdio("notes", vec!["node".into(), "notes.js".into()]);
        s.env.push(EnvVar::parse("TOKEN=secret:notes_token").unwrap());
        s.dirs.push("/srv/notes".into());
        servers.add(s.clone()).unwrap();
        assert!(servers.add(s).unwrap_err().to_string().contains("already configured"));
        let text = toml::to_string(&servers).unwrap();
        assert_eq!(Servers::parse(&text, path).unwrap(), servers);
        assert_eq!(servers.list[0].secrets().collect::<Vec<_>>(), [("TOKEN", "notes_token")]);
        assert_eq!(servers.given("notes_token").collect::<Vec<_>>(), [("notes", "TOKEN")]);
        assert_eq!(servers.given("other").count(), 0);

        let e = Servers::parse("[[server]]\nname = \"x\"\ncommand = []\n", path).unwrap_err();
        assert!(e.to_string().contains("/c/mcp.toml") && e.to_string().contains("no command"), "{e}");
        let e = Servers::parse("[[server]]\nname = \"x\"\ncommand = [\"a\"]\nnetwrk = true\n", path).unwrap_err();
        assert!(e.to_string().contains("netwrk"), "{e}");
        let e = Servers::parse("[[server]]\nname = \"x\"\ncommand = [\"a\"]\ndirs = [\"rel\"]\n", path).unwrap_err();
        assert!(e.to_string().contains("absolute"), "{e}");
        let two = "[[server]]\nname = \"x\"\ncommand = [\"a\"]\n[[server]]\nname = \"x\"\ncommand = [\"b\"]\n";
        assert!(Servers::parse(two, path).unwrap_err().to_string().contains("two servers"));
        assert!(servers.remove("nope").unwrap_err().to_string().contains("no MCP server named `nope`"));
    }
}

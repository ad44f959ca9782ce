//! The LLM providers the operator configured, in failover order, and the
//! grant they add to the router: each provider's exact scheme, host and
//! port, and its credential for that host only.
//!
//! Kept in `providers.toml` in the config directory, written by
//! `claw provider add|rm` (replaced atomically).

use crate::grant::{Grant, HostPattern, HttpRule, Injection, Origin, PathGlob, SecretGrant};
use crate::home::Home;
use crate::problem::Problem;
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How long one attempt may wait for a response, unless configured.
pub const DEFAULT_TIMEOUT_MS: u32 = 120_000;

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// OpenAI-compatible Chat Completions (OpenAI, NEAR AI, OpenRouter,
    /// Together AI, vLLM, LM Studio, Ollama).
    Openai,
    /// Anthropic Messages.
    Anthropic,
}

impl Kind {
    /// The header the boundary puts the credential in, and its format.
    fn credential_header(self) -> (&'static str, &'static str) {
        match self {
            Kind::Openai => ("Authorization", "Bearer {secret}"),
            Kind::Anthropic => ("x-api-key", "{secret}"),
        }
    }

    /// The lowercase name used in files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Openai => "openai",
            Kind::Anthropic => "anthropic",
        }
    }
}

/// One configured provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// The operator's name for it.
    pub name: String,
    /// Its wire format.
    pub kind: Kind,
    /// e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The default model.
    pub model: String,
    /// The vault secret the boundary injects for this host, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Per-attempt response timeout.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
}

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_MS
}

impl Provider {
    /// Check the name, URL and credential name.
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming the field and the fix.
    pub fn validate(&self) -> Result<(), Problem> {
        if !crate::grant::valid_name(&self.name) {
            return Err(Problem::new(format!("`{}` is not a valid provider name", self.name))
                .hint("names use letters, digits, `-` and `_`"));
        }
        self.rule()?;
        if self.model.trim().is_empty() {
            return Err(Problem::new("--model is empty").hint("name the model, e.g. --model gpt-4o-mini"));
        }
        if let Some(c) = &self.credential
            && !crate::grant::valid_name(c)
        {
            return Err(Problem::new(format!("`{c}` is not a secret name"))
                .hint("secret names use letters, digits, `-` and `_`; store it with `claw secret set NAME`"));
        }
        Ok(())
    }

    /// The one HTTP rule this provider opens: POST to its scheme, host and
    /// port, any path (providers put the API version in the path).
    fn rule(&self) -> Result<HttpRule, Problem> {
        let url = self.base_url.trim_end_matches('/');
        let (scheme, host, port, _) = HttpRule::parse_url(url).map_err(|m| {
            Problem::new(format!("--base-url `{}`: {m}", self.base_url))
                .hint("e.g. --base-url https://api.openai.com/v1 or http://127.0.0.1:11434/v1 (Ollama)")
        })?;
        if !matches!(host, HostPattern::Exact(_)) {
            return Err(Problem::new(format!("--base-url `{}` names a wildcard host", self.base_url))
                .hint("a provider is one exact host"));
        }
        let path = PathGlob::any();
        Ok(HttpRule {
            scheme,
            host,
            port,
            path,
            methods: vec!["POST".into()],
            line: 0,
            placeholders: Vec::new(),
            approval: crate::grant::Approval::Never,
        })
    }

    /// Whether it is on this machine (named by IP literal or localhost).
    pub fn is_local(&self) -> bool {
        self.rule().is_ok_and(|r| r.host.is_local())
    }
}

/// The configured providers, in failover order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Providers {
    /// In failover order.
    #[serde(default, rename = "provider")]
    pub list: Vec<Provider>,
}

impl Providers {
    /// Where they are kept.
    pub fn path(home: &Home) -> PathBuf {
        home.config.join("providers.toml")
    }

    /// Read them (none when the file does not exist).
    ///
    /// # Errors
    ///
    /// When the file cannot be read or does not parse.
    pub fn load(home: &Home) -> Result<Providers> {
        let path = Self::path(home);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Providers::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let providers: Providers = toml::from_str(&text).map_err(|e| {
            Problem::new(format!("{}: {}", path.display(), e.message().trim()))
                .hint("fix the file, or remove the provider with `claw provider rm NAME` and add it again")
        })?;
        for p in &providers.list {
            p.validate().map_err(|e| Problem::new(format!("{}: provider `{}`: {e}", path.display(), p.name)))?;
        }
        Ok(providers)
    }

    /// Write them atomically.
    ///
    /// # Errors
    ///
    /// On I/O failure.
    pub fn save(&self, home: &Home) -> Result<()> {
        let path = Self::path(home);
        let body = toml::to_string(self).context("serialising providers")?;
        let text = format!(
            "# LLM providers, in failover order. Written by `claw provider add|rm`.\n# Keys live in the vault; the boundary injects them.\n\n{body}"
        );
        std::fs::create_dir_all(&home.config).with_context(|| format!("creating {}", home.config.display()))?;
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("replacing {}", path.display()))?;
        Ok(())
    }

    /// Append `provider` (last in failover order).
    ///
    /// # Errors
    ///
    /// When it does not validate or the name is taken.
    pub fn add(&mut self, provider: Provider) -> Result<(), Problem> {
        provider.validate()?;
        if self.list.iter().any(|p| p.name == provider.name) {
            return Err(Problem::new(format!("a provider named `{}` is already configured", provider.name))
                .hint(format!("remove it first with `claw provider rm {}`, or pick another name", provider.name)));
        }
        self.list.push(provider);
        Ok(())
    }

    /// Remove the provider named `name`.
    ///
    /// # Errors
    ///
    /// When there is none.
    pub fn remove(&mut self, name: &str) -> Result<Provider, Problem> {
        let i = self.list.iter().position(|p| p.name == name).ok_or_else(|| {
            Problem::new(format!("no provider named `{name}` is configured"))
                .hint("`claw provider list` shows the configured providers")
        })?;
        Ok(self.list.remove(i))
    }

    /// Add to `grant` what these providers need: one POST rule per
    /// provider, its credential for its host only, and — for a provider
    /// on an IP literal or localhost — that address, because naming it is
    /// the operator's grant. Nothing else on loopback opens.
    pub fn extend_grant(&self, grant: &mut Grant) {
        for p in &self.list {
            let Ok(rule) = p.rule() else { continue };
            grant.networks.extend(rule.host.named_networks());
            // `rule` checked the host is exact: the key goes there only.
            if let Some(secret) = &p.credential {
                let (header, format) = p.kind.credential_header();
                grant.secrets.push(SecretGrant {
                    name: secret.clone(),
                    origins: vec![Origin::of_rule(&rule)],
                    inject: Injection::Header { name: header.into(), format: format.into() },
                });
            }
            grant.http.push(rule);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(name: &str, kind: Kind, url: &str, credential: Option<&str>) -> Provider {
        Provider {
            name: name.into(),
            kind,
            base_url: url.into(),
            model: "m".into(),
            credential: credential.map(Into::into),
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }

    #[test]
    fn each_provider_opens_its_exact_host_and_port_with_its_credential_there_only() {
        let mut ps = Providers::default();
        ps.add(provider("openai", Kind::Openai, "https://api.openai.com/v1", Some("openai_key"))).unwrap();
        ps.add(provider("claude", Kind::Anthropic, "https://api.anthropic.com/v1/", Some("anthropic_key"))).unwrap();
        ps.add(provider("ollama", Kind::Openai, "http://127.0.0.1:11434/v1", None)).unwrap();
        let mut g = Grant::default();
        ps.extend_grant(&mut g);
        assert_eq!(g.http.len(), 3);
        assert_eq!(g.http[0].host, HostPattern::Exact("api.openai.com".into()));
        assert_eq!(g.http[0].port, 443);
        assert_eq!(g.http[0].methods, vec!["POST".to_string()]);
        assert_eq!(g.http[2].port, 11434);
        assert_eq!(g.secrets.len(), 2);
        assert_eq!(g.secrets[0].origins[0].to_string(), "https://api.openai.com:443");
        assert_eq!(g.secrets[1].inject, Injection::Header { name: "x-api-key".into(), format: "{secret}".into() });
        // Only the named loopback address opens, not loopback as a whole.
        assert_eq!(g.networks, vec![ipnet::IpNet::from(std::net::IpAddr::from([127, 0, 0, 1]))]);
    }

    #[test]
    fn bad_input_is_refused_with_the_field() {
        let mut ps = Providers::default();
        let e = ps.add(provider("x", Kind::Openai, "ftp://h/v1", None)).unwrap_err();
        assert!(e.to_string().contains("--base-url"), "{e}");
        let e = ps.add(provider("bad name", Kind::Openai, "https://h/v1", None)).unwrap_err();
        assert!(e.to_string().contains("provider name"), "{e}");
        let e = ps.add(provider("x", Kind::Openai, "https://h/v1", Some("no spaces"))).unwrap_err();
        assert!(e.to_string().contains("secret name"), "{e}");
        ps.add(provider("x", Kind::Openai, "https://h/v1", None)).unwrap();
        let e = ps.add(provider("x", Kind::Openai, "https://h/v1", None)).unwrap_err();
        assert!(e.to_string().contains("already configured"), "{e}");
        assert!(ps.remove("nope").is_err());
        assert_eq!(ps.remove("x").unwrap().name, "x");
    }

    #[test]
    fn the_file_round_trips_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        assert!(Providers::load(&home).unwrap().list.is_empty());
        let mut ps = Providers::default();
        ps.add(provider("b", Kind::Anthropic, "https://b.example/v1", Some("k"))).unwrap();
        ps.add(provider("a", Kind::Openai, "http://localhost:8080/v1", None)).unwrap();
        ps.save(&home).unwrap();
        assert_eq!(Providers::load(&home).unwrap(), ps);
        std::fs::write(Providers::path(&home), "[[provider]]\nname = 1\n").unwrap();
        let e = Providers::load(&home).unwrap_err();
        assert!(format!("{e:#}").contains("providers.toml"), "{e:#}");
    }
}

//! The grant of a Streamable HTTP server: what the boundary lets its
//! requests reach, kept beside `mcp.toml` as `mcp/NAME.grant.toml` and
//! written by `claw mcp add --url`. Only the network sections of a grant
//! mean anything for a server that runs elsewhere.

use super::config::Server;
use super::error::McpError;
use super::jail::Isolation;
use crate::boundary::Policy;
use crate::grant::{Grant, Injection, explain};
use crate::home::Home;
use crate::problem::Problem;
use std::path::PathBuf;
use std::sync::Arc;

/// The largest response the boundary passes on (a big tool result, or a
/// long-lived event stream before it is reopened).
const RESPONSE_KIB: u64 = 64 << 10;

/// Where the grant of server `name` is kept.
pub fn grant_path(home: &Home, name: &str) -> PathBuf {
    home.config.join("mcp").join(format!("{name}.grant.toml"))
}

/// Write the grant of server `name` atomically: a reader never sees half
/// a grant, and a failed write leaves the old one in place.
///
/// # Errors
///
/// When the directory cannot be made or the file cannot be written.
pub fn save(home: &Home, name: &str, text: &str) -> Result<(), Problem> {
    let path = grant_path(home, name);
    let dir = path.parent().unwrap_or(&home.config);
    std::fs::create_dir_all(dir).map_err(|e| Problem::new(format!("creating {}: {e}", dir.display())))?;
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).map_err(|e| Problem::new(format!("writing {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, &path).map_err(|e| Problem::new(format!("replacing {}: {e}", path.display())))
}

/// The grant `claw mcp add --url` writes: the endpoint alone, for the
/// methods Streamable HTTP uses, and `bearer` (a vault secret) sent to
/// its origin as `Authorization: Bearer …`.
///
/// # Errors
///
/// When the server has no URL.
pub fn default_grant(server: &Server, bearer: Option<&str>) -> Result<String, Problem> {
    let url = server.url.as_deref().ok_or_else(|| Problem::new(format!("`{}` is not a remote server", server.name)))?;
    let uri: http::Uri = url.parse().map_err(|e| Problem::new(format!("`{url}`: {e}")))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(Problem::new(format!("`{url}` is not an absolute URL")));
    };
    let origin = format!("{scheme}://{authority}");
    let mut text = format!(
        "# What claw's boundary lets MCP server `{name}` reach (Streamable HTTP).\n\
         # Written by `claw mcp add`; only [limits], [[http]], [[secrets]] and [network] apply.\n\n\
         [limits]\n\
         timeout_ms = {timeout}   # until an answer starts; a call's own timeout is in mcp.toml\n\
         http_response_kib = {RESPONSE_KIB}\n\n\
         [[http]]\n\
         url = {rule:?}\n\
         methods = [\"GET\", \"POST\", \"DELETE\"]\n",
        name = server.name,
        timeout = server.timeout_ms.min(600_000),
        rule = format!("{origin}{}", uri.path()),
    );
    if let Some(secret) = bearer {
        text.push_str(&format!(
            "\n[[secrets]]\nname = {secret:?}\norigins = [{origin:?}]\ninject = \"header\"\nheader = \"Authorization\"\nformat = \"Bearer {{secret}}\"\n"
        ));
    }
    Ok(text)
}

/// Parse `text` as the grant of `server`, refusing what cannot apply.
///
/// # Errors
///
/// A [`Problem`] naming `file`, the line and the field.
pub fn parse(text: &str, file: &str) -> Result<Grant, Problem> {
    let grant = Grant::parse(text, file).map_err(|e| Problem::new(e.to_string()))?;
    let network_only = Grant {
        limits: grant.limits,
        http: grant.http.clone(),
        secrets: grant.secrets.clone(),
        networks: grant.networks.clone(),
        ..Grant::default()
    };
    if network_only != grant {
        return Err(Problem::new(format!(
            "{file}: only [limits], [[http]], [[secrets]] and [network] apply to an MCP server"
        ))
        .hint("remove the other sections: a remote server reaches nothing of claw's but through its answers"));
    }
    if grant.http.is_empty() {
        return Err(Problem::new(format!("{file}: no [[http]] rule, so the server cannot be reached")).hint(
            "add the server's endpoint: [[http]] url = \"https://…/mcp\", methods = [\"GET\", \"POST\", \"DELETE\"]",
        ));
    }
    Ok(grant)
}

/// The grant of configured server `server`.
///
/// # Errors
///
/// When the file is missing or does not parse.
pub fn load(home: &Home, server: &Server) -> Result<Grant, McpError> {
    let path = grant_path(home, &server.name);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        McpError::Config(format!(
            "the grant of MCP server `{}` ({}) cannot be read: {e}; add the server again with `claw mcp add {} --url …`",
            server.name,
            path.display(),
            server.name
        ))
    })?;
    parse(&text, &path.display().to_string()).map_err(|e| McpError::Config(e.to_string()))
}

/// The boundary's policy for `server` under `grant`, audited as `mcp:NAME`.
pub fn policy(server: &Server, grant: &Grant) -> Arc<Policy> {
    // Not quarantined: a request the leak scan stops is refused either way, and
    // the audit names the server.
    Arc::new(Policy { quarantine: false, ..Policy::from_grant(&format!("mcp:{}", server.name), grant) })
}

/// The vault secrets `grant` sends somewhere.
pub fn secrets(grant: &Grant) -> impl Iterator<Item = &str> {
    grant.secrets.iter().filter(|s| !matches!(s.inject, Injection::None)).map(|s| s.name.as_str())
}

/// What holds a remote server in, in the words the jail's report uses.
pub fn isolation(grant: &Grant) -> Isolation {
    let reach: Vec<String> = grant.http.iter().map(ToString::to_string).collect();
    let secrets: Vec<&str> = secrets(grant).collect();
    let credentials = if secrets.is_empty() {
        String::new()
    } else {
        format!("; credentials injected by the boundary: {}", secrets.join(", "))
    };
    Isolation {
        network: format!("through claw's boundary only, to {}{credentials}", reach.join(", ")),
        files: "none of this machine's (the server runs elsewhere)".into(),
        limits: format!(
            "answers start within {} ms, responses up to {} MiB",
            grant.limits.timeout_ms,
            grant.limits.http_response_bytes >> 20
        ),
        complete: true,
    }
}

/// The grant in plain words: where requests go and where each secret goes.
pub fn describe(grant: &Grant) -> Vec<String> {
    explain(grant, &[])
        .into_iter()
        .filter(|l| {
            l.starts_with("network") || l.starts_with("  -") || l.starts_with("secret") || l.starts_with("warning")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_grant_opens_the_endpoint_alone_and_binds_the_bearer_to_its_origin() {
        let server = Server::http("docs", "https://mcp.example.com:8443/v1/mcp?tenant=a");
        let text = default_grant(&server, Some("docs_token")).unwrap();
        let grant = parse(&text, "docs.grant.toml").unwrap();
        assert_eq!(grant.http.len(), 1);
        let rule = &grant.http[0];
        assert_eq!(rule.path.as_str(), "/v1/mcp", "the query is not part of the rule");
        assert_eq!(rule.methods, ["GET", "POST", "DELETE"]);
        assert_eq!(grant.secrets[0].origins[0].to_string(), "https://mcp.example.com:8443");
        assert_eq!(secrets(&grant).collect::<Vec<_>>(), ["docs_token"]);
        let words = describe(&grant).join("\n");
        assert!(words.contains("Authorization") && words.contains("mcp.example.com"), "{words}");
        let iso = isolation(&grant);
        assert!(iso.complete && iso.network.contains("docs_token"), "{iso:?}");

        let plain = default_grant(&Server::http("local", "http://127.0.0.1:3001/mcp"), None).unwrap();
        let grant = parse(&plain, "local.grant.toml").unwrap();
        assert!(grant.secrets.is_empty());
        assert!(!grant.networks.is_empty(), "an IP-literal endpoint names its own network");
    }

    #[test]
    fn a_grant_with_more_than_the_network_is_refused_by_file() {
        let text = "[[http]]\nurl = \"https://x.example/mcp\"\n[workspace]\nread = [\"notes/\"]\n";
        let e = parse(text, "/c/mcp/x.grant.toml").unwrap_err().to_string();
        assert!(e.contains("/c/mcp/x.grant.toml") && e.contains("only [limits]"), "{e}");
        let e = parse("[limits]\ntimeout_ms = 5\n", "g.toml").unwrap_err().to_string();
        assert!(e.contains("no [[http]] rule"), "{e}");
        let e = parse("[[http]]\nurl = 3\n", "g.toml").unwrap_err().to_string();
        assert!(e.contains("g.toml"), "{e}");
    }
}

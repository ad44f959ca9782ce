//! One HTTP allow rule: scheme, host, port, path glob and methods.

use std::fmt;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// The port used when a URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A host: exact (`api.example.com`, `127.0.0.1`) or every subdomain
/// (`*.example.com`, which does **not** match `example.com` itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// This host only.
    Exact(String),
    /// Any host ending in `.suffix` (the apex excluded).
    Subdomains(String),
}

impl HostPattern {
    /// The networks naming this host opens: an IP literal is its own
    /// address, `localhost` is loopback; a name opens none (its addresses
    /// must be global).
    pub fn named_networks(&self) -> Vec<ipnet::IpNet> {
        let HostPattern::Exact(h) = self else { return Vec::new() };
        let bare = h.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
            vec![ipnet::IpNet::from(ip)]
        } else if bare == "localhost" {
            vec!["127.0.0.0/8".parse().expect("valid net"), "::1/128".parse().expect("valid net")]
        } else {
            Vec::new()
        }
    }

    /// Whether this is the local machine (plain http there stays on it).
    pub fn is_local(&self) -> bool {
        self.named_networks().iter().any(|n| n.addr().is_loopback())
    }

    /// Parse a host pattern; lower-cases it.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong with it.
    pub fn parse(s: &str) -> Result<HostPattern, String> {
        let s = s.trim().to_ascii_lowercase();
        if s.is_empty() {
            return Err("the host is empty".into());
        }
        if s == "*" || s.starts_with("*.") && s[2..].split('.').count() < 2 {
            return Err(format!(
                "`{s}` would open every host (or a whole top-level domain); name the hosts, e.g. `api.example.com` or `*.example.com`"
            ));
        }
        let (pattern, name) = match s.strip_prefix("*.") {
            Some(rest) => (HostPattern::Subdomains(rest.to_string()), rest),
            None => (HostPattern::Exact(s.clone()), s.as_str()),
        };
        let name = name.trim_start_matches('[').trim_end_matches(']');
        let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':');
        if !valid || name.contains('*') {
            return Err(format!("`{s}` is not a host name; a wildcard is only allowed as a leading `*.`"));
        }
        Ok(pattern)
    }

    /// Whether `host` (lower-case, no port) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => h == host,
            HostPattern::Subdomains(suffix) => {
                host.strip_suffix(suffix.as_str()).is_some_and(|head| head.len() > 1 && head.ends_with('.'))
            }
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(h) => f.write_str(h),
            HostPattern::Subdomains(s) => write!(f, "*.{s}"),
        }
    }
}

/// A path glob: `*` matches within one segment, `**` any number of whole
/// segments. `/v1/**` matches `/v1`, `/v1/` and everything below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathGlob(String);

impl PathGlob {
    /// Parse a glob; it must start with `/`.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong with it.
    pub fn parse(s: &str) -> Result<PathGlob, String> {
        if !s.starts_with('/') {
            return Err(format!("the path `{s}` must start with `/`"));
        }
        if s.contains('?') || s.contains('#') {
            return Err(format!("the path `{s}` may not contain a query or fragment"));
        }
        Ok(PathGlob(s.to_string()))
    }

    /// Every path.
    pub fn any() -> PathGlob {
        PathGlob("/**".into())
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `path` (no query) matches.
    pub fn matches(&self, path: &str) -> bool {
        let pat: Vec<&str> = self.0.split('/').skip(1).collect();
        let path: Vec<&str> = path.split('/').skip(1).collect();
        match_segments(&pat, &path)
    }
}

fn match_segments(pat: &[&str], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|i| match_segments(rest, &path[i..])),
        Some((p, rest)) => match path.split_first() {
            Some((seg, path_rest)) => match_one(p, seg) && match_segments(rest, path_rest),
            // `/v1/**` also matches `/v1`; a trailing empty segment matches `/v1/`.
            None => p.is_empty() && rest.is_empty(),
        },
    }
}

fn match_one(pat: &str, seg: &str) -> bool {
    match pat.split_once('*') {
        None => pat == seg,
        Some((head, tail)) => {
            seg.len() >= head.len()
                && seg.starts_with(head)
                && (0..=seg.len() - head.len()).any(|i| match_one(tail, &seg[head.len() + i..]))
        }
    }
}

/// One allow rule from a grant's `[[http]]` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRule {
    /// Required scheme.
    pub scheme: Scheme,
    /// Host pattern.
    pub host: HostPattern,
    /// Exact port (the scheme's default when the URL names none).
    pub port: u16,
    /// Path glob.
    pub path: PathGlob,
    /// Allowed methods, upper-case.
    pub methods: Vec<String>,
    /// The grant file line it came from (for audit and errors).
    pub line: usize,
    /// Path segments where the boundary writes a secret: the only places
    /// a `{secret:NAME}` placeholder may stand in a request this rule
    /// allows.
    pub placeholders: Vec<PathPlaceholder>,
    /// Whether a request under it waits for a person (`approval = …`),
    /// asked with its method, host and path.
    pub approval: super::Approval,
}

/// A `{secret:NAME}` written into a rule's path glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPlaceholder {
    /// 0-based segment index (`/bot{secret:t}/x`: segment 0).
    pub segment: usize,
    /// The segment as written, placeholder included.
    pub text: String,
    /// The secret it names.
    pub secret: String,
}

/// The opening of a placeholder.
pub const PLACEHOLDER_OPEN: &str = "{secret:";

/// The secret names of the `{secret:NAME}` placeholders in `text`, or what
/// is wrong with one.
///
/// # Errors
///
/// An unterminated placeholder, or a name that is not a secret name.
pub fn placeholder_names(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PLACEHOLDER_OPEN) {
        let after = &rest[start + PLACEHOLDER_OPEN.len()..];
        let end = after.find('}').ok_or_else(|| "an unterminated {secret:...} placeholder".to_string())?;
        let name = &after[..end];
        if !super::valid_name(name) {
            return Err(format!("`{{secret:{name}}}` does not name a secret"));
        }
        out.push(name.to_string());
        rest = &after[end + 1..];
    }
    Ok(out)
}

impl PathGlob {
    /// The placeholders written into this glob. Each must be a literal
    /// segment of its own placement: no `*` beside it and no `**` before
    /// it, so exactly one request segment can carry it.
    ///
    /// # Errors
    ///
    /// A message naming the segment and what to write instead.
    pub fn placeholders(&self) -> Result<Vec<PathPlaceholder>, String> {
        let mut out = Vec::new();
        let mut after_any = false;
        for (segment, text) in self.0.split('/').skip(1).enumerate() {
            let mut names = placeholder_names(text)?;
            if text == "**" {
                after_any = true;
            }
            if names.is_empty() {
                continue;
            }
            if names.len() > 1 {
                return Err(format!("path segment `{text}` holds {} placeholders; one segment holds one", names.len()));
            }
            if text.contains('*') || after_any {
                return Err(format!(
                    "path segment `{text}` holds a placeholder after or beside a wildcard; write the segments before it literally (e.g. `/bot{{secret:NAME}}/**`)"
                ));
            }
            out.push(PathPlaceholder { segment, text: text.to_string(), secret: names.swap_remove(0) });
        }
        Ok(out)
    }
}

/// Where a secret may go: scheme, host and port. A secret for
/// `https://api.x.com` is not sent to `http://api.x.com` nor to another port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Scheme.
    pub scheme: Scheme,
    /// Host pattern.
    pub host: HostPattern,
    /// Port (the scheme's default when the origin names none).
    pub port: u16,
}

impl Origin {
    /// Parse `scheme://host[:port]` (no path).
    ///
    /// # Errors
    ///
    /// A message saying what is wrong with it.
    pub fn parse(s: &str) -> Result<Origin, String> {
        if !s.contains("://") {
            return Err(format!(
                "`{s}` names no scheme; write \"https://{s}\" (a secret is bound to scheme, host and port)"
            ));
        }
        let trimmed = s.strip_suffix('/').unwrap_or(s);
        let (scheme, host, port, path) = HttpRule::parse_url(trimmed)?;
        if path != PathGlob::any() {
            return Err(format!("`{s}` has a path; an origin is scheme://host[:port] only"));
        }
        Ok(Origin { scheme, host, port })
    }

    /// The origin of a rule.
    pub fn of_rule(rule: &HttpRule) -> Origin {
        Origin { scheme: rule.scheme, host: rule.host.clone(), port: rule.port }
    }

    /// Whether a request to `scheme://host:port` is to this origin.
    pub fn matches(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        self.scheme == scheme && self.port == port && self.host.matches(host)
    }

    /// Whether every request to `other` is to this origin.
    pub fn covers(&self, other: &Origin) -> bool {
        self.scheme == other.scheme
            && self.port == other.port
            && match (&self.host, &other.host) {
                (HostPattern::Exact(a), HostPattern::Exact(b)) => a == b,
                (HostPattern::Subdomains(a), HostPattern::Subdomains(b)) => {
                    b == a || b.strip_suffix(a.as_str()).is_some_and(|h| h.ends_with('.'))
                }
                (HostPattern::Subdomains(_), HostPattern::Exact(b)) => self.host.matches(b),
                (HostPattern::Exact(_), HostPattern::Subdomains(_)) => false,
            }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
    }
}

impl HttpRule {
    /// Parse `scheme://host[:port][/path-glob]`.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong with it.
    pub fn parse_url(url: &str) -> Result<(Scheme, HostPattern, u16, PathGlob), String> {
        let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
            (Scheme::Https, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (Scheme::Http, r)
        } else {
            return Err(format!("`{url}` must start with https:// or http://"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/**"),
        };
        if authority.contains('@') {
            return Err(format!("`{url}` contains user info; credentials belong in [[secrets]]"));
        }
        let (host, port) = split_port(authority).ok_or_else(|| format!("`{authority}` has an invalid port"))?;
        let host = HostPattern::parse(host)?;
        let port = port.unwrap_or(scheme.default_port());
        Ok((scheme, host, port, PathGlob::parse(path)?))
    }

    /// Whether this rule allows the request.
    pub fn allows(&self, method: &str, scheme: Scheme, host: &str, port: u16, path: &str) -> bool {
        self.scheme == scheme
            && self.port == port
            && self.host.matches(host)
            && self.path.matches(path)
            && self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }
}

/// The host of `host[:port]` (IPv6 literals keep their brackets).
pub fn split_host(authority: &str) -> &str {
    split_port(authority).map_or(authority, |(h, _)| h)
}

/// Split `host:port` (IPv6 literals in brackets); `None` for a bad port.
pub(crate) fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if authority.starts_with('[') {
        let end = authority.find(']')?;
        let host = &authority[..=end];
        return match &authority[end + 1..] {
            "" => Some((host, None)),
            p => p.strip_prefix(':')?.parse().ok().map(|p| (host, Some(p))),
        };
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => p.parse().ok().map(|p| (h, Some(p))),
        None => Some((authority, None)),
    }
}

impl fmt::Display for HttpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}://{}:{}{}",
            self.methods.join(","),
            self.scheme.as_str(),
            self.host,
            self.port,
            self.path.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomain_pattern_excludes_apex_and_lookalikes() {
        let p = HostPattern::parse("*.Example.com").unwrap();
        assert!(p.matches("api.example.com"));
        assert!(p.matches("a.b.example.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("evilexample.com"));
    }

    #[test]
    fn wildcards_that_open_everything_are_refused() {
        assert!(HostPattern::parse("*").is_err());
        assert!(HostPattern::parse("*.com").is_err());
        assert!(HostPattern::parse("api.*.com").is_err());
        assert!(HostPattern::parse("").is_err());
    }

    #[test]
    fn path_globs_match_segments() {
        let g = PathGlob::parse("/v1/**").unwrap();
        assert!(g.matches("/v1"));
        assert!(g.matches("/v1/"));
        assert!(g.matches("/v1/a/b"));
        assert!(!g.matches("/v10"));
        assert!(!g.matches("/v2/a"));
        let g = PathGlob::parse("/repos/*/issues").unwrap();
        assert!(g.matches("/repos/claw/issues"));
        assert!(!g.matches("/repos/a/b/issues"));
        let g = PathGlob::parse("/files/*.txt").unwrap();
        assert!(g.matches("/files/a.txt"));
        assert!(!g.matches("/files/a.txt/x"));
        assert!(PathGlob::any().matches("/anything/at/all"));
        assert!(PathGlob::parse("v1").is_err());
    }

    #[test]
    fn url_rules_parse_scheme_host_port_path() {
        let (s, h, p, g) = HttpRule::parse_url("http://127.0.0.1:8080/api/**").unwrap();
        assert_eq!(s, Scheme::Http);
        assert_eq!(h, HostPattern::Exact("127.0.0.1".into()));
        assert_eq!(p, 8080);
        assert_eq!(g.as_str(), "/api/**");
        let (_, _, p, g) = HttpRule::parse_url("https://example.com").unwrap();
        assert_eq!(p, 443);
        assert_eq!(g, PathGlob::any());
        assert!(HttpRule::parse_url("ftp://x").is_err());
        assert!(HttpRule::parse_url("https://user:pw@x.com/").is_err());
        assert!(HttpRule::parse_url("https://x.com:99999/").is_err());
        let (_, h, p, _) = HttpRule::parse_url("http://[::1]:9000/").unwrap();
        assert_eq!(h, HostPattern::Exact("[::1]".into()));
        assert_eq!(p, 9000);
    }

    #[test]
    fn rule_checks_every_part() {
        let (scheme, host, port, path) = HttpRule::parse_url("https://api.x.com/v1/**").unwrap();
        let r = HttpRule {
            scheme,
            host,
            port,
            path,
            methods: vec!["GET".into()],
            line: 1,
            placeholders: vec![],
            approval: crate::grant::Approval::Never,
        };
        assert!(r.allows("GET", Scheme::Https, "api.x.com", 443, "/v1/a"));
        assert!(!r.allows("POST", Scheme::Https, "api.x.com", 443, "/v1/a"));
        assert!(!r.allows("GET", Scheme::Http, "api.x.com", 443, "/v1/a"));
        assert!(!r.allows("GET", Scheme::Https, "api.x.com", 8443, "/v1/a"));
        assert!(!r.allows("GET", Scheme::Https, "x.com", 443, "/v1/a"));
        assert!(!r.allows("GET", Scheme::Https, "api.x.com", 443, "/v2"));
    }
}

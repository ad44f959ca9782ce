//! Grant files: TOML in, [`Grant`] out, or an error naming the line.

use super::{Approval, Grant, HttpRule, Injection, Limits, Origin, SecretGrant, WorkspaceGrant};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// A grant that does not parse or does not make sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantError {
    /// The grant file, as the operator named it.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl fmt::Display for GrantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for GrantError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    #[serde(default)]
    limits: Option<RawLimits>,
    #[serde(default)]
    http: Vec<Spanned<RawHttp>>,
    #[serde(default)]
    secrets: Vec<Spanned<RawSecret>>,
    #[serde(default)]
    workspace: Option<RawWorkspace>,
    #[serde(default)]
    memory: Option<RawMemory>,
    toolgen: Option<RawToolgen>,
    #[serde(default)]
    invoke: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    network: Option<RawNetwork>,
    #[serde(default)]
    inbound: Option<Spanned<RawInbound>>,
    #[serde(default)]
    providers: Option<RawProviders>,
    #[serde(default)]
    kv: Option<RawKv>,
    #[serde(default)]
    inbox: Option<RawInbox>,
    #[serde(default)]
    terminal: Option<RawTerminal>,
    #[serde(default)]
    approval: Option<RawApproval>,
    #[serde(default)]
    policy: Option<RawPolicy>,
    #[serde(default)]
    env: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProviders {
    #[serde(rename = "use", default)]
    use_them: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKv {
    #[serde(default)]
    max_kib: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInbox {
    #[serde(default)]
    poll: Option<Spanned<String>>,
    #[serde(default)]
    drafts: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerminal {
    #[serde(default)]
    output: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApproval {
    calls: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    sink: bool,
    #[serde(default)]
    untrusted_ok: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInbound {
    verify: Spanned<String>,
    secret: Spanned<String>,
    header: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    #[serde(default)]
    allow: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory_mib: Option<Spanned<u64>>,
    timeout_ms: Option<Spanned<u64>>,
    output_kib: Option<Spanned<u64>>,
    http_request_kib: Option<Spanned<u64>>,
    http_response_kib: Option<Spanned<u64>>,
    http_concurrency: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    url: Spanned<String>,
    methods: Option<Spanned<Vec<String>>>,
    approval: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecret {
    name: Spanned<String>,
    /// The old form (host only): refused with the new form.
    hosts: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    origins: Vec<Spanned<String>>,
    inject: Option<Spanned<String>>,
    header: Option<String>,
    format: Option<Spanned<String>>,
    param: Option<String>,
    username: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkspace {
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMemory {
    #[serde(default)]
    search: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToolgen {
    #[serde(default)]
    request: bool,
}

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

struct Ctx<'a> {
    text: &'a str,
    file: &'a str,
}

impl Ctx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].matches('\n').count() + 1
    }

    fn err<T>(&self, span: std::ops::Range<usize>, message: String, hint: &str) -> Result<T, GrantError> {
        Err(GrantError {
            file: self.file.to_string(),
            line: Some(self.line_of(span.start)),
            message,
            hint: Some(hint.to_string()),
        })
    }
}

pub(super) fn parse(text: &str, file: &str) -> Result<Grant, GrantError> {
    let cx = Ctx { text, file };
    let raw: RawGrant = toml::from_str(text).map_err(|e| GrantError {
        file: file.to_string(),
        line: e.span().map(|s| cx.line_of(s.start)),
        message: e.message().trim().to_string(),
        hint: Some(
            "a grant may have [limits], [[http]], [[secrets]], [workspace], [memory], [invoke], [network], [inbound], [providers], [kv], [inbox], [toolgen], [env], [terminal], [approval] and [policy]; see `claw component inspect` for examples"
                .into(),
        ),
    })?;

    let mut grant = Grant::default();
    if let Some(l) = raw.limits {
        grant.limits = limits(&cx, l)?;
    }
    for rule in raw.http {
        let rule = rule.into_inner();
        let (scheme, host, port, path) = HttpRule::parse_url(rule.url.get_ref()).or_else(|m| {
            cx.err(rule.url.span(), format!("http.url: {m}"), "write it as url = \"https://api.example.com/v1/**\"")
        })?;
        let methods = match rule.methods {
            None => vec!["GET".to_string()],
            Some(m) => {
                let span = m.span();
                let list: Vec<String> = m.into_inner().iter().map(|s| s.to_ascii_uppercase()).collect();
                if list.is_empty() {
                    return cx.err(
                        span,
                        "http.methods is empty: the rule would allow nothing".into(),
                        "list methods, e.g. methods = [\"GET\", \"POST\"]",
                    );
                }
                if let Some(bad) = list.iter().find(|m| !METHODS.contains(&m.as_str())) {
                    return cx.err(
                        span,
                        format!("http.methods: `{bad}` is not a method claw allows"),
                        "use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS",
                    );
                }
                list
            }
        };
        let line = cx.line_of(rule.url.span().start);
        let placeholders = path.placeholders().or_else(|m| {
            cx.err(rule.url.span(), format!("http.url: {m}"), "a placeholder fills one whole, literal path segment")
        })?;
        // Naming an IP literal or localhost is naming that network.
        grant.networks.extend(host.named_networks());
        let approval = match &rule.approval {
            Some(a) => match approval(&cx, a, "http.approval")? {
                // "First use" of one rule among a tool's calls has no clear scope.
                Approval::FirstUse => {
                    return cx.err(
                        a.span(),
                        "http.approval = `first-use` is not a choice for a rule".into(),
                        "write \"always\" (a person confirms each request it allows) or \"never\"",
                    );
                }
                other => other,
            },
            None => Approval::Never,
        };
        grant.http.push(HttpRule { scheme, host, port, path, methods, line, placeholders, approval });
    }
    for secret in raw.secrets {
        let span = secret.span();
        let mut g = secret_grant(&cx, secret.into_inner())?;
        place_placeholder(&cx, span, &mut g, &grant.http)?;
        grant.secrets.push(g);
    }
    // Every placeholder a rule writes names a placeholder secret.
    for r in &grant.http {
        for p in &r.placeholders {
            let known =
                grant.secrets.iter().any(|s| s.name == p.secret && matches!(s.inject, Injection::Placeholder { .. }));
            if !known {
                return Err(GrantError {
                    file: file.to_string(),
                    line: Some(r.line),
                    message: format!(
                        "http.url writes {{secret:{}}}, but no [[secrets]] entry `{}` has inject = \"placeholder\"",
                        p.secret, p.secret
                    ),
                    hint: Some(format!("add [[secrets]] name = \"{}\" inject = \"placeholder\"", p.secret)),
                });
            }
        }
    }
    if let Some(w) = raw.workspace {
        grant.workspace = WorkspaceGrant { read: w.read, write: w.write };
    }
    grant.memory_search = raw.memory.is_some_and(|m| m.search);
    grant.toolgen = raw.toolgen.is_some_and(|t| t.request);
    grant.providers = raw.providers.is_some_and(|p| p.use_them);
    grant.terminal_output = raw.terminal.is_some_and(|t| t.output);
    if let Some(a) = raw.approval {
        grant.approval = approval(&cx, &a.calls, "[approval] calls")?;
    }
    if let Some(kv) = raw.kv {
        let max_kib = match &kv.max_kib {
            None => super::KV_DEFAULT_KIB,
            Some(v) if (1..=16 * 1024).contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                return cx.err(
                    v.span(),
                    format!("kv.max_kib = {} is out of range", v.get_ref()),
                    "use a value from 1 to 16384",
                );
            }
        };
        grant.kv = Some(super::KvGrant { max_bytes: max_kib << 10 });
    }
    if let Some(inbox) = raw.inbox {
        let poll_ms = every(&cx, inbox.poll.as_ref(), "inbox.poll", 1_000, "poll from every 1s to every 24h")?;
        let drafts_ms =
            every(&cx, inbox.drafts.as_ref(), "inbox.drafts", 250, "update drafts from every 250ms to every 24h")?;
        grant.inbox = Some(super::InboxGrant { poll_ms, drafts_ms });
    }
    if raw.env.len() > super::env::MAX_VARS {
        return Err(GrantError {
            file: file.to_string(),
            line: None,
            message: format!("[env] sets {} variables, over {}", raw.env.len(), super::env::MAX_VARS),
            hint: Some("set only the configuration the component reads".into()),
        });
    }
    for (name, value) in raw.env {
        if let Err((message, hint)) = super::env::check(&name, value.get_ref()) {
            return cx.err(value.span(), message, hint);
        }
        grant.env.insert(name, value.into_inner());
    }
    for net in raw.network.map(|n| n.allow).unwrap_or_default() {
        let text = net.get_ref().trim();
        let parsed = text
            .parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .or_else(|_| {
                cx.err(
                    net.span(),
                    format!("network.allow: `{text}` is not an address or CIDR network"),
                    "e.g. \"10.0.0.0/8\" or \"192.168.1.20\"",
                )
            })?;
        if parsed.prefix_len() == 0 {
            return cx.err(
                net.span(),
                format!("network.allow: `{text}` would open every address"),
                "name the private networks the component needs",
            );
        }
        grant.networks.push(parsed.trunc());
    }
    if let Some(inbound) = raw.inbound {
        let span = inbound.span();
        let i = inbound.into_inner();
        use crate::inbound::Verifier;
        let verifier = match i.verify.get_ref().as_str() {
            "telegram" => Verifier::Telegram,
            "slack" => Verifier::Slack,
            "bearer" => Verifier::Bearer,
            "hmac-sha256" => Verifier::HmacSha256 {
                header: i.header.clone().unwrap_or_else(|| "x-hub-signature-256".into()).to_ascii_lowercase(),
            },
            other => {
                return cx.err(
                    i.verify.span(),
                    format!("inbound.verify: unknown verifier `{other}`"),
                    "use telegram, slack, hmac-sha256 or bearer",
                );
            }
        };
        if i.header.is_some() && !matches!(verifier, Verifier::HmacSha256 { .. }) {
            return cx.err(
                span,
                "inbound.header applies to hmac-sha256 only".into(),
                "remove `header`, or use verify = \"hmac-sha256\"",
            );
        }
        if !valid_name(i.secret.get_ref()) {
            return cx.err(
                i.secret.span(),
                format!("inbound.secret `{}` is not a secret name", i.secret.get_ref()),
                "secret names use letters, digits, `-` and `_`",
            );
        }
        grant.inbound = Some(super::InboundGrant { verifier, secret: i.secret.into_inner() });
    }
    for (alias, tool) in raw.invoke {
        if !valid_name(tool.get_ref()) || !valid_name(&alias) {
            return cx.err(
                tool.span(),
                format!("invoke.{alias}: `{}` is not a tool name", tool.get_ref()),
                "tool names use letters, digits, `-` and `_`",
            );
        }
        grant.invoke.insert(alias, tool.into_inner());
    }
    if let Some(p) = raw.policy {
        policy(&cx, p, &mut grant)?;
    }
    Ok(grant)
}

/// An approval choice: `[approval] calls` or an `[[http]]` rule's `approval`.
fn approval(cx: &Ctx<'_>, value: &Spanned<String>, field: &str) -> Result<Approval, GrantError> {
    match value.get_ref().as_str() {
        "always" => Ok(Approval::Always),
        "first-use" => Ok(Approval::FirstUse),
        "never" => Ok(Approval::Never),
        other => cx.err(
            value.span(),
            format!("{field} = `{other}` is not a choice"),
            "write \"always\" (a person confirms every one), \"first-use\" (the first only) or \"never\"",
        ),
    }
}

/// `[policy]`, read last: `untrusted_ok` names sinks the rest of the grant
/// opened, so a typo cannot quietly leave a sink guarded (or look unguarded).
fn policy(cx: &Ctx<'_>, p: RawPolicy, grant: &mut Grant) -> Result<(), GrantError> {
    grant.policy.sink = p.sink;
    let sinks: Vec<String> = grant.sinks().into_iter().map(|s| s.name).collect();
    for name in p.untrusted_ok {
        if !sinks.contains(name.get_ref()) {
            let hint = if sinks.is_empty() {
                "this grant has no sinks (no unsafe HTTP method, workspace write, invoke or `sink = true`): remove untrusted_ok".to_string()
            } else {
                format!(
                    "name one of this grant's sinks: {}",
                    sinks.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
                )
            };
            return cx.err(
                name.span(),
                format!("policy.untrusted_ok: `{}` is not a sink of this grant", name.get_ref()),
                &hint,
            );
        }
        grant.policy.untrusted_ok.push(name.into_inner());
    }
    Ok(())
}

fn limits(cx: &Ctx<'_>, l: RawLimits) -> Result<Limits, GrantError> {
    let mut limits = Limits::default();
    let check = |v: &Spanned<u64>, field: &str, lo: u64, hi: u64| -> Result<u64, GrantError> {
        let n = *v.get_ref();
        if n < lo || n > hi {
            return cx.err(
                v.span(),
                format!("limits.{field} = {n} is out of range"),
                &format!("use a value from {lo} to {hi}"),
            );
        }
        Ok(n)
    };
    if let Some(v) = &l.memory_mib {
        limits.memory_bytes = (check(v, "memory_mib", 1, 4096)? as usize) << 20;
    }
    if let Some(v) = &l.timeout_ms {
        limits.timeout_ms = check(v, "timeout_ms", 1, 600_000)?;
    }
    if let Some(v) = &l.output_kib {
        limits.output_bytes = (check(v, "output_kib", 1, 64 * 1024)? as usize) << 10;
    }
    if let Some(v) = &l.http_request_kib {
        limits.http_request_bytes = (check(v, "http_request_kib", 1, 256 * 1024)? as usize) << 10;
    }
    if let Some(v) = &l.http_response_kib {
        limits.http_response_bytes = (check(v, "http_response_kib", 1, 256 * 1024)? as usize) << 10;
    }
    if let Some(v) = &l.http_concurrency {
        limits.http_concurrency = check(v, "http_concurrency", 1, 256)? as usize;
    }
    Ok(limits)
}

fn secret_grant(cx: &Ctx<'_>, s: RawSecret) -> Result<SecretGrant, GrantError> {
    let name = s.name.get_ref().clone();
    if !valid_name(&name) {
        return cx.err(
            s.name.span(),
            format!("secrets.name `{name}` is not a secret name"),
            "secret names use letters, digits, `-` and `_`",
        );
    }
    if name.starts_with(SIGNING_KEY_PREFIX) {
        return cx.err(
            s.name.span(),
            format!("secrets.name `{name}` is one of claw's own signing keys: no component may be granted it"),
            "sign components with `claw component publish --sign KEY`; grants name the secrets of services",
        );
    }
    if let Some(hosts) = &s.hosts {
        // Grants written before secrets were bound to scheme and port.
        let upgraded: Vec<String> = hosts.get_ref().iter().map(|h| format!("\"https://{h}\"")).collect();
        return cx.err(
            hosts.span(),
            format!("secret `{name}`: `hosts` is replaced by `origins`, which names the scheme and port too"),
            &format!("write origins = [{}] (use http://HOST:PORT for a plain-http service)", upgraded.join(", ")),
        );
    }
    let mut origins = Vec::new();
    for o in &s.origins {
        origins.push(Origin::parse(o.get_ref()).or_else(|m| {
            cx.err(o.span(), format!("secrets.origins: {m}"), "e.g. origins = [\"https://api.example.com\"]")
        })?);
    }
    let kind = s.inject.as_ref().map_or("none", |k| k.get_ref().as_str());
    let kind_span = s.inject.as_ref().map_or(s.name.span(), |k| k.span());
    let need = |field: Option<String>, key: &str| {
        field.ok_or(()).or_else(|()| {
            cx.err(
                kind_span.clone(),
                format!("secret `{name}`: inject = \"{kind}\" needs `{key}`"),
                &format!("add {key} = \"...\" to this [[secrets]] entry"),
            )
        })
    };
    let inject = match kind {
        "none" => Injection::None,
        "header" => {
            let format = s.format.map_or_else(|| "{secret}".to_string(), |f| f.into_inner());
            if !format.contains("{secret}") {
                return cx.err(
                    kind_span,
                    format!("secret `{name}`: format must contain {{secret}}"),
                    "e.g. format = \"Bearer {secret}\"",
                );
            }
            Injection::Header { name: need(s.header, "header")?, format }
        }
        "query" => Injection::Query { param: need(s.param, "param")? },
        "basic" => Injection::Basic { username: need(s.username, "username")? },
        "placeholder" => Injection::Placeholder { header: s.header.map(|h| h.to_ascii_lowercase()), param: s.param },
        other => {
            return cx.err(
                kind_span,
                format!("secret `{name}`: unknown inject = \"{other}\""),
                "use header, query, basic, placeholder or none",
            );
        }
    };
    if let Injection::Header { name: h, .. } | Injection::Placeholder { header: Some(h), .. } = &inject
        && http::HeaderName::try_from(h.as_str()).is_err()
    {
        return cx.err(
            kind_span,
            format!("secret `{name}`: `{h}` is not a header name"),
            "e.g. header = \"X-Api-Key\"",
        );
    }
    let placeholder = matches!(inject, Injection::Placeholder { .. });
    if !matches!(inject, Injection::None) && !placeholder && origins.is_empty() {
        return cx.err(
            s.name.span(),
            format!("secret `{name}` is injected but names no origins"),
            "add origins = [\"https://api.example.com\"]: the boundary sends a secret only there",
        );
    }
    Ok(SecretGrant { name, origins, inject })
}

/// An interval of `[inbox]`, from `min_ms` to a day.
fn every(
    cx: &Ctx<'_>,
    v: Option<&Spanned<String>>,
    field: &str,
    min_ms: i64,
    range: &str,
) -> Result<Option<u64>, GrantError> {
    let Some(v) = v else { return Ok(None) };
    match crate::jobs::duration_ms(v.get_ref(), field) {
        Ok(ms) if (min_ms..=86_400_000).contains(&ms) => Ok(Some(ms as u64)),
        Ok(_) => cx.err(v.span(), format!("{field} = \"{}\" is out of range", v.get_ref()), range),
        Err(p) => {
            let hint = p.hint_text().map(ToString::to_string).unwrap_or_default();
            cx.err(v.span(), p.to_string(), &hint)
        }
    }
}

/// A placeholder secret goes where rules write it: its origins default to
/// those rules', and a rule that writes it elsewhere is an error.
fn place_placeholder(
    cx: &Ctx<'_>,
    span: std::ops::Range<usize>,
    g: &mut SecretGrant,
    rules: &[HttpRule],
) -> Result<(), GrantError> {
    let Injection::Placeholder { header, param } = &g.inject else { return Ok(()) };
    let writers: Vec<&HttpRule> = rules.iter().filter(|r| r.placeholders.iter().any(|p| p.secret == g.name)).collect();
    if g.origins.is_empty() {
        g.origins = writers.iter().map(|r| Origin::of_rule(r)).collect();
        g.origins.dedup();
    } else if let Some(r) = writers.iter().find(|r| !g.origins.iter().any(|o| o.covers(&Origin::of_rule(r)))) {
        return cx.err(
            span,
            format!(
                "secret `{}`: the rule on line {} writes it for {}, which its origins do not name",
                g.name,
                r.line,
                Origin::of_rule(r)
            ),
            "add that origin to the secret's origins, or remove the placeholder from the rule",
        );
    }
    if g.origins.is_empty() {
        return cx.err(
            span,
            format!("secret `{}` is a placeholder that no [[http]] url writes and that names no origins", g.name),
            "write it into a rule's path, e.g. url = \"https://api.telegram.org/bot{secret:NAME}/**\", or set header and origins",
        );
    }
    if header.is_none() && param.is_none() && writers.is_empty() {
        return cx.err(
            span,
            format!(
                "secret `{}` is a placeholder with no place: no [[http]] url writes it and no header is named",
                g.name
            ),
            "write {secret:NAME} into a rule's path, or add header = \"X-Api-Key\" or param = \"key\"",
        );
    }
    Ok(())
}

/// The vault names of the operator's signing keys (`claw key generate`)
/// begin so; no grant may name one.
pub const SIGNING_KEY_PREFIX: &str = "signing-key-";

/// Names of tools and secrets: letters, digits, `-`, `_`, 1 to 64 long.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::Scheme;

    #[test]
    fn empty_grant_opens_nothing() {
        let g = Grant::parse("", "g.toml").unwrap();
        assert!(g.http.is_empty() && g.secrets.is_empty() && g.workspace.is_empty());
        assert!(!g.memory_search && g.invoke.is_empty());
        assert_eq!(g.limits, Limits::default());
    }

    #[test]
    fn kv_takes_a_cap_in_range_or_the_default() {
        assert_eq!(Grant::parse("", "g").unwrap().kv, None);
        assert_eq!(Grant::parse("[kv]\n", "g").unwrap().kv, Some(super::super::KvGrant { max_bytes: 64 << 10 }));
        let g = Grant::parse("[kv]\nmax_kib = 2\n", "g").unwrap();
        assert_eq!(g.kv.unwrap().max_bytes, 2048);
        let e = Grant::parse("[kv]\nmax_kib = 0\n", "chan.toml").unwrap_err();
        assert!(e.to_string().contains("kv.max_kib = 0 is out of range") && e.to_string().contains("chan.toml"), "{e}");
        let e = Grant::parse("[kv]\nmax = 2\n", "chan.toml").unwrap_err();
        assert!(e.to_string().contains("max"), "{e}");
    }

    #[test]
    fn full_grant_parses() {
        let text = r#"
[limits]
memory_mib = 128
timeout_ms = 500
output_kib = 64

[[http]]
url = "https://api.github.com/repos/**"
methods = ["get", "POST"]

[[secrets]]
name = "gh"
origins = ["https://api.github.com"]
inject = "header"
header = "Authorization"
format = "Bearer {secret}"

[workspace]
read = ["notes/"]

[memory]
search = true

[invoke]
e = "echo"

[toolgen]
request = true
"#;
        let g = Grant::parse(text, "g.toml").unwrap();
        assert!(g.toolgen);
        assert!(!Grant::parse("[toolgen]\n", "g").unwrap().toolgen, "asked for explicitly");
        assert!(Grant::parse("[toolgen]\ninstall = true\n", "g").is_err(), "no other key");
        assert_eq!(g.limits.memory_bytes, 128 << 20);
        assert_eq!(g.limits.timeout_ms, 500);
        assert_eq!(g.limits.output_bytes, 64 << 10);
        assert_eq!(g.http[0].methods, vec!["GET", "POST"]);
        assert_eq!(g.http[0].line, 8);
        assert!(matches!(&g.secrets[0].inject, Injection::Header { name, .. } if name == "Authorization"));
        assert!(g.memory_search);
        assert_eq!(g.invoke["e"], "echo");
        assert!(g.networks.is_empty(), "a named public host opens no private network");
    }

    #[test]
    fn inbound_verifiers_parse_and_bad_ones_name_the_line() {
        let g = Grant::parse("[inbound]\nverify = \"slack\"\nsecret = \"slack_signing\"\n", "g").unwrap();
        let i = g.inbound.unwrap();
        assert_eq!(i.verifier, crate::inbound::Verifier::Slack);
        assert_eq!(i.secret, "slack_signing");
        let g = Grant::parse("[inbound]\nverify = \"hmac-sha256\"\nsecret = \"k\"\nheader = \"X-Sig\"\n", "g").unwrap();
        assert_eq!(g.inbound.unwrap().verifier, crate::inbound::Verifier::HmacSha256 { header: "x-sig".into() });
        let e = Grant::parse("[inbound]\nsecret = \"k\"\nverify = \"magic\"\n", "g").unwrap_err();
        assert_eq!(e.line, Some(3));
        let e = Grant::parse("[inbound]\nverify = \"slack\"\n", "g").unwrap_err();
        assert!(e.message.contains("secret"), "{}", e.message);
    }

    #[test]
    fn networks_are_named_explicitly() {
        let g = Grant::parse("[[http]]\nurl = \"http://127.0.0.1:8080/\"\n[[http]]\nurl = \"http://localhost:9/\"\n[network]\nallow = [\"10.1.0.0/16\", \"192.168.1.7\"]\n", "g").unwrap();
        let nets: Vec<String> = g.networks.iter().map(ToString::to_string).collect();
        assert_eq!(nets, vec!["127.0.0.1/32", "127.0.0.0/8", "::1/128", "10.1.0.0/16", "192.168.1.7/32"]);
        let e = Grant::parse("[network]\nallow = [\"0.0.0.0/0\"]\n", "g").unwrap_err();
        assert!(e.message.contains("every address"), "{}", e.message);
        let e = Grant::parse("[network]\nallow = [\"nope\"]\n", "g").unwrap_err();
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn syntax_error_names_the_line() {
        let e = Grant::parse("[limits]\nmemory_mib = = 3\n", "bad.toml").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.to_string().starts_with("bad.toml:2:"), "{e}");
    }

    #[test]
    fn unknown_field_names_the_line_and_field() {
        let e = Grant::parse("\n[[http]]\nurl = \"https://x.com\"\nmethod = [\"GET\"]\n", "g.toml").unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("method"), "{}", e.message);
    }

    #[test]
    fn semantic_errors_name_the_line() {
        let e = Grant::parse("[[http]]\n\nurl = \"https://*\"\n", "g.toml").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("every host"), "{}", e.message);
        let e = Grant::parse("[limits]\nmemory_mib = 999999\n", "g.toml").unwrap_err();
        assert_eq!(e.line, Some(2));
        let e = Grant::parse("[[secrets]]\nname = \"k\"\ninject = \"header\"\norigins=[\"https://a.com\"]\n", "g.toml")
            .unwrap_err();
        assert!(e.message.contains("needs `header`"), "{}", e.message);
        let e = Grant::parse("[[secrets]]\nname = \"k\"\ninject = \"query\"\nparam = \"key\"\n", "g.toml").unwrap_err();
        assert!(e.message.contains("names no origins"), "{}", e.message);
        let e = Grant::parse(
            "[[secrets]]\nname = \"signing-key-acme\"\norigins = [\"https://a.com\"]\ninject = \"header\"\nheader = \"X\"\n",
            "g.toml",
        )
        .unwrap_err();
        assert!(e.message.contains("claw's own signing keys"), "{}", e.message);
        let e = Grant::parse("[[http]]\nurl = \"https://x.com\"\nmethods = [\"BREW\"]\n", "g.toml").unwrap_err();
        assert_eq!(e.line, Some(3));
    }

    #[test]
    fn an_old_hosts_grant_is_refused_with_the_new_form() {
        let e = Grant::parse(
            "[[secrets]]\nname = \"k\"\nhosts = [\"api.x.com\"]\ninject = \"header\"\nheader = \"X-K\"\n",
            "g.toml",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("replaced by `origins`"), "{}", e.message);
        assert!(e.hint.unwrap().contains("origins = [\"https://api.x.com\"]"));
        let e = Grant::parse(
            "[[secrets]]\nname = \"k\"\norigins = [\"api.x.com\"]\ninject = \"header\"\nheader = \"X\"\n",
            "g",
        )
        .unwrap_err();
        assert!(e.message.contains("names no scheme"), "{}", e.message);
        let e = Grant::parse("[[secrets]]\nname = \"k\"\norigins = [\"https://x.com/v1\"]\n", "g").unwrap_err();
        assert!(e.message.contains("has a path"), "{}", e.message);
    }

    #[test]
    fn origins_bind_scheme_host_and_port() {
        let g = Grant::parse(
            "[[secrets]]\nname = \"k\"\norigins = [\"https://x.com\", \"http://127.0.0.1:8080\"]\ninject = \"header\"\nheader = \"X\"\n",
            "g",
        )
        .unwrap();
        let s = &g.secrets[0];
        assert!(s.goes_to(Scheme::Https, "x.com", 443));
        assert!(!s.goes_to(Scheme::Http, "x.com", 80));
        assert!(!s.goes_to(Scheme::Https, "x.com", 8443));
        assert!(s.goes_to(Scheme::Http, "127.0.0.1", 8080));
        assert!(!s.goes_to(Scheme::Http, "127.0.0.1", 8081));
    }

    #[test]
    fn placeholders_are_declared_by_the_rules_that_write_them() {
        let text = "[[http]]\nurl = \"https://api.telegram.org/bot{secret:tg}/**\"\n[[secrets]]\nname = \"tg\"\ninject = \"placeholder\"\n";
        let g = Grant::parse(text, "g").unwrap();
        assert_eq!(g.http[0].placeholders[0].segment, 0);
        assert_eq!(g.http[0].placeholders[0].secret, "tg");
        assert_eq!(
            g.secrets[0].origins[0].to_string(),
            "https://api.telegram.org:443",
            "origins default to the rule's"
        );
        for (text, why, line) in [
            // a rule writes a secret that is no placeholder secret
            ("[[http]]\nurl = \"https://a.com/x/{secret:tg}\"\n", "no [[secrets]] entry `tg`", 2),
            // beside or after a wildcard, more than one request segment could hold it
            (
                "[[http]]\nurl = \"https://a.com/**/{secret:tg}\"\n[[secrets]]\nname = \"tg\"\ninject = \"placeholder\"\n",
                "wildcard",
                2,
            ),
            (
                "[[http]]\nurl = \"https://a.com/x{secret:tg}*\"\n[[secrets]]\nname = \"tg\"\ninject = \"placeholder\"\n",
                "wildcard",
                2,
            ),
            // a placeholder secret with no place to go
            ("[[secrets]]\nname = \"tg\"\ninject = \"placeholder\"\n", "no [[http]] url writes", 1),
            // a rule writing it for an origin the secret does not name
            (
                "[[http]]\nurl = \"https://b.com/{secret:tg}/**\"\n[[secrets]]\nname = \"tg\"\norigins = [\"https://a.com\"]\ninject = \"placeholder\"\n",
                "origins do not name",
                3,
            ),
        ] {
            let e = Grant::parse(text, "g").unwrap_err();
            assert!(e.message.contains(why), "{text}: {}", e.message);
            assert_eq!(e.line, Some(line), "{text}: {e}");
        }
        let g = Grant::parse(
            "[[secrets]]\nname = \"k\"\norigins = [\"https://a.com\"]\ninject = \"placeholder\"\nheader = \"X-Key\"\n",
            "g",
        )
        .unwrap();
        assert_eq!(g.secrets[0].inject, Injection::Placeholder { header: Some("x-key".into()), param: None });
    }

    #[test]
    fn a_query_placeholder_needs_its_origins_and_drafts_their_range() {
        let g = Grant::parse(
            "[[secrets]]\nname = \"wh\"\ninject = \"placeholder\"\nparam = \"secret_token\"\norigins = [\"https://api.telegram.org\"]\n",
            "g",
        )
        .unwrap();
        assert_eq!(g.secrets[0].inject, Injection::Placeholder { header: None, param: Some("secret_token".into()) });
        let e = Grant::parse("[[secrets]]\nname = \"wh\"\ninject = \"placeholder\"\nparam = \"t\"\n", "g").unwrap_err();
        assert!(e.message.contains("names no origins"), "{e}");
        let g = Grant::parse("[inbox]\npoll = \"2s\"\ndrafts = \"500ms\"\n", "g").unwrap();
        assert_eq!(g.inbox, Some(crate::grant::InboxGrant { poll_ms: Some(2_000), drafts_ms: Some(500) }));
        let e = Grant::parse("[inbox]\ndrafts = \"10ms\"\n", "g").unwrap_err();
        assert!(e.message.contains("inbox.drafts") && e.hint.unwrap().contains("250ms"), "out of range");
    }

    #[test]
    fn approval_choices_parse_and_a_bad_one_names_the_line() {
        assert_eq!(Grant::parse("", "g").unwrap().approval, Approval::Never);
        assert_eq!(Grant::parse("[approval]\ncalls = \"always\"\n", "g").unwrap().approval, Approval::Always);
        assert_eq!(Grant::parse("[approval]\ncalls = \"first-use\"\n", "g").unwrap().approval, Approval::FirstUse);
        let e = Grant::parse("[limits]\n\n[approval]\ncalls = \"sometimes\"\n", "g.toml").unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("`sometimes`") && e.hint.unwrap().contains("first-use"), "{}", e.message);
        let e = Grant::parse("[approval]\nwho = \"me\"\n", "g.toml").unwrap_err();
        assert!(e.message.contains("unknown field `who`"), "{}", e.message);
        // A rule may ask too, and says so with the same choices.
        let g = Grant::parse("[[http]]\nurl = \"https://a.x/**\"\nmethods = [\"POST\"]\napproval = \"always\"\n", "g")
            .unwrap();
        assert_eq!(g.http[0].approval, Approval::Always);
        let e = Grant::parse("[[http]]\nurl = \"https://a.x/**\"\napproval = \"often\"\n", "g.toml").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("http.approval = `often`"), "{}", e.message);
    }
}

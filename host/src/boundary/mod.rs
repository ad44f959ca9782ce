//! The boundary: the one door out. Every outbound request of every
//! component passes through [`Boundary::send`], in this order:
//!
//! 1. [`path`] and [`allow`]: a path a server could read differently is
//!    refused; then the component's grant rules (scheme, host, port, path,
//!    method); deny by default;
//! 2. the request body is buffered (capped) so it is scanned whole;
//! 3. [`leak`]: the request exactly as the component produced it (URL,
//!    headers, body) is scanned for vault values in every encoding and for
//!    credential patterns; a hit blocks it;
//! 4. [`inject`]: the component's own credential headers are removed and
//!    the secrets granted to this origin are injected, placeholders only
//!    where the grant declares them;
//! 5. [`address`]: the host is resolved here and every address checked
//!    (no private, loopback, link-local or metadata address unless the
//!    grant names it); the client connects to the address checked;
//! 6. [`client`]: the only HTTP client in the host sends it — no redirects;
//! 7. the response is scanned for the injected values, which are redacted
//!    before the component reads it (uncompressed: the component's
//!    `Accept-Encoding` is replaced, and an encoded reply fails closed);
//! 8. [`audit`]: the decision is appended to the hash-chained audit log,
//!    with any vault value cut out of what the component wrote.
//!
//! A denial's reason also goes to the call's [`Denials`], so the person
//! sees why, not only that, a request was refused.

pub mod address;
mod allow;
pub mod audit;
mod body;
pub mod client;
mod dns;
mod hold;
pub mod inject;
pub mod leak;
mod needles;
mod network;
mod path;
pub mod patterns;
mod record;
pub mod redact_stream;
mod secrets;

pub use allow::{Decision, Policy, decide};
pub use network::Network;
pub use secrets::Secrets;

use arc_swap::ArcSwap;
use audit::AuditLog;
use http_body_util::{BodyExt as _, Limited};
pub use record::bounded;
use record::{Draft, MAX_REASON, Recorder};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// What `wasi:http` expects back from a send.
pub type SendFuture = Box<
    dyn Future<Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>>
        + Send,
>;

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The boundary's denials during one call, in order, for the error the
/// person sees (the audit log has them too); and, when untrusted content
/// drove the call, its sinks, which an unsafe method passes first.
#[derive(Debug, Default)]
pub struct Denials {
    reasons: std::sync::Mutex<Vec<String>>,
    sinks: Option<Arc<crate::capabilities::sinks::Sinks>>,
}

impl Denials {
    /// A call's denials, its requests passing `sinks` when it has them.
    pub fn with_sinks(sinks: Option<Arc<crate::capabilities::sinks::Sinks>>) -> Denials {
        Denials { reasons: std::sync::Mutex::default(), sinks }
    }

    /// The reasons so far.
    pub fn reasons(&self) -> Vec<String> {
        self.reasons.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn push(&self, reason: &str) {
        if let Ok(mut v) = self.reasons.lock()
            && v.len() < 16
        {
            v.push(reason.to_string());
        }
    }
}

/// The egress boundary, shared by every component.
pub struct Boundary {
    secrets: ArcSwap<Secrets>,
    audit: Option<AuditLog>,
    recorder: Recorder,
    quarantine: Arc<crate::components::Quarantine>,
    network: Network,
}

impl std::fmt::Debug for Boundary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Boundary").field("audit", &self.audit.as_ref().map(|a| a.path().to_path_buf())).finish()
    }
}

impl Boundary {
    /// A boundary writing its audit log to `audit` (none: log only).
    pub fn new(audit: Option<AuditLog>) -> Boundary {
        Boundary {
            secrets: ArcSwap::from_pointee(Secrets::empty()),
            recorder: Recorder::for_log(audit.as_ref()),
            audit,
            quarantine: Arc::new(crate::components::Quarantine::in_memory()),
            network: Network::default(),
        }
    }

    /// Resolve names and trust TLS roots as `network` says.
    pub fn with_network(mut self, network: Network) -> Boundary {
        self.network = network;
        self
    }

    /// The boundary of a home: its audit log, its quarantine list, its
    /// network settings (config.toml) and its vault.
    ///
    /// # Errors
    ///
    /// When config.toml cannot be read or its `[network]` is wrong.
    pub fn for_home(home: &crate::home::Home) -> Result<Boundary, crate::problem::Problem> {
        let network = Network::from_config(&crate::config::Config::load(home)?.network, &home.config)?;
        let b = Boundary::new(Some(AuditLog::new(&home.data.join("audit.jsonl"))))
            .with_quarantine(&home.data.join("quarantine.json"))
            .with_network(network);
        b.set_secrets(Secrets::load(home));
        Ok(b)
    }

    /// Keep the quarantine list in the file at `path` (shared by every
    /// process of the home).
    pub fn with_quarantine(mut self, path: &std::path::Path) -> Boundary {
        self.quarantine = Arc::new(crate::components::Quarantine::open(path));
        self
    }

    /// The components held for tripping the leak scan.
    pub fn quarantine(&self) -> &Arc<crate::components::Quarantine> {
        &self.quarantine
    }

    /// Replace the vault snapshot (after the vault changed).
    pub fn set_secrets(&self, secrets: Secrets) {
        self.secrets.store(Arc::new(secrets));
    }

    /// The current vault snapshot.
    pub fn secrets(&self) -> Arc<Secrets> {
        self.secrets.load_full()
    }

    /// The audit log, if any.
    pub fn audit_log(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// Take a request from a component through every step; the guest sees
    /// `HttpRequestDenied` for any refusal.
    pub fn send(
        self: &Arc<Self>,
        policy: &Arc<Policy>,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        denials: &Arc<Denials>,
    ) -> SendFuture {
        let me = self.clone();
        let policy = policy.clone();
        let denials = denials.clone();
        Box::new(async move { me.handle(&policy, request, options, &denials).await })
    }

    /// Refuse: the reason (vault values cut out, bounded) is audited and
    /// told to the call.
    async fn deny(&self, mut draft: Draft, secrets: &Secrets, reason: &str, denials: &Denials) {
        let reason = bounded(&secrets.detector().cut(reason), MAX_REASON);
        denials.push(&reason);
        draft.record.decision = "deny".into();
        draft.record.rule = reason;
        draft.record.duration_us = draft.elapsed_us();
        let _ = self.recorder.write(draft.record, secrets).await;
    }

    /// An audit record of the host's own about content (e.g. redactions
    /// from the LLM's context), in the same chain as the boundary's
    /// decisions. `rule` is cut of vault values like every record.
    pub async fn note(&self, component: &str, decision: &str, rule: &str) {
        let mut draft = Draft::note(component);
        draft.record.decision = decision.to_string();
        draft.record.rule = rule.to_string();
        let _ = self.recorder.write(draft.record, &self.secrets()).await;
    }

    /// Write any pending count of collapsed denials and wait for every
    /// queued record (call at shutdown, or before reading the log).
    pub fn flush_audit(&self) {
        self.recorder.flush();
    }

    /// Resolve `host` once and check every address it has; the first is
    /// the one connected to, so no second lookup can swap it.
    async fn resolve(&self, host: &str, port: u16, networks: &[ipnet::IpNet]) -> Result<SocketAddr, String> {
        let addrs = self.network.lookup(host, port).await?;
        for a in &addrs {
            if let Some(why) = address::refusal(a.ip(), networks) {
                return Err(format!("address policy: {host} resolves to {why}; the grant names no such network"));
            }
        }
        addrs.first().copied().ok_or_else(|| format!("DNS lookup of {host} returned no address"))
    }

    async fn handle(
        self: &Arc<Self>,
        policy: &Policy,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        denials: &Denials,
    ) -> Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error> {
        let (mut parts, body) = request.into_parts();
        let mut draft = Draft::new(&policy.component, &parts);
        let secrets = self.secrets();
        macro_rules! denied {
            ($draft:expr, $reason:expr) => {{
                self.deny($draft, &secrets, $reason, denials).await;
                return Err(Error::HttpRequestDenied);
            }};
        }
        if let Some(reason) = secrets.locked_reason() {
            denied!(draft, &format!("the vault is locked: {reason}"));
        }

        // 1. The path as a server reads it, then the allow rules.
        let (rule_index, rule_line) = match decide(policy, parts.method.as_str(), &parts.uri) {
            Decision::Allow { rule, rule_line } => (rule, rule_line),
            Decision::Deny { reason } => denied!(draft, &reason),
        };
        // 1b. A rule that asks a person, and (untrusted content in the
        // turn) an unsafe method as a sink: each waits for a person
        // before anything is read or injected.
        if let Some(sinks) = &denials.sinks
            && let Err(why) = sinks.enter_request(&policy.rules[rule_index], parts.method.as_str(), &parts.uri).await
        {
            denied!(draft, &why);
        }
        let permit = policy.permit().await.ok_or(Error::ConnectionLimitReached)?;

        // 2. The whole body, capped.
        let cap = policy.limits.http_request_bytes;
        let body = match Limited::new(body, cap).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                let over = e.downcast_ref::<http_body_util::LengthLimitError>().is_some();
                let why = if over {
                    format!("request body over the limit of {cap} bytes")
                } else {
                    format!("reading the request body failed: {e}")
                };
                self.deny(draft, &secrets, &why, denials).await;
                return Err(if over { Error::HttpRequestBodySize(None) } else { Error::HttpRequestDenied });
            }
        };
        draft.record.request_bytes = body.len() as u64;

        // 3. Leak scan of what the component produced. A component that
        // trips it is held: its further calls would make the scan an
        // oracle for vault values it was never granted.
        if let Some((finding, place)) = scan_request(&secrets, &parts, &body) {
            let mut reason = format!("leak: {finding} in {place}");
            if policy.quarantine {
                let name = &policy.component;
                if let Err(e) = self.quarantine.hold(name, &reason) {
                    tracing::error!(target: "claw::boundary", "cannot write the quarantine list: {e}");
                }
                tracing::error!(target: "claw::boundary", "{name} is quarantined: {reason}; `claw component release {name}` lets it run again");
                reason.push_str(&format!("; `{name}` is quarantined until `claw component release {name}`"));
            }
            denied!(draft, &reason);
        }

        // 4. Injection, for this origin and the rule that allowed it.
        let host = parts.uri.host().unwrap_or("").to_ascii_lowercase();
        let host = host.trim_end_matches('.').to_string();
        let rule = &policy.rules[rule_index];
        let to = inject::Destination { scheme: rule.scheme, host: &host, port: draft.record.port, rule };
        match inject::inject(&mut parts, to, &policy.secrets, &*secrets) {
            Ok(names) => draft.record.secrets = names,
            Err(reason) => denied!(draft, &reason),
        }
        if !draft.record.secrets.is_empty() {
            // Redaction reads the reply as the component will: uncompressed.
            parts.headers.insert(http::header::ACCEPT_ENCODING, http::HeaderValue::from_static("identity"));
        }

        // 5. Resolve and check every address; connect to the one checked.
        let port = draft.record.port;
        let addr = match self.resolve(&host, port, &policy.networks).await {
            Ok(a) => a,
            Err(reason) => denied!(draft, &reason),
        };

        // 6. Send.
        let timeout = Duration::from_millis(policy.limits.timeout_ms);
        let target = client::Target {
            addr,
            tls: (draft.record.scheme == "https")
                .then(|| client::Tls { host: host.clone(), config: self.network.tls() }),
            connect_timeout: options.and_then(|o| o.connect_timeout).unwrap_or(CONNECT_TIMEOUT).min(timeout),
            first_byte_timeout: options.and_then(|o| o.first_byte_timeout).unwrap_or(timeout),
        };
        let rule = format!("[[http]] rule on grant line {rule_line}");
        // The decision is on disk before the request leaves; if it cannot
        // be written, the request does not leave.
        draft.record.decision = "allow".into();
        draft.record.rule = rule.clone();
        draft.record.duration_us = draft.elapsed_us();
        let decision = match self.recorder.write(draft.record.clone(), &secrets).await {
            Ok(d) => d,
            Err(e) => {
                denials.push(&format!("the audit log cannot be written ({e}); the request was not sent"));
                return Err(Error::HttpRequestDenied);
            }
        };
        let mut outcome = decision.outcome();
        // The outcome is queued behind the decision; nothing waits on it.
        let finish = |mut outcome: audit::Record, rule: String| {
            outcome.rule = rule;
            outcome.duration_us = draft.elapsed_us();
            self.recorder.write_later(outcome, &secrets);
            std::future::ready(())
        };
        let (response, driver) = match client::send(&target, parts, body).await {
            Ok(r) => r,
            Err(e) => {
                finish(outcome, format!("{rule}; the request failed: {e}")).await;
                return Err(e);
            }
        };
        outcome.status = Some(response.status().as_u16());
        let io: Box<dyn Future<Output = Result<(), Error>> + Send> =
            Box::new(async move { driver.await.unwrap_or(Err(Error::ConnectionTerminated)) });

        // 7. Redact injected values from the response.
        if outcome.secrets.is_empty() {
            finish(outcome, rule).await;
            // The permit is held until the component has read the body.
            let response = response.map(|b| body::Permitted::new(b.map_err(Error::Hyper), permit).boxed_unsync());
            return Ok((response, io));
        }
        if let Some(enc) = response.headers().get(http::header::CONTENT_ENCODING)
            && !enc.as_bytes().eq_ignore_ascii_case(b"identity")
        {
            let enc = bounded(&String::from_utf8_lossy(enc.as_bytes()), 64);
            let why = format!(
                "{rule}; the reply came encoded ({enc}) although identity was asked: refused unread, since it cannot be redacted"
            );
            finish(outcome, why).await;
            return Err(Error::HttpResponseContentCoding(Some(enc)));
        }
        let redactor = leak::Redactor::new(
            outcome.secrets.iter().filter_map(|n| inject::Values::value(&*secrets, n).map(|v| (n.as_str(), v))),
        );
        let (mut head, incoming) = response.into_parts();
        let mut names = Vec::new();
        for value in head.headers.values_mut() {
            let (v, n) = redactor.redact(value.as_bytes());
            if !n.is_empty() {
                *value =
                    http::HeaderValue::from_bytes(&v).unwrap_or_else(|_| http::HeaderValue::from_static("[REDACTED]"));
                names.extend(n);
            }
        }
        head.headers.remove(http::header::CONTENT_LENGTH);
        // The body is redacted as it arrives (an LLM's tokens reach the
        // component one by one); the outcome is recorded at its end, with
        // every secret replaced in the head or the body.
        let me = self.clone();
        let started = draft.started();
        let on_end: redact_stream::OnEnd = Box::new(move |end: redact_stream::End| {
            outcome.response_bytes = Some(end.bytes);
            names.extend(end.redacted);
            names.sort();
            names.dedup();
            outcome.redacted = names;
            outcome.rule = match end.cut {
                Some(why) => format!("{rule}; {why}"),
                None => rule,
            };
            outcome.duration_us = started.elapsed().as_micros() as u64;
            me.recorder.write_later(outcome, &secrets);
        });
        let limit = policy.limits.http_response_bytes;
        let body = redact_stream::Redacting::new(incoming.map_err(Error::Hyper), redactor, limit, permit, on_end);
        Ok((http::Response::from_parts(head, body.boxed_unsync()), io))
    }
}

/// Scan the URL, the headers and the body as the component produced them;
/// a finding comes with the place it was found.
fn scan_request(secrets: &Secrets, parts: &http::request::Parts, body: &[u8]) -> Option<(leak::Finding, String)> {
    let d = secrets.detector();
    let uri = parts.uri.to_string();
    if let Some(f) = d.first_decoded(uri.as_bytes()) {
        return Some((f, "the URL".into()));
    }
    for (name, value) in &parts.headers {
        if let Some(f) = d.first(name.as_str().as_bytes()) {
            return Some((f, "a header name".into()));
        }
        if let Some(f) = d.first_decoded(value.as_bytes()) {
            return Some((f, format!("header `{}`", bounded(&d.cut(name.as_str()), 64))));
        }
    }
    d.first_decoded(body).map(|f| (f, "the body".into()))
}

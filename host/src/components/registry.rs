//! The registry's traffic is the host's own outbound traffic: it goes
//! through the boundary under a policy of its own (`host:registry` in the
//! audit log) that allows exactly the registry's `/v2/` API, and injects
//! the registry's credential, if the operator configured one, for that
//! scheme, host and port only.

use crate::boundary::{Boundary, Denials, Policy};
use crate::config::RegistryConfig;
use crate::grant::Grant;
use crate::problem::Problem;
use bytes::Bytes;
use claw_registry::client::Body;
use claw_registry::{Reference, Transport};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use http_body_util::{BodyExt as _, Full};
use std::sync::Arc;

/// The component name the registry's requests carry in the audit log.
pub const AUDIT_NAME: &str = "host:registry";

/// The largest component pulled (the boundary's response cap).
pub const MAX_COMPONENT: u64 = 256 << 20;

/// The boundary, as the registry client's transport.
pub struct Egress {
    boundary: Arc<Boundary>,
    policy: Arc<Policy>,
    /// Plain HTTP (a loopback registry, or one configured so).
    pub plain_http: bool,
}

impl Egress {
    /// The way to the registry of `reference`, as `[registry]` configures it.
    ///
    /// # Errors
    ///
    /// A [`Problem`] when the host's settings do not make a valid policy
    /// (a credential name that is not a secret name, say).
    pub fn new(boundary: Arc<Boundary>, reference: &Reference, config: &RegistryConfig) -> Result<Egress, Problem> {
        let host = config.hosts.get(&reference.registry).cloned().unwrap_or_default();
        let plain_http = host.plain_http || reference.is_loopback();
        let origin = format!("{}://{}", if plain_http { "http" } else { "https" }, reference.registry);
        let mut grant = format!(
            "[limits]\ntimeout_ms = 300000\nhttp_request_kib = 1024\nhttp_response_kib = {}\n\
             [[http]]\nurl = \"{origin}/v2/**\"\nmethods = [\"GET\", \"HEAD\", \"POST\", \"PUT\", \"PATCH\"]\n",
            MAX_COMPONENT >> 10
        );
        let where_ = format!("[registry.hosts.\"{}\"] in config.toml", reference.registry);
        match (&host.credential, &host.username) {
            (Some(secret), Some(user)) => grant.push_str(&format!(
                "[[secrets]]\nname = {secret:?}\norigins = [{origin:?}]\ninject = \"basic\"\nusername = {user:?}\n"
            )),
            (Some(secret), None) => grant.push_str(&format!(
                "[[secrets]]\nname = {secret:?}\norigins = [{origin:?}]\ninject = \"header\"\nheader = \"Authorization\"\nformat = \"Bearer {{secret}}\"\n"
            )),
            (None, Some(_)) => {
                return Err(Problem::new(format!("{where_}: a username without a credential"))
                    .hint("add credential = \"SECRET_NAME\" and store it with `claw secret set SECRET_NAME`"));
            }
            (None, None) => {}
        }
        let grant = Grant::parse(&grant, &where_).map_err(|e| {
            Problem::new(format!("{where_} does not make a valid egress policy: {e}"))
                .hint("credential names a vault secret: lowercase letters, digits and `_`")
        })?;
        let policy = Arc::new(Policy { quarantine: false, ..Policy::from_grant(AUDIT_NAME, &grant) });
        Ok(Egress { boundary, policy, plain_http })
    }
}

impl Transport for Egress {
    fn send(&self, request: http::Request<Bytes>) -> BoxFuture<'_, Result<http::Response<Body>, String>> {
        Box::pin(async move {
            let request = request.map(|b| Full::new(b).map_err(|never| match never {}).boxed_unsync());
            let denials = Arc::new(Denials::default());
            let sent = Box::into_pin(self.boundary.send(&self.policy, request, None, &denials)).await;
            match sent {
                Ok((response, _io)) => Ok(response.map(|body| {
                    let stream: Body = body.into_data_stream().map(|r| r.map_err(|e| e.to_string())).boxed();
                    stream
                })),
                Err(e) => {
                    let reasons = denials.reasons();
                    Err(if reasons.is_empty() {
                        e.to_string()
                    } else {
                        format!("the boundary refused: {}", reasons.join("; "))
                    })
                }
            }
        })
    }
}

//! `/channels/NAME/…`: requests for a channel component. The host verifies
//! each with the vault secret the channel's `[inbound]` names (Telegram's
//! secret token, Slack's signature, HMAC, bearer) before the component sees
//! it; a request that fails — or names no channel that takes HTTP — is
//! audited with the reason and answered only "could not be verified". The
//! channel answers the request itself (its wasi:http handler); what its
//! inbox queued is already durable when the answer goes out.

use super::GatewayError;
use super::serve::{Body, State, full};
use crate::components::World;
use bytes::Bytes;

/// The headers of a channel's answer passed on (the rest are the host's).
const PASSED: [http::header::HeaderName; 2] = [http::header::CONTENT_TYPE, http::header::CACHE_CONTROL];

pub(super) async fn request(
    state: &State,
    name: &str,
    parts: http::request::Parts,
    body: Bytes,
) -> Result<http::Response<Body>, GatewayError> {
    let what = format!("{} /channels/{name}", parts.method);
    let channel = match state.runtime.named(name) {
        Some(c) if c.record.world == World::Channel => c,
        _ => return Err(refuse(state, &what, format!("there is no channel named `{name}`")).await),
    };
    let Some(inbound) = &channel.grant.inbound else {
        return Err(refuse(state, &what, format!("channel `{name}` has no [inbound] section: it takes no HTTP")).await);
    };
    let secrets = state.runtime.boundary().secrets();
    if let Err(why) = secrets.verify_inbound(&inbound.secret, &inbound.verifier, &parts.headers, &body) {
        return Err(refuse(state, &what, why.0).await);
    }
    let request = http::Request::from_parts(parts, http_body_util::Full::new(body));
    let answered = state.runtime.channel_http(&channel, request).await.map_err(|e| {
        let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
        GatewayError::Agent(format!("channel `{name}` failed: {e}{hint}"))
    })?;
    if answered.queued > 0 {
        state.wake.notify_waiters();
    }
    let (head, bytes) = answered.response.into_parts();
    let mut response = http::Response::new(full(bytes));
    *response.status_mut() = head.status;
    for name in PASSED {
        if let Some(v) = head.headers.get(&name) {
            response.headers_mut().insert(name, v.clone());
        }
    }
    Ok(response)
}

/// Audit a refused request with its reason; answer only that it could not
/// be verified (the same whether or not the channel exists).
async fn refuse(state: &State, what: &str, why: String) -> GatewayError {
    state.runtime.boundary().note("gateway", "deny", &format!("{what}: {why}")).await;
    GatewayError::Unverified
}

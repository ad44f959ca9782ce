//! `POST /hooks/routines/NAME`: a routine's webhook. The host verifies it
//! with the routine's vault secret before anything else; a request that
//! fails is audited (with the reason) and answered only "could not be
//! verified" — the same for a routine that does not exist, so names cannot
//! be probed. A verified delivery is queued (durably) before it is
//! acknowledged; a redelivery (same delivery id, or the same body) queues
//! nothing new.

use super::GatewayError;
use super::serve::Body;
use super::serve::{State, json};
use crate::jobs::Trigger;
use bytes::Bytes;
use sha2::Digest as _;

/// Headers senders put their delivery id in (GitHub, generic).
const DELIVERY_HEADERS: [&str; 3] = ["x-github-delivery", "x-delivery-id", "x-request-id"];

pub(super) async fn routine(
    state: &State,
    name: &str,
    headers: &http::HeaderMap,
    body: &Bytes,
) -> Result<http::Response<Body>, GatewayError> {
    let boundary = state.runtime.boundary();
    let routine = match state.store.routines().get(name).await {
        Ok(r) => r,
        Err(_) => return Err(refuse(state, name, format!("there is no routine named `{name}`")).await),
    };
    let Trigger::Webhook { verifier, secret } = &routine.trigger else {
        return Err(refuse(state, name, format!("routine `{name}` has no webhook trigger")).await);
    };
    if let Err(why) = boundary.secrets().verify_inbound(secret, verifier, headers, body) {
        return Err(refuse(state, name, why.0).await);
    }
    let delivery = DELIVERY_HEADERS
        .iter()
        .find_map(|h| super::turn::key_header(headers, h))
        .map_or_else(|| format!("sha256-{}", hex::encode(sha2::Sha256::digest(body))), str::to_string);
    let text = String::from_utf8_lossy(body).into_owned();
    let now = state.store.now_ms();
    let fired = state
        .store
        .routines()
        .fire_webhook(name, &delivery, text, now)
        .await
        .map_err(|e| GatewayError::Store(e.to_string()))?;
    let answer = match fired {
        Some(f) => serde_json::json!({"queued": true, "job": f.job_id, "duplicate": !f.created}),
        None => serde_json::json!({"queued": false, "why": "the routine is paused or cooling down"}),
    };
    Ok(json(http::StatusCode::ACCEPTED, answer.to_string()))
}

/// Audit a refused delivery with its reason; answer only that it could
/// not be verified.
async fn refuse(state: &State, name: &str, why: String) -> GatewayError {
    let rule = format!("POST /hooks/routines/{name}: {why}");
    state.runtime.boundary().note("gateway", "deny", &rule).await;
    GatewayError::Unverified
}

//! The web chat's login: `POST /login` with a name and password (or a
//! token) starts a session held in an `HttpOnly`, `SameSite=Strict`
//! cookie (`Secure` over HTTPS); the answer carries the session's CSRF
//! token, which every state-changing request must send back in
//! `x-csrf-token` (and a browser's `Origin`, when sent, must be this
//! host). Only the cookie value's SHA-256 is stored. `POST /logout` ends it.

use super::GatewayError;
use super::serve::Body;
use super::serve::{State, json};
use super::users::User;
use crate::on_db;
use crate::store::Db;
use bytes::Bytes;
use sha2::Digest as _;

/// The cookie's name.
pub const COOKIE: &str = "claw_session";

/// How long a login lasts.
const LIFETIME_MS: i64 = 7 * 24 * 3_600_000;

fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    hex::encode(bytes)
}

fn digest(value: &str) -> String {
    hex::encode(sha2::Sha256::digest(value.as_bytes()))
}

#[derive(serde::Deserialize)]
struct Credentials {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

/// `POST /login`.
pub(super) async fn login(state: &State, body: &Bytes, https: bool) -> Result<http::Response<Body>, GatewayError> {
    let c: Credentials = serde_json::from_slice(body).map_err(|e| {
        GatewayError::Invalid(format!("the body is not a login (`{{\"name\", \"password\"}}` or `{{\"token\"}}`): {e}"))
    })?;
    let users = state.store.users();
    let store_error = |e: sqlx::Error| GatewayError::Store(e.to_string());
    let user = match (&c.name, &c.password, &c.token) {
        (Some(name), Some(password), None) => users.check_password(name, password).await.map_err(store_error)?,
        (None, None, Some(token)) => users.authenticate(token).await.map_err(store_error)?,
        _ => return Err(GatewayError::Invalid("send a name and a password, or a token".into())),
    };
    let Some(user) = user else {
        // A name that could not be a user's may be a password typed into
        // the wrong field: it is not recorded.
        let who = match c.name.as_deref() {
            None => "a token".to_string(),
            Some(n) if crate::grant::valid_name(n) && n.len() <= 64 => format!("`{n}`"),
            Some(_) => "a name that is not a user name".to_string(),
        };
        state.runtime.boundary().note("gateway", "deny", &format!("POST /login: wrong credentials for {who}")).await;
        return Err(GatewayError::BadLogin);
    };
    let (value, csrf) = (random_hex(32), random_hex(16));
    let now = state.store.now_ms();
    const SQL: &str =
        "INSERT INTO web_sessions (sha256, user_id, csrf, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)";
    on_db!(state.store.db(), p, SQL, SQL, |sql| sqlx::query(sql)
        .bind(digest(&value))
        .bind(user.id)
        .bind(&csrf)
        .bind(now)
        .bind(now + LIFETIME_MS)
        .execute(p)
        .await
        .map(|_| ()))
    .map_err(store_error)?;
    let r = json(http::StatusCode::OK, serde_json::json!({"user": user.name, "csrf": csrf}).to_string());
    Ok(with_cookie(r, &value, LIFETIME_MS / 1000, https))
}

/// `r` setting the session cookie to `value` for `max_age_s` (0: ended).
fn with_cookie(mut r: http::Response<Body>, value: &str, max_age_s: i64, https: bool) -> http::Response<Body> {
    let secure = if https { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_s}{secure}");
    if let Ok(v) = http::HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(http::header::SET_COOKIE, v);
    }
    r
}

/// `POST /logout`: the session ends (it needs its CSRF token, as any change).
pub(super) async fn logout(state: &State, headers: &http::HeaderMap) -> Result<http::Response<Body>, GatewayError> {
    let Some(value) = cookie(headers) else { return Err(GatewayError::Unauthenticated) };
    session(state, headers, true).await?;
    const SQL: &str = "DELETE FROM web_sessions WHERE sha256 = $1";
    on_db!(state.store.db(), p, SQL, SQL, |sql| sqlx::query(sql).bind(digest(value)).execute(p).await.map(|_| ()))
        .map_err(|e| GatewayError::Store(e.to_string()))?;
    Ok(with_cookie(json(http::StatusCode::OK, r#"{"logged_out":true}"#.into()), "", 0, state.https))
}

/// `GET /api/session`: who is signed in, and the session's CSRF token (a
/// page reloaded needs it again; another origin cannot read it).
pub(super) async fn whoami(state: &State, headers: &http::HeaderMap) -> Result<http::Response<Body>, GatewayError> {
    let (user, csrf) = session_with_csrf(state, headers).await?;
    Ok(json(http::StatusCode::OK, serde_json::json!({"user": user.name, "csrf": csrf}).to_string()))
}

/// The session cookie's value, if the request sent one.
fn cookie(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .filter(|v| !v.is_empty())
}

/// The user of the request's login session; for a change (`changes`),
/// only with the session's CSRF token and, when the browser names its
/// origin, from this host.
///
/// # Errors
///
/// [`GatewayError::Unauthenticated`] without a live session;
/// [`GatewayError::Forbidden`] for a change without its CSRF token or
/// from another origin.
pub(super) async fn session(state: &State, headers: &http::HeaderMap, changes: bool) -> Result<User, GatewayError> {
    let (user, csrf) = session_with_csrf(state, headers).await?;
    if changes {
        let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !crate::inbound::same(sent.as_bytes(), csrf.as_bytes()) {
            return Err(GatewayError::Forbidden("this change needs the session's CSRF token in `x-csrf-token`".into()));
        }
        if let Some(origin) = headers.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()) {
            let host = headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
            if origin_host != host {
                return Err(GatewayError::Forbidden(format!(
                    "a change from another origin ({}) is refused",
                    crate::boundary::bounded(origin, 100)
                )));
            }
        }
    }
    Ok(user)
}

/// The live session's user and CSRF token.
async fn session_with_csrf(state: &State, headers: &http::HeaderMap) -> Result<(User, String), GatewayError> {
    let Some(value) = cookie(headers) else { return Err(GatewayError::Unauthenticated) };
    const SQL: &str = "SELECT u.id, u.name, u.kind, u.created_ms, s.csrf FROM web_sessions s \
        JOIN users u ON u.id = s.user_id WHERE s.sha256 = $1 AND s.expires_ms > $2";
    let now = state.store.now_ms();
    let row: Option<(i64, String, String, i64, String)> =
        on_db!(state.store.db(), p, SQL, SQL, |sql| sqlx::query_as(sql)
            .bind(digest(value))
            .bind(now)
            .fetch_optional(p)
            .await)
        .map_err(|e| GatewayError::Store(e.to_string()))?;
    let Some((id, name, kind, created_ms, csrf)) = row else { return Err(GatewayError::Unauthenticated) };
    Ok((super::users::user_of((id, name, kind, created_ms)), csrf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::COOKIE, "theme=dark; claw_session=abc123; x=1".parse().unwrap());
        assert_eq!(cookie(&h), Some("abc123"));
        let mut h = http::HeaderMap::new();
        h.insert(http::header::COOKIE, "claw_session_old=zzz; claw_session=".parse().unwrap());
        assert_eq!(cookie(&h), None, "a prefix of another name or an empty value is no session");
    }
}

//! The gateway: the host's HTTP listener, where the world reaches claw.
//!
//! The host keeps only listening, verification with the vault's secrets,
//! routing, and the durable hand-off to the queue; nothing here talks to
//! the network outward (that is the boundary's alone). Routes are one
//! table (`route`), errors one enum (`error`), and each route's handler
//! is its own file.

mod channels;
mod chat;
mod error;
mod hooks;
pub mod limits;
mod login;
mod openai;
pub mod page;
mod serve;
mod stream;
mod turn;
pub mod users;

pub use error::GatewayError;
pub use serve::{Gateway, Listen, MAX_BODY};

/// What a request asks for, decided once from its method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`: the process is alive.
    Health,
    /// `GET /readyz`: the store answers and components are loaded.
    Ready,
    /// `POST /hooks/routines/NAME`: a routine's webhook.
    RoutineHook(String),
    /// `GET /v1/models`: the OpenAI-compatible API's one model, the agent.
    Models,
    /// `POST /v1/chat/completions`: an agent turn, OpenAI's shape.
    ChatCompletions,
    /// `GET /`, `/app.js`, `/app.css`: the web chat's page.
    Page(page::Asset),
    /// `POST /login`: the web chat's sign-in.
    Login,
    /// `GET /api/session`: who is signed in, and the session's CSRF token.
    Session,
    /// `POST /logout`.
    Logout,
    /// `GET /api/conversations`: the person's conversations.
    Conversations,
    /// `GET /api/conversations/ID/messages`: one conversation's history.
    History(String),
    /// `POST /api/conversations/ID/messages`: say something in it.
    Send(String),
    /// `GET /api/conversations/ID/events`: what happens in it, as it
    /// happens (server-sent events).
    Events(String),
    /// `/channels/NAME[/…]`, any method: a channel component's webhook.
    Channel(String),
}

/// The route of `method` and `path`, or why there is none.
///
/// # Errors
///
/// [`GatewayError::NotFound`] or [`GatewayError::Method`].
pub fn route(method: &http::Method, path: &str) -> Result<Route, GatewayError> {
    let path = path.split('?').next().unwrap_or_default();
    let (found, allowed) = match path.trim_end_matches('/') {
        "/healthz" => (Route::Health, http::Method::GET),
        "/readyz" => (Route::Ready, http::Method::GET),
        "/v1/models" => (Route::Models, http::Method::GET),
        "/v1/chat/completions" => (Route::ChatCompletions, http::Method::POST),
        "/login" => (Route::Login, http::Method::POST),
        "/api/session" => (Route::Session, http::Method::GET),
        "/logout" => (Route::Logout, http::Method::POST),
        "/api/conversations" => (Route::Conversations, http::Method::GET),
        p => {
            if let Some(asset) = page::Asset::at(p) {
                (Route::Page(asset), http::Method::GET)
            } else if let Some(rest) = p.strip_prefix("/channels/") {
                let name = rest.split('/').next().unwrap_or_default();
                if !crate::grant::valid_name(name) {
                    return Err(GatewayError::NotFound);
                }
                // The channel decides what its methods mean.
                return Ok(Route::Channel(name.to_string()));
            } else if let Some(name) = p.strip_prefix("/hooks/routines/") {
                if !crate::grant::valid_name(name) {
                    return Err(GatewayError::NotFound);
                }
                (Route::RoutineHook(name.to_string()), http::Method::POST)
            } else if let Some(id) = p.strip_prefix("/api/conversations/").and_then(|r| r.strip_suffix("/events")) {
                if !chat::valid_conversation(id) {
                    return Err(GatewayError::NotFound);
                }
                (Route::Events(id.to_string()), http::Method::GET)
            } else if let Some(id) = p.strip_prefix("/api/conversations/").and_then(|r| r.strip_suffix("/messages")) {
                if !chat::valid_conversation(id) {
                    return Err(GatewayError::NotFound);
                }
                // One path, two methods.
                if *method == http::Method::POST {
                    return Ok(Route::Send(id.to_string()));
                }
                (Route::History(id.to_string()), http::Method::GET)
            } else {
                return Err(GatewayError::NotFound);
            }
        }
    };
    if *method != allowed {
        return Err(GatewayError::Method(allowed));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn routes_are_decided_from_method_and_path_alone() {
        assert_eq!(route(&Method::GET, "/healthz"), Ok(Route::Health));
        assert_eq!(route(&Method::GET, "/readyz/"), Ok(Route::Ready));
        assert_eq!(route(&Method::POST, "/hooks/routines/ci?x=1"), Ok(Route::RoutineHook("ci".into())));
        assert_eq!(route(&Method::GET, "/hooks/routines/ci"), Err(GatewayError::Method(Method::POST)));
        assert_eq!(route(&Method::POST, "/hooks/routines/../../etc"), Err(GatewayError::NotFound));
        assert_eq!(route(&Method::POST, "/hooks/routines/"), Err(GatewayError::NotFound));
        assert_eq!(route(&Method::GET, "/"), Ok(Route::Page(page::Asset::Index)));
        assert_eq!(route(&Method::GET, "/app.js?v=2"), Ok(Route::Page(page::Asset::Script)));
        assert_eq!(route(&Method::GET, "/other.js"), Err(GatewayError::NotFound));
        assert_eq!(route(&Method::POST, "/v1/chat/completions"), Ok(Route::ChatCompletions));
        assert_eq!(route(&Method::GET, "/v1/chat/completions"), Err(GatewayError::Method(Method::POST)));
        assert_eq!(route(&Method::GET, "/v1/models"), Ok(Route::Models));
        assert_eq!(
            route(&Method::GET, "/api/conversations/groceries/messages"),
            Ok(Route::History("groceries".into()))
        );
        assert_eq!(route(&Method::POST, "/api/conversations/groceries/messages"), Ok(Route::Send("groceries".into())));
        assert_eq!(route(&Method::GET, "/api/conversations/groceries/events"), Ok(Route::Events("groceries".into())));
        assert_eq!(route(&Method::POST, "/channels/telegram"), Ok(Route::Channel("telegram".into())));
        assert_eq!(route(&Method::PUT, "/channels/hook/a/b?x=1"), Ok(Route::Channel("hook".into())));
        assert_eq!(route(&Method::POST, "/channels/../x"), Err(GatewayError::NotFound));
        assert_eq!(route(&Method::GET, "/api/conversations/../events"), Err(GatewayError::NotFound));
        assert_eq!(route(&Method::POST, "/api/conversations/a%2Fb/messages"), Err(GatewayError::NotFound));
        assert_eq!(route(&Method::GET, "/login"), Err(GatewayError::Method(Method::POST)));
    }
}

//! Listening: accept connections, read each request under the body cap
//! and a deadline, route it, hand it to its handler, answer with the
//! handler's response or the error's status and body.

use super::{GatewayError, Route, hooks, openai};
use crate::problem::Problem;
use crate::runtime::Runtime;
use crate::store::Store;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The largest request body the gateway reads.
pub const MAX_BODY: usize = 1 << 20;

/// How long a client has to send its headers, and then its body.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What every handler may use.
pub(super) struct State {
    pub(super) runtime: Arc<Runtime>,
    pub(super) store: Store,
    /// Wakes this process's worker pool after an enqueue.
    pub(super) wake: Arc<tokio::sync::Notify>,
}

/// A running gateway.
pub struct Gateway {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Listen on `listen` (`HOST:PORT`; port 0 picks one) and serve;
    /// `wake` is rung after each message queued (the pool's waker).
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming the address when it cannot be bound.
    pub async fn start(
        listen: &str,
        runtime: Arc<Runtime>,
        store: Store,
        wake: Arc<tokio::sync::Notify>,
    ) -> Result<Gateway, Problem> {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            Problem::new(format!("the gateway cannot listen on {listen}: {e}"))
                .hint("set another address in config.toml: [gateway] listen = \"127.0.0.1:8081\", or \"off\"")
        })?;
        let addr = listener.local_addr().map_err(|e| Problem::new(e.to_string()))?;
        let state = Arc::new(State { runtime, store, wake });
        let task = tokio::spawn(accept(listener, state));
        Ok(Gateway { addr, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting (requests in flight are dropped).
    pub fn stop(self) {
        self.task.abort();
    }
}

async fn accept(listener: tokio::net::TcpListener, state: Arc<State>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("gateway: accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&state, req).await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!("gateway: connection from {peer} ended: {e}");
            }
        });
    }
}

/// A response with a JSON body.
pub(super) fn json(status: http::StatusCode, body: String) -> http::Response<Full<Bytes>> {
    let mut r = http::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    r
}

async fn answer(state: &State, req: http::Request<Incoming>) -> http::Response<Full<Bytes>> {
    match handle(state, req).await {
        Ok(r) => r,
        Err(e) => {
            let mut r = json(e.status(), e.body());
            if let GatewayError::Method(m) = &e
                && let Ok(v) = http::HeaderValue::from_str(m.as_str())
            {
                r.headers_mut().insert(http::header::ALLOW, v);
            }
            r
        }
    }
}

async fn handle(state: &State, req: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, GatewayError> {
    let route = super::route(req.method(), req.uri().path())?;
    let (parts, body) = req.into_parts();
    match route {
        Route::Health => Ok(json(http::StatusCode::OK, r#"{"status":"alive"}"#.into())),
        Route::Ready => ready(state).await,
        Route::RoutineHook(name) => {
            let body = read_body(body, &parts.headers).await?;
            hooks::routine(state, &name, &parts.headers, &body).await
        }
        Route::Models => openai::models(state, &parts.headers).await,
        Route::ChatCompletions => {
            let body = read_body(body, &parts.headers).await?;
            openai::chat(state, &parts.headers, &body).await
        }
    }
}

/// The whole body, refused past [`MAX_BODY`] (by its declared length
/// before reading, else while reading) or after [`READ_TIMEOUT`].
async fn read_body(body: Incoming, headers: &http::HeaderMap) -> Result<Bytes, GatewayError> {
    let declared =
        headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(GatewayError::TooLarge(MAX_BODY));
    }
    let collected = tokio::time::timeout(READ_TIMEOUT, Limited::new(body, MAX_BODY).collect())
        .await
        .map_err(|_| GatewayError::BadBody(format!("not sent within {} s", READ_TIMEOUT.as_secs())))?;
    match collected {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            Err(GatewayError::TooLarge(MAX_BODY))
        }
        Err(e) => Err(GatewayError::BadBody(e.to_string())),
    }
}

/// Ready: the store answers a query and the components are loaded.
async fn ready(state: &State) -> Result<http::Response<Full<Bytes>>, GatewayError> {
    state.store.queue_depth().await.map_err(|e| GatewayError::Store(e.to_string()))?;
    let components = state.runtime.tools().len();
    let router = state.runtime.first_of(crate::components::World::Llm).is_some();
    let body = serde_json::json!({"status": "ready", "tools": components, "llm_router": router}).to_string();
    Ok(json(http::StatusCode::OK, body))
}

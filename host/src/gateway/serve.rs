//! Listening: accept connections, read each request under the body cap
//! and a deadline, route it, hand it to its handler, answer with the
//! handler's response or the error's status and body.

use super::limits::{Limits, Who};
use super::{GatewayError, Route, chat, hooks, login, openai, page};
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
    /// Requests per minute, turns at once.
    pub(super) limits: Limits,
    /// Served over TLS (cookies are then `Secure`).
    pub(super) https: bool,
}

/// How the gateway listens, from `[gateway]`.
#[derive(Debug, Clone)]
pub struct Listen {
    /// `HOST:PORT`.
    pub addr: String,
    /// The certificate chain and key (PEM) for HTTPS.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Requests per minute per address and per user.
    pub per_minute: u32,
    /// Turns waited for at once.
    pub max_turns: usize,
}

impl Listen {
    /// From `[gateway]`, TLS paths relative to `config_dir`; `None`: off.
    pub fn from_config(config: &crate::config::GatewayConfig, config_dir: &std::path::Path) -> Option<Listen> {
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(c), Some(k)) => Some((config_dir.join(c), config_dir.join(k))),
            _ => None,
        };
        Some(Listen {
            addr: config.address()?,
            tls,
            per_minute: config.per_minute.unwrap_or(120),
            max_turns: config.max_turns.unwrap_or(32),
        })
    }
}

/// The TLS acceptor of a certificate chain and key, or what is wrong with them.
fn tls(cert: &std::path::Path, key: &std::path::Path) -> Result<tokio_rustls::TlsAcceptor, Problem> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let hint = "tls_cert is a PEM certificate chain, tls_key its PEM private key (e.g. from `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout gateway.key -out gateway.pem`)";
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| Problem::new(format!("[gateway] tls_cert {}: {e}", cert.display())).hint(hint))?;
    if certs.is_empty() {
        return Err(Problem::new(format!("[gateway] tls_cert {}: no certificate in it", cert.display())).hint(hint));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| Problem::new(format!("[gateway] tls_key {}: {e}", key.display())).hint(hint))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| {
            Problem::new(format!("[gateway] tls_cert and tls_key do not make a TLS identity: {e}")).hint(hint)
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A running gateway.
pub struct Gateway {
    addr: SocketAddr,
    tls: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Listen as `listen` says (port 0 picks one) and serve; `wake` is
    /// rung after each message queued (the pool's waker).
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming the address when it cannot be bound, or the
    /// file and what is wrong when the TLS identity does not load.
    pub async fn start(
        listen: &Listen,
        runtime: Arc<Runtime>,
        store: Store,
        wake: Arc<tokio::sync::Notify>,
    ) -> Result<Gateway, Problem> {
        let acceptor = listen.tls.as_ref().map(|(cert, key)| tls(cert, key)).transpose()?;
        let listener = tokio::net::TcpListener::bind(&listen.addr).await.map_err(|e| {
            Problem::new(format!("the gateway cannot listen on {}: {e}", listen.addr))
                .hint("set another address in config.toml: [gateway] listen = \"127.0.0.1:8081\", or \"off\"")
        })?;
        let addr = listener.local_addr().map_err(|e| Problem::new(e.to_string()))?;
        let limits = Limits::new(listen.per_minute, listen.max_turns);
        let tls = acceptor.is_some();
        let state = Arc::new(State { runtime, store, wake, limits, https: tls });
        let task = tokio::spawn(accept(listener, state, acceptor));
        Ok(Gateway { addr, tls, task })
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
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

async fn accept(listener: tokio::net::TcpListener, state: Arc<State>, tls: Option<tokio_rustls::TlsAcceptor>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("gateway: accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (state, tls) = (state.clone(), tls.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&state, req, peer).await) }
            });
            let builder = {
                let mut b = hyper::server::conn::http1::Builder::new();
                b.timer(TokioTimer::new()).header_read_timeout(READ_TIMEOUT);
                b
            };
            let served = match tls {
                None => builder.serve_connection(TokioIo::new(stream), service).await,
                Some(acceptor) => match tokio::time::timeout(READ_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => builder.serve_connection(TokioIo::new(tls), service).await,
                    Ok(Err(e)) => return tracing::debug!("gateway: TLS handshake with {peer} failed: {e}"),
                    Err(_) => return tracing::debug!("gateway: TLS handshake with {peer} timed out"),
                },
            };
            if let Err(e) = served {
                tracing::debug!("gateway: connection from {peer} ended: {e}");
            }
        });
    }
}

/// What every gateway response carries: a whole body, or a stream.
pub(super) type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::convert::Infallible>;

/// A whole body.
pub(super) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A response with a JSON body.
pub(super) fn json(status: http::StatusCode, body: String) -> http::Response<Body> {
    let mut r = http::Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    r
}

async fn answer(state: &Arc<State>, req: http::Request<Incoming>, peer: SocketAddr) -> http::Response<Body> {
    match handle(state, req, peer).await {
        Ok(r) => r,
        Err(e) => {
            let mut r = json(e.status(), e.body());
            if let Some(s) = e.retry_after() {
                r.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(s));
            }
            if let GatewayError::Method(m) = &e
                && let Ok(v) = http::HeaderValue::from_str(m.as_str())
            {
                r.headers_mut().insert(http::header::ALLOW, v);
            }
            r
        }
    }
}

async fn handle(
    state: &Arc<State>,
    req: http::Request<Incoming>,
    peer: SocketAddr,
) -> Result<http::Response<Body>, GatewayError> {
    let route = super::route(req.method(), req.uri().path())?;
    // Probes are not counted: a monitor must always get its answer.
    if !matches!(route, Route::Health | Route::Ready) {
        state.limits.take(Who::Addr(peer.ip()), std::time::Instant::now())?;
    }
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
        Route::Login => {
            let body = read_body(body, &parts.headers).await?;
            login::login(state, &body, state.https).await
        }
        Route::Logout => login::logout(state, &parts.headers).await,
        Route::Session => login::whoami(state, &parts.headers).await,
        Route::Page(asset) => Ok(page::serve(asset)),
        Route::Conversations => chat::conversations(state, &parts.headers).await,
        Route::History(id) => chat::history(state, &parts.headers, &id, parts.uri.query()).await,
        Route::Channel(name) => {
            let body = read_body(body, &parts.headers).await?;
            super::channels::request(state, &name, parts, body).await
        }
        Route::Events(id) => super::stream::events(state, &parts.headers, &id, parts.uri.query()).await,
        Route::Send(id) => {
            let body = read_body(body, &parts.headers).await?;
            chat::send(state, &parts.headers, &id, &body).await
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
async fn ready(state: &State) -> Result<http::Response<Body>, GatewayError> {
    state.store.queue_depth().await.map_err(|e| GatewayError::Store(e.to_string()))?;
    let components = state.runtime.tools().len();
    let router = state.runtime.first_of(crate::components::World::Llm).is_some();
    let body = serde_json::json!({"status": "ready", "tools": components, "llm_router": router}).to_string();
    Ok(json(http::StatusCode::OK, body))
}

//! The only HTTP client in the host. It connects to the address the
//! boundary checked (no second DNS lookup), speaks TLS with the host's
//! name, and follows no redirects. Public only so that claw-bench can time
//! it as the baseline of the `egress` scenario; the host calls it from the
//! boundary alone.

use bytes::Bytes;
use http::request::Parts;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::Error;

/// TLS to a host: its name (for SNI and the certificate check) and the
/// roots trusted.
#[derive(Debug, Clone)]
pub struct Tls {
    /// The host name the certificate must be for.
    pub host: String,
    /// The client settings (roots).
    pub config: Arc<rustls::ClientConfig>,
}

/// Where to connect and how.
#[derive(Debug, Clone)]
pub struct Target {
    /// The checked address.
    pub addr: SocketAddr,
    /// TLS, for https; `None` for http.
    pub tls: Option<Tls>,
    /// Time to connect (and handshake).
    pub connect_timeout: Duration,
    /// Time to the response head.
    pub first_byte_timeout: Duration,
}

/// Send a request whose body is already buffered. The connection is driven
/// by a task of its own; the returned future reports how it ended.
pub async fn send(
    target: &Target,
    mut parts: Parts,
    body: Bytes,
) -> Result<(http::Response<Incoming>, tokio::task::JoinHandle<Result<(), Error>>), Error> {
    let tcp = tokio::time::timeout(target.connect_timeout, TcpStream::connect(target.addr))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Connect)?;
    let _ = tcp.set_nodelay(true);
    // The server learns the host from `Host` alone, and it must be the
    // one checked (the host's own requests come without one).
    if let Some(authority) = parts.uri.authority()
        && let Ok(v) = http::HeaderValue::from_str(authority.as_str())
    {
        parts.headers.insert(http::header::HOST, v);
    }
    // The request line carries only the path: scheme and authority are for proxies.
    let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    parts.uri = pq.parse().map_err(|_| Error::HttpRequestUriInvalid)?;
    let request = http::Request::from_parts(parts, Full::new(body));

    macro_rules! exchange {
        ($io:expr) => {{
            let (mut sender, conn) =
                tokio::time::timeout(target.connect_timeout, hyper::client::conn::http1::handshake($io))
                    .await
                    .map_err(|_| Error::ConnectionTimeout)?
                    .map_err(Error::Hyper)?;
            let driver = tokio::spawn(async move { conn.await.map_err(Error::Hyper) });
            let response = tokio::time::timeout(target.first_byte_timeout, sender.send_request(request))
                .await
                .map_err(|_| Error::ConnectionReadTimeout)?
                .map_err(Error::Hyper)?;
            Ok((response, driver))
        }};
    }

    match &target.tls {
        None => exchange!(TokioIo::new(tcp)),
        Some(tls) => {
            let name = rustls::pki_types::ServerName::try_from(
                tls.host.trim_start_matches('[').trim_end_matches(']').to_string(),
            )
            .map_err(|_| Error::HttpRequestUriInvalid)?;
            let tls = tokio::time::timeout(
                target.connect_timeout,
                tokio_rustls::TlsConnector::from(tls.config.clone()).connect(name, tcp),
            )
            .await
            .map_err(|_| Error::ConnectionTimeout)?
            .map_err(Error::Tls)?;
            exchange!(TokioIo::new(tls))
        }
    }
}

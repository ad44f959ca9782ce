//! The web chat's page: three files built into the binary (no CDN, no
//! third-party script), served with a Content-Security-Policy that allows
//! only this origin's script, style and requests, and no framing.

use super::serve::Body;
use bytes::Bytes;

/// A file of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    /// `/`.
    Index,
    /// `/app.js`.
    Script,
    /// `/app.css`.
    Style,
}

impl Asset {
    /// The asset at `path`, if any.
    pub fn at(path: &str) -> Option<Asset> {
        match path {
            "" | "/" | "/index.html" => Some(Asset::Index),
            "/app.js" => Some(Asset::Script),
            "/app.css" => Some(Asset::Style),
            _ => None,
        }
    }

    fn content(self) -> (&'static str, &'static str) {
        match self {
            Asset::Index => (include_str!("page/index.html"), "text/html; charset=utf-8"),
            Asset::Script => (include_str!("page/app.js"), "text/javascript; charset=utf-8"),
            Asset::Style => (include_str!("page/app.css"), "text/css; charset=utf-8"),
        }
    }
}

/// The asset's response.
pub(super) fn serve(asset: Asset) -> http::Response<Body> {
    let (body, kind) = asset.content();
    let mut r = http::Response::new(super::serve::full(Bytes::from_static(body.as_bytes())));
    let h = r.headers_mut();
    h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(kind));
    h.insert(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(http::header::X_CONTENT_TYPE_OPTIONS, http::HeaderValue::from_static("nosniff"));
    h.insert(http::header::REFERRER_POLICY, http::HeaderValue::from_static("no-referrer"));
    h.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    r
}

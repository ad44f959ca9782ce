//! The OCI distribution API, as much of it as publishing and pulling one
//! component needs: blob existence, chunked upload, manifest put and get,
//! blob get — every byte checked against its digest.
//!
//! The client holds no connection of its own: each request goes through
//! the [`Transport`] the host gives it (the boundary), so what the
//! registry may be sent, and with which credential, is the boundary's
//! decision, audited like any other.

use crate::artifact::{Artifact, MANIFEST_MEDIA_TYPE, Manifest, parse_manifest};
use crate::digest::Hasher;
use crate::signature::{self, SignatureImage, Signed};
use crate::{Error, Reference, Sha256Digest};
use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

/// A response body, as it arrives.
pub type Body = BoxStream<'static, Result<Bytes, String>>;

/// Sends one request and hands back the response; the host's boundary.
pub trait Transport: Send + Sync {
    /// Send `request`. `Err` when it was refused or could not be sent.
    fn send(&self, request: http::Request<Bytes>) -> BoxFuture<'_, Result<http::Response<Body>, String>>;
}

/// Hears how far a transfer is.
pub trait Progress: Send + Sync {
    /// `done` of `total` bytes of `what` are through.
    fn bytes(&self, what: &str, done: u64, total: u64);
}

impl Progress for () {
    fn bytes(&self, _: &str, _: u64, _: u64) {}
}

/// Uploads go in chunks this big (so a progress bar moves).
const CHUNK: usize = 512 << 10;
/// A manifest or config larger than this is not one claw wrote or reads.
const SMALL_MAX: u64 = 4 << 20;
/// A signature payload is a few hundred bytes.
const SIGNATURE_MAX: u64 = 64 << 10;

/// A client for one registry.
pub struct Client<'a> {
    transport: &'a dyn Transport,
    base: String,
    registry: String,
    max_component: u64,
}

impl<'a> Client<'a> {
    /// A client for the registry of `reference`, over `transport`; plain
    /// HTTP when `plain_http` (the host allows it for loopback registries
    /// and those the operator names). Components over `max_component`
    /// bytes are refused.
    pub fn new(transport: &'a dyn Transport, reference: &Reference, plain_http: bool, max_component: u64) -> Self {
        let scheme = if plain_http { "http" } else { "https" };
        Client {
            transport,
            base: format!("{scheme}://{}", reference.registry),
            registry: reference.registry.clone(),
            max_component,
        }
    }

    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Body>, Error> {
        self.transport.send(request).await.map_err(|e| {
            Error::new(format!("the registry {} cannot be reached: {e}", self.registry))
                .hint("check that it is running and that the reference names the right host and port")
        })
    }

    fn request(&self, method: http::Method, url: &str) -> http::request::Builder {
        http::Request::builder().method(method).uri(url)
    }

    /// A request with no body.
    fn empty(&self, method: http::Method, url: &str) -> Result<http::Request<Bytes>, Error> {
        self.request(method, url).body(Bytes::new()).map_err(|e| Error::new(format!("cannot build a request: {e}")))
    }

    /// Publish `artifact` at `reference` (its tag, or its own digest);
    /// blobs the registry already has are not sent again. The manifest's
    /// digest.
    ///
    /// # Errors
    ///
    /// When the registry refuses a step, or acknowledges a digest other
    /// than the one sent.
    pub async fn push(
        &self,
        reference: &Reference,
        artifact: &Artifact,
        progress: &dyn Progress,
    ) -> Result<Sha256Digest, Error> {
        let repo = &reference.repository;
        let m = &artifact.manifest;
        self.put_blob(repo, &m.config.digest, &artifact.config_bytes, "config", &()).await?;
        self.put_blob(repo, &m.layers[0].digest, &artifact.wasm, "component", progress).await?;
        let digest = artifact.digest();
        let tag = reference.tag.clone().unwrap_or_else(|| digest.to_string());
        self.put_manifest(repo, &tag, &artifact.manifest_bytes, &format!("the manifest of {reference}")).await?;
        Ok(digest)
    }

    /// Store `bytes` as the manifest tagged `tag` in `repo`, and check the
    /// registry kept exactly those bytes.
    async fn put_manifest(&self, repo: &str, tag: &str, bytes: &[u8], what: &str) -> Result<(), Error> {
        let digest = Sha256Digest::of(bytes);
        let url = format!("{}/v2/{repo}/manifests/{tag}", self.base);
        let request = self
            .request(http::Method::PUT, &url)
            .header(http::header::CONTENT_TYPE, MANIFEST_MEDIA_TYPE)
            .body(Bytes::copy_from_slice(bytes))
            .map_err(|e| Error::new(format!("cannot build the manifest upload: {e}")))?;
        let response = self.send(request).await?;
        if response.status() != http::StatusCode::CREATED {
            return Err(self.refused(response, &format!("storing {what}")).await);
        }
        if let Some(said) = content_digest(&response)
            && said != digest
        {
            return Err(Error::new(format!(
                "the registry {} stored {what} as {said}, not {digest}: it changed what was sent",
                self.registry
            )));
        }
        Ok(())
    }

    /// Add `signed` to the signatures of the manifest `digest` of
    /// `reference` (at its `sha256-HEX.sig` tag, beside those already there).
    ///
    /// # Errors
    ///
    /// When the registry refuses a step.
    pub async fn push_signature(
        &self,
        reference: &Reference,
        digest: &Sha256Digest,
        signed: Signed,
    ) -> Result<(), Error> {
        let repo = &reference.repository;
        let mut all = self.signatures(reference, digest).await?;
        all.retain(|s| s.payload != signed.payload || s.signature != signed.signature);
        all.push(signed);
        let image = SignatureImage::build(&all);
        self.put_blob(repo, &image.manifest.config.digest, &image.config_bytes, "signature config", &()).await?;
        for (layer, payload) in image.manifest.layers.iter().zip(&image.payloads) {
            self.put_blob(repo, &layer.digest, payload, "signature", &()).await?;
        }
        let tag = signature::tag(digest);
        self.put_manifest(repo, &tag, &image.manifest_bytes, &format!("the signatures of {reference}")).await
    }

    /// The signatures stored for the manifest `digest` of `reference`
    /// (none when there is no `.sig` tag), each payload checked against
    /// its digest.
    ///
    /// # Errors
    ///
    /// When the registry refuses, or a payload is missing or altered.
    pub async fn signatures(&self, reference: &Reference, digest: &Sha256Digest) -> Result<Vec<Signed>, Error> {
        let repo = &reference.repository;
        let tag = signature::tag(digest);
        let what = format!("the signatures of {reference}");
        let Some((bytes, _)) = self.get_manifest(repo, &tag, MANIFEST_MEDIA_TYPE, &what).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (layer, signature) in signature::layers(&bytes)? {
            let payload = self.blob(repo, &layer.digest, layer.size, SIGNATURE_MAX, "signature", &()).await?;
            out.push(Signed { payload, signature });
        }
        Ok(out)
    }

    /// The manifest tagged `tag` in `repo` and its `Content-Type`, checked
    /// against the registry's statement of its digest; `None` when absent.
    async fn get_manifest(
        &self,
        repo: &str,
        tag: &str,
        accept: &str,
        what: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, Error> {
        let url = format!("{}/v2/{repo}/manifests/{tag}", self.base);
        let request = self
            .request(http::Method::GET, &url)
            .header(http::header::ACCEPT, accept)
            .body(Bytes::new())
            .map_err(|e| Error::new(format!("cannot build a request: {e}")))?;
        let response = self.send(request).await?;
        if response.status() == http::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if response.status() != http::StatusCode::OK {
            return Err(self.refused(response, &format!("reading {what}")).await);
        }
        let content_type =
            response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(String::from);
        let said = content_digest(&response);
        let bytes = read_capped(response.into_body(), SMALL_MAX, "the manifest", &()).await?;
        let digest = Sha256Digest::of(&bytes);
        if let Some(said) = said
            && said != digest
        {
            return Err(Error::new(format!(
                "the registry {} says {what} is {said}, but its bytes are {digest}",
                self.registry
            )));
        }
        Ok(Some((bytes, content_type)))
    }

    async fn put_blob(
        &self,
        repo: &str,
        digest: &Sha256Digest,
        bytes: &[u8],
        what: &str,
        progress: &dyn Progress,
    ) -> Result<(), Error> {
        let total = bytes.len() as u64;
        let head = self.empty(http::Method::HEAD, &format!("{}/v2/{repo}/blobs/{digest}", self.base))?;
        if self.send(head).await?.status() == http::StatusCode::OK {
            progress.bytes(what, total, total);
            return Ok(());
        }
        let start = self.empty(http::Method::POST, &format!("{}/v2/{repo}/blobs/uploads/", self.base))?;
        let response = self.send(start).await?;
        if response.status() != http::StatusCode::ACCEPTED {
            return Err(self.refused(response, &format!("starting the upload of the {what} to {repo}")).await);
        }
        let mut location = self.location(&response, what)?;
        let mut sent = 0usize;
        progress.bytes(what, 0, total);
        for chunk in bytes.chunks(CHUNK) {
            let end = sent + chunk.len() - 1;
            let patch = self
                .request(http::Method::PATCH, &location)
                .header(http::header::CONTENT_TYPE, "application/octet-stream")
                .header(http::header::CONTENT_RANGE, format!("{sent}-{end}"))
                .body(Bytes::copy_from_slice(chunk))
                .map_err(|e| Error::new(format!("cannot build a request: {e}")))?;
            let response = self.send(patch).await?;
            if response.status() != http::StatusCode::ACCEPTED {
                return Err(self.refused(response, &format!("uploading the {what} to {repo}")).await);
            }
            location = self.location(&response, what)?;
            sent += chunk.len();
            progress.bytes(what, sent as u64, total);
        }
        let sep = if location.contains('?') { '&' } else { '?' };
        let put = self
            .request(http::Method::PUT, &format!("{location}{sep}digest={digest}"))
            .header(http::header::CONTENT_TYPE, "application/octet-stream")
            .body(Bytes::new())
            .map_err(|e| Error::new(format!("cannot build a request: {e}")))?;
        let response = self.send(put).await?;
        if response.status() != http::StatusCode::CREATED {
            return Err(self.refused(response, &format!("finishing the upload of the {what} to {repo}")).await);
        }
        Ok(())
    }

    /// An upload's next URL, which must stay on this registry.
    fn location(&self, response: &http::Response<Body>, what: &str) -> Result<String, Error> {
        let loc = response.headers().get(http::header::LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(|| {
            Error::new(format!("the registry {} gave no upload location for the {what}", self.registry))
        })?;
        if loc.starts_with('/') {
            return Ok(format!("{}{loc}", self.base));
        }
        if loc.starts_with(&format!("{}/", self.base)) {
            return Ok(loc.to_string());
        }
        Err(Error::new(format!(
            "the registry {} sent the {what} upload elsewhere ({}): refused, uploads stay on the registry named",
            self.registry,
            loc.chars().take(120).collect::<String>()
        )))
    }

    /// The manifest `reference` names, its digest checked against the pin
    /// (if any) and the registry's own statement of it.
    ///
    /// # Errors
    ///
    /// Not found, refused, not a Wasm component, or a digest mismatch.
    pub async fn manifest(&self, reference: &Reference) -> Result<(Manifest, Vec<u8>, Sha256Digest), Error> {
        let accept = format!(
            "{MANIFEST_MEDIA_TYPE}, application/vnd.oci.image.index.v1+json;q=0.5, application/vnd.docker.distribution.manifest.v2+json;q=0.5"
        );
        let what = format!("the manifest of {reference}");
        let fetched = self.get_manifest(&reference.repository, &reference.manifest_ref(), &accept, &what).await?;
        let Some((bytes, content_type)) = fetched else {
            return Err(Error::new(format!("{reference} is not in the registry {}", self.registry))
                .hint("check the name and version; the publisher pushes it with `claw component publish FILE REF`"));
        };
        let digest = Sha256Digest::of(&bytes);
        if let Some(pin) = &reference.digest
            && *pin != digest
        {
            return Err(Error::new(format!(
                "the manifest of {reference} has digest {digest}, not the {pin} it was pinned to"
            ))
            .hint("a digest mismatch is always refused: the registry serves other bytes than the ones pinned"));
        }
        let manifest = parse_manifest(&bytes, content_type.as_deref(), &reference.to_string())?;
        Ok((manifest, bytes, digest))
    }

    /// Pull the whole artifact `reference` names: manifest, config and
    /// component, each checked against its digest.
    ///
    /// # Errors
    ///
    /// As [`Client::manifest`], and a blob that is missing, too large or
    /// not what its digest says.
    pub async fn pull(&self, reference: &Reference, progress: &dyn Progress) -> Result<Artifact, Error> {
        let (manifest, manifest_bytes, _) = self.manifest(reference).await?;
        let repo = &reference.repository;
        let config_bytes =
            self.blob(repo, &manifest.config.digest, manifest.config.size, SMALL_MAX, "config", &()).await?;
        let layer = &manifest.layers[0];
        if layer.size > self.max_component {
            return Err(Error::new(format!(
                "{reference} is {} bytes, over the {} bytes a component may be",
                layer.size, self.max_component
            )));
        }
        let wasm = self.blob(repo, &layer.digest, layer.size, self.max_component, "component", progress).await?;
        Ok(Artifact { manifest_bytes, manifest, config_bytes, wasm })
    }

    async fn blob(
        &self,
        repo: &str,
        digest: &Sha256Digest,
        size: u64,
        cap: u64,
        what: &str,
        progress: &dyn Progress,
    ) -> Result<Vec<u8>, Error> {
        let request = self.empty(http::Method::GET, &format!("{}/v2/{repo}/blobs/{digest}", self.base))?;
        let response = self.send(request).await?;
        if response.status() != http::StatusCode::OK {
            return Err(self.refused(response, &format!("reading the {what} {digest} of {repo}")).await);
        }
        progress.bytes(what, 0, size);
        let bytes = read_capped(response.into_body(), cap.min(size), what, &Sized(progress, size)).await?;
        if bytes.len() as u64 != size {
            return Err(Error::new(format!(
                "the {what} {digest} of {repo} is {} bytes, not the {size} its manifest says",
                bytes.len()
            )));
        }
        let mut h = Hasher::default();
        h.update(&bytes);
        let got = h.finish();
        if got != *digest {
            return Err(Error::new(format!(
                "the {what} of {repo} has digest {got}, not the {digest} its manifest names"
            ))
            .hint("a digest mismatch is always refused: the registry serves other bytes than the ones published"));
        }
        Ok(bytes)
    }

    /// The registry said no: its status and its own error text.
    async fn refused(&self, response: http::Response<Body>, doing: &str) -> Error {
        let status = response.status();
        let body = read_capped(response.into_body(), 16 << 10, "an error", &()).await.unwrap_or_default();
        let said = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                let e = v.get("errors")?.get(0)?;
                Some(format!(
                    "{}: {}",
                    e.get("code").and_then(|c| c.as_str()).unwrap_or("?"),
                    e.get("message").and_then(|c| c.as_str()).unwrap_or("")
                ))
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
        let error = Error::new(format!("the registry {} answered {status} to {doing}: {said}", self.registry));
        match status.as_u16() {
            401 | 403 => error.hint(format!(
                "give claw a credential for it: [registry.hosts.\"{}\"] username and credential in config.toml, and `claw secret set NAME`",
                self.registry
            )),
            _ => error,
        }
    }
}

/// Progress of a body whose size is known.
struct Sized<'a>(&'a dyn Progress, u64);

impl Progress for Sized<'_> {
    fn bytes(&self, what: &str, done: u64, _: u64) {
        self.0.bytes(what, done, self.1);
    }
}

fn content_digest(response: &http::Response<Body>) -> Option<Sha256Digest> {
    response.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()).and_then(Sha256Digest::parse)
}

async fn read_capped(mut body: Body, cap: u64, what: &str, progress: &dyn Progress) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Error::new(format!("reading the {what} broke off: {e}")))?;
        if (out.len() + chunk.len()) as u64 > cap {
            return Err(Error::new(format!("the {what} is over {cap} bytes: refused")));
        }
        out.extend_from_slice(&chunk);
        progress.bytes(what, out.len() as u64, cap);
    }
    Ok(out)
}

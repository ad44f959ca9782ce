//! The component registry: where tool authors publish components and
//! operators pull them by name, pinned by digest.
//!
//! - [`reference`]: `oci://HOST/NS/NAME:TAG`, `NAME@VERSION` and digests;
//! - [`artifact`]: the CNCF Wasm artifact (one `application/wasm` layer, a
//!   `application/vnd.wasm.config.v0+json` config), and claw's annotations;
//! - [`client`]: the OCI distribution API, spoken over a [`Transport`] the
//!   host gives it — the host's boundary, so the registry's traffic is
//!   allowed, credentialed and audited like every other outbound request;
//! - [`lockfile`]: what each installed component was pulled from, and
//!   who signed it;
//! - [`key`], [`signature`], [`trust`]: ECDSA P-256 keys, cosign's keyed
//!   signature format (a `sha256-HEX.sig` tag beside the artifact), and
//!   which keys the operator trusts for which repositories.
//!
//! No HTTP client lives here: this crate holds data and protocol only.

pub mod artifact;
pub mod catalogue;
pub mod client;
pub mod digest;
pub mod key;
pub mod lockfile;
pub mod reference;
pub mod signature;
pub mod trust;

pub use artifact::{Artifact, WasmConfig};
pub use catalogue::Catalogue;
pub use client::{Client, Progress, Transport};
pub use digest::Sha256Digest;
pub use key::{PublicKey, SigningKey};
pub use lockfile::{Lock, Lockfile};
pub use reference::Reference;
pub use signature::{Claim, Signed, Verdict};
pub use trust::TrustStore;

/// A registry operation that failed: what, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// What went wrong, naming the thing (reference, digest, media type).
    pub message: String,
    /// What the operator can do.
    pub hint: Option<String>,
}

impl Error {
    /// An error without a hint.
    pub fn new(message: impl Into<String>) -> Error {
        Error { message: message.into(), hint: None }
    }

    /// Add what the operator can do.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }
}

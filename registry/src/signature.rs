//! Signatures in cosign's keyed format, so a standard tool can check what
//! claw signed and claw can check what cosign signed.
//!
//! The signed payload is a "simple signing" claim naming the repository
//! and the manifest digest. It is stored as a layer
//! (`application/vnd.dev.cosign.simplesigning.v1+json`) of an OCI image
//! manifest tagged `sha256-HEX.sig` in the component's own repository;
//! the layer's `dev.cosignproject.cosign/signature` annotation holds the
//! base64 ECDSA P-256 signature of the payload. One artifact may carry
//! several signatures (one layer each).

use crate::artifact::{Descriptor, Manifest};
use crate::key::{PublicKey, SigningKey};
use crate::{Error, Sha256Digest};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A signature layer's media type.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature.
pub const ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The signature image's config media type.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// The claim's type, as cosign writes and checks it.
const CLAIM_TYPE: &str = "cosign container image signature";

/// The tag the signatures of the manifest `digest` live at.
pub fn tag(digest: &Sha256Digest) -> String {
    format!("sha256-{}.sig", digest.hex())
}

/// What a signature says: this repository's manifest has this digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// `HOST[:PORT]/REPOSITORY`.
    pub repository: String,
    /// The manifest digest signed.
    pub digest: Sha256Digest,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    critical: Critical,
    optional: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Serialize, Deserialize)]
struct Critical {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Serialize, Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Serialize, Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

impl Claim {
    /// The payload bytes that get signed.
    pub fn payload(&self) -> Vec<u8> {
        let p = Payload {
            critical: Critical {
                identity: Identity { docker_reference: self.repository.clone() },
                image: Image { docker_manifest_digest: self.digest.to_string() },
                kind: CLAIM_TYPE.into(),
            },
            optional: None,
        };
        serde_json::to_vec(&p).expect("a claim always encodes")
    }

    /// The claim a signed payload makes.
    ///
    /// # Errors
    ///
    /// When it is not a cosign simple-signing payload.
    pub fn parse(payload: &[u8]) -> Result<Claim, Error> {
        let p: Payload = serde_json::from_slice(payload)
            .map_err(|e| Error::new(format!("a signature's payload is not a cosign simple-signing claim: {e}")))?;
        if p.critical.kind != CLAIM_TYPE {
            return Err(Error::new(format!(
                "a signature's payload has type `{}`, not `{CLAIM_TYPE}`",
                p.critical.kind
            )));
        }
        let digest = Sha256Digest::parse(&p.critical.image.docker_manifest_digest).ok_or_else(|| {
            Error::new(format!(
                "a signature's payload names `{}`, which is not a sha256 digest",
                p.critical.image.docker_manifest_digest
            ))
        })?;
        Ok(Claim { repository: p.critical.identity.docker_reference, digest })
    }
}

/// One signature: the payload and the signature over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The payload bytes (a [`Claim`]).
    pub payload: Vec<u8>,
    /// ECDSA ASN.1 DER over SHA-256(payload).
    pub signature: Vec<u8>,
}

impl Signed {
    /// Sign `claim` with `key`.
    ///
    /// # Errors
    ///
    /// When signing fails.
    pub fn new(claim: &Claim, key: &SigningKey) -> Result<Signed, Error> {
        let payload = claim.payload();
        let signature = key.sign(&payload)?;
        Ok(Signed { payload, signature })
    }
}

/// The signature image: its manifest, config and payload blobs.
#[derive(Debug, Clone)]
pub struct SignatureImage {
    /// The manifest bytes.
    pub manifest_bytes: Vec<u8>,
    /// The manifest.
    pub manifest: Manifest,
    /// The config blob.
    pub config_bytes: Vec<u8>,
    /// Each layer's payload, in layer order.
    pub payloads: Vec<Vec<u8>>,
}

impl SignatureImage {
    /// The image carrying `signatures`, one layer each.
    pub fn build(signatures: &[Signed]) -> SignatureImage {
        let layers: Vec<Descriptor> = signatures
            .iter()
            .map(|s| Descriptor {
                media_type: LAYER_MEDIA_TYPE.into(),
                digest: Sha256Digest::of(&s.payload),
                size: s.payload.len() as u64,
                annotations: BTreeMap::from([(
                    ANNOTATION.to_string(),
                    base64::engine::general_purpose::STANDARD.encode(&s.signature),
                )]),
            })
            .collect();
        // The config cosign writes: no platform, the layers as diff ids.
        let config = serde_json::json!({
            "architecture": "",
            "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.digest.to_string()).collect::<Vec<_>>()},
            "config": {},
        });
        let config_bytes = serde_json::to_vec(&config).expect("a config always encodes");
        let (manifest, manifest_bytes) = Manifest::build(CONFIG_MEDIA_TYPE, &config_bytes, layers, BTreeMap::new());
        let payloads = signatures.iter().map(|s| s.payload.clone()).collect();
        SignatureImage { manifest_bytes, manifest, config_bytes, payloads }
    }
}

/// The signature layers of a `.sig` manifest: (descriptor, signature).
/// Layers of other kinds, or without a signature, are passed over.
///
/// # Errors
///
/// When the manifest is not an OCI image manifest.
pub fn layers(manifest_bytes: &[u8]) -> Result<Vec<(Descriptor, Vec<u8>)>, Error> {
    let manifest: Manifest = serde_json::from_slice(manifest_bytes)
        .map_err(|e| Error::new(format!("the signature manifest is not an OCI image manifest: {e}")))?;
    Ok(manifest
        .layers
        .into_iter()
        .filter(|l| l.media_type == LAYER_MEDIA_TYPE)
        .filter_map(|l| {
            let sig = base64::engine::general_purpose::STANDARD.decode(l.annotations.get(ANNOTATION)?.trim()).ok()?;
            Some((l, sig))
        })
        .collect())
}

/// Who signed, as far as the trusted keys tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A key trusted for this repository signed this digest.
    Trusted {
        /// The key's name in the trust store.
        name: String,
        /// Its fingerprint.
        fingerprint: String,
    },
    /// Signed by a known key, but one not trusted for this repository.
    OutOfScope {
        /// The key's name.
        name: String,
        /// The scopes it is trusted for.
        scopes: Vec<String>,
    },
    /// Signatures exist, but none by a key claw knows (or none valid).
    Untrusted {
        /// How many signatures there were.
        count: usize,
    },
    /// A valid signature whose claim names another digest or repository:
    /// a signature copied from elsewhere.
    Misplaced {
        /// What the claim names.
        claim: String,
    },
    /// No signature at all.
    Unsigned,
}

/// A key the operator trusts, and where.
#[derive(Debug, Clone)]
pub struct KeyInScope<'a> {
    /// Its name.
    pub name: &'a str,
    /// The key.
    pub key: &'a PublicKey,
    /// Whether it is trusted for the repository being checked.
    pub in_scope: bool,
    /// Its scopes, to name when it is not.
    pub scopes: &'a [String],
}

/// Check `signatures` of the manifest `digest` in `repository` against
/// `keys`. A signature counts only when it verifies under a key and its
/// claim names exactly this repository and digest.
pub fn verify(signatures: &[Signed], repository: &str, digest: &Sha256Digest, keys: &[KeyInScope<'_>]) -> Verdict {
    if signatures.is_empty() {
        return Verdict::Unsigned;
    }
    let mut verdict = Verdict::Untrusted { count: signatures.len() };
    for s in signatures {
        for k in keys.iter().filter(|k| k.key.verifies(&s.payload, &s.signature)) {
            match Claim::parse(&s.payload) {
                Ok(c) if c.digest == *digest && c.repository.eq_ignore_ascii_case(repository) => {
                    if k.in_scope {
                        return Verdict::Trusted { name: k.name.to_string(), fingerprint: k.key.fingerprint() };
                    }
                    if matches!(verdict, Verdict::Untrusted { .. }) {
                        verdict = Verdict::OutOfScope { name: k.name.to_string(), scopes: k.scopes.to_vec() };
                    }
                }
                Ok(c) => {
                    verdict = Verdict::Misplaced { claim: format!("{}@{}", c.repository, c.digest) };
                }
                Err(e) => verdict = Verdict::Misplaced { claim: e.message },
            }
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(repo: &str, d: &[u8]) -> Claim {
        Claim { repository: repo.into(), digest: Sha256Digest::of(d) }
    }

    #[test]
    fn the_payload_is_cosigns_simple_signing_claim() {
        let c = claim("127.0.0.1:5000/claw/echo", b"m");
        let v: serde_json::Value = serde_json::from_slice(&c.payload()).unwrap();
        assert_eq!(v["critical"]["type"], "cosign container image signature");
        assert_eq!(v["critical"]["identity"]["docker-reference"], "127.0.0.1:5000/claw/echo");
        assert_eq!(v["critical"]["image"]["docker-manifest-digest"], c.digest.to_string());
        assert!(v["optional"].is_null());
        assert_eq!(Claim::parse(&c.payload()).unwrap(), c);
        assert!(Claim::parse(br#"{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"},"optional":null}"#).unwrap_err().message.contains("not a sha256 digest"));
        assert_eq!(tag(&c.digest), format!("sha256-{}.sig", c.digest.hex()));
    }

    #[test]
    fn the_image_round_trips_its_signatures() {
        let (key, _) = SigningKey::generate().unwrap();
        let a = Signed::new(&claim("r/a", b"1"), &key).unwrap();
        let b = Signed::new(&claim("r/a", b"2"), &key).unwrap();
        let image = SignatureImage::build(&[a.clone(), b.clone()]);
        assert_eq!(image.manifest.layers.len(), 2);
        let back = layers(&image.manifest_bytes).unwrap();
        assert_eq!(back[0].1, a.signature);
        assert_eq!(back[1].0.digest, Sha256Digest::of(&b.payload));
        let config: serde_json::Value = serde_json::from_slice(&image.config_bytes).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][1], Sha256Digest::of(&b.payload).to_string());
    }

    #[test]
    fn only_a_trusted_key_over_this_exact_claim_counts() {
        let (key, _) = SigningKey::generate().unwrap();
        let (stranger, _) = SigningKey::generate().unwrap();
        let public = key.public_key();
        let scopes = vec!["r/*".to_string()];
        let trusted = [KeyInScope { name: "acme", key: &public, in_scope: true, scopes: &scopes }];
        let elsewhere = [KeyInScope { name: "acme", key: &public, in_scope: false, scopes: &scopes }];
        let d = Sha256Digest::of(b"m");
        let good = Signed::new(&claim("r/a", b"m"), &key).unwrap();

        assert_eq!(verify(&[], "r/a", &d, &trusted), Verdict::Unsigned);
        assert!(
            matches!(verify(std::slice::from_ref(&good), "r/a", &d, &trusted), Verdict::Trusted { name, .. } if name == "acme")
        );
        assert!(matches!(verify(std::slice::from_ref(&good), "R/A", &d, &trusted), Verdict::Trusted { .. }));
        assert!(matches!(verify(std::slice::from_ref(&good), "r/a", &d, &elsewhere), Verdict::OutOfScope { .. }));
        let by_stranger = Signed::new(&claim("r/a", b"m"), &stranger).unwrap();
        assert_eq!(verify(std::slice::from_ref(&by_stranger), "r/a", &d, &trusted), Verdict::Untrusted { count: 1 });
        // A valid signature of another digest, or another repository, is copied.
        let other = Signed::new(&claim("r/a", b"other"), &key).unwrap();
        assert!(matches!(verify(&[other], "r/a", &d, &trusted), Verdict::Misplaced { .. }));
        assert!(matches!(verify(std::slice::from_ref(&good), "r/b", &d, &trusted), Verdict::Misplaced { .. }));
        // A tampered payload does not verify at all.
        let mut bent = good.clone();
        bent.payload[3] ^= 1;
        assert_eq!(verify(&[bent], "r/a", &d, &trusted), Verdict::Untrusted { count: 1 });
        // One good signature among others is enough.
        assert!(matches!(verify(&[by_stranger, good], "r/a", &d, &trusted), Verdict::Trusted { .. }));
    }
}

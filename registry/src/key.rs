//! Signing keys: ECDSA P-256 with SHA-256, the kind `cosign generate-key-pair`
//! makes, so a signature claw writes is one `cosign verify --key` (or
//! `openssl dgst -verify`) can check. The public key travels as a PEM
//! `PUBLIC KEY` (SubjectPublicKeyInfo); the private key as PKCS#8, kept in
//! the host's vault, never in a file.

use crate::Error;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _};
use sha2::Digest as _;
use std::fmt;

/// The DER prefix of a P-256 SubjectPublicKeyInfo: algorithm
/// id-ecPublicKey with the prime256v1 curve, then a BIT STRING of the
/// 65-byte uncompressed point.
const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const POINT_LEN: usize = 65;

/// A private signing key (PKCS#8 DER). Its bytes are the caller's to keep
/// secret; this type never prints them.
pub struct SigningKey {
    pair: EcdsaKeyPair,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.public_key().fingerprint())
    }
}

impl SigningKey {
    /// A new key, and its PKCS#8 bytes to store.
    ///
    /// # Errors
    ///
    /// When the system has no randomness to give.
    pub fn generate() -> Result<(SigningKey, Vec<u8>), Error> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| Error::new("the system gave no randomness to make a key from"))?;
        let bytes = pkcs8.as_ref().to_vec();
        Ok((SigningKey::from_pkcs8(&bytes)?, bytes))
    }

    /// The key stored as `pkcs8`.
    ///
    /// # Errors
    ///
    /// When the bytes are not a P-256 PKCS#8 key.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningKey, Error> {
        let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &SystemRandom::new())
            .map_err(|_| {
                Error::new("the stored signing key is not an ECDSA P-256 PKCS#8 key")
                    .hint("make a new one with `claw key generate NAME`")
            })?;
        Ok(SigningKey { pair })
    }

    /// Its public half.
    pub fn public_key(&self) -> PublicKey {
        let mut point = [0u8; POINT_LEN];
        point.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey { point }
    }

    /// The ASN.1 DER signature of SHA-256(`message`).
    ///
    /// # Errors
    ///
    /// When the system has no randomness to give.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| Error::new("signing failed: the system gave no randomness"))
    }
}

/// A public verification key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    point: [u8; POINT_LEN],
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

impl PublicKey {
    /// The key in a PEM `PUBLIC KEY` block (or a bare base64 SPKI).
    ///
    /// # Errors
    ///
    /// When it is not PEM, not base64, or not a P-256 key: the error says
    /// which.
    pub fn from_pem(text: &str) -> Result<PublicKey, Error> {
        let text = text.trim();
        let body = if text.starts_with("-----BEGIN") {
            let mut lines = text.lines();
            let begin = lines.next().unwrap_or_default().trim();
            if begin != "-----BEGIN PUBLIC KEY-----" {
                return Err(Error::new(format!("the key file holds `{begin}`, not a public key"))
                    .hint("give the PEM `PUBLIC KEY` file `claw key generate` or `cosign generate-key-pair` wrote"));
            }
            let body: Vec<&str> = lines.take_while(|l| !l.starts_with("-----END")).collect();
            body.concat()
        } else {
            text.to_string()
        };
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .map_err(|e| Error::new(format!("the public key is not valid base64: {e}")))?;
        PublicKey::from_spki(&der)
    }

    /// The key from its SubjectPublicKeyInfo DER.
    ///
    /// # Errors
    ///
    /// When it is not an uncompressed P-256 key.
    pub fn from_spki(der: &[u8]) -> Result<PublicKey, Error> {
        let point = der
            .strip_prefix(&SPKI_P256_PREFIX[..])
            .filter(|p| p.len() == POINT_LEN && p[0] == 0x04)
            .ok_or_else(|| {
                Error::new("the public key is not an ECDSA P-256 key")
                    .hint("claw verifies ECDSA P-256 keys, the kind `cosign generate-key-pair` makes")
            })?;
        let mut out = [0u8; POINT_LEN];
        out.copy_from_slice(point);
        Ok(PublicKey { point: out })
    }

    /// SubjectPublicKeyInfo DER.
    pub fn spki(&self) -> Vec<u8> {
        [&SPKI_P256_PREFIX[..], &self.point[..]].concat()
    }

    /// The PEM `PUBLIC KEY` block.
    pub fn to_pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.spki());
        let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str("-----END PUBLIC KEY-----\n");
        out
    }

    /// `sha256:` and the hex digest of its SPKI DER: what names a signer.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(self.spki())))
    }

    /// Whether `signature` (ASN.1 DER) signs `message` with this key.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &self.point[..])
            .verify(message, signature)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_under_its_key_only() {
        let (key, pkcs8) = SigningKey::generate().unwrap();
        let again = SigningKey::from_pkcs8(&pkcs8).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        let sig = key.sign(b"payload").unwrap();
        assert!(key.public_key().verifies(b"payload", &sig));
        assert!(!key.public_key().verifies(b"payloae", &sig));
        let (other, _) = SigningKey::generate().unwrap();
        assert!(!other.public_key().verifies(b"payload", &sig));
        let mut bent = sig.clone();
        let last = bent.len() - 1;
        bent[last] ^= 1;
        assert!(!key.public_key().verifies(b"payload", &bent));
    }

    #[test]
    fn the_pem_form_round_trips_and_bad_keys_are_named() {
        let (key, _) = SigningKey::generate().unwrap();
        let pem = key.public_key().to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n") && pem.ends_with("-----END PUBLIC KEY-----\n"));
        assert_eq!(PublicKey::from_pem(&pem).unwrap(), key.public_key());
        assert!(key.public_key().fingerprint().starts_with("sha256:"));
        let private = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(PublicKey::from_pem(private).unwrap_err().message.contains("not a public key"));
        assert!(PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----").is_err());
        // An RSA-sized blob is not a P-256 key.
        assert!(PublicKey::from_spki(&[0x30; 300]).unwrap_err().message.contains("P-256"));
        assert!(SigningKey::from_pkcs8(b"nope").is_err());
    }
}

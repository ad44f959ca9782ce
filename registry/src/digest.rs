//! `sha256:HEX` content digests, as OCI writes them.

use sha2::{Digest as _, Sha256};
use std::fmt;

/// A sha256 digest in OCI's spelling, `sha256:` and 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Digest(String);

impl Sha256Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256Digest {
        Sha256Digest(hex::encode(Sha256::digest(bytes)))
    }

    /// Parse `sha256:HEX`; `None` for any other algorithm or spelling.
    pub fn parse(s: &str) -> Option<Sha256Digest> {
        let hex = s.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then(|| Sha256Digest(hex.to_string()))
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, for people.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

impl TryFrom<String> for Sha256Digest {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Sha256Digest::parse(&s).ok_or_else(|| format!("`{s}` is not a sha256 digest (sha256: and 64 hex digits)"))
    }
}

impl From<Sha256Digest> for String {
    fn from(d: Sha256Digest) -> String {
        d.to_string()
    }
}

/// A digest computed as bytes arrive.
#[derive(Default)]
pub struct Hasher(Sha256);

impl Hasher {
    /// Take more bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest of everything taken.
    pub fn finish(self) -> Sha256Digest {
        Sha256Digest(hex::encode(self.0.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_parse_only_in_oci_spelling() {
        let d = Sha256Digest::of(b"abc");
        assert_eq!(d.to_string(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(Sha256Digest::parse(&d.to_string()), Some(d.clone()));
        for bad in
            [d.hex().to_string(), d.to_string().to_uppercase(), format!("sha512:{}", d.hex()), "sha256:ab".into()]
        {
            assert_eq!(Sha256Digest::parse(&bad), None, "{bad}");
        }
        let mut h = Hasher::default();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), d);
    }
}

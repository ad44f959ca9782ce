//! The boundary's snapshot of the vault: decrypted values (zeroized on
//! drop) and the leak detector built from them. Replaced as a whole when
//! the vault changes.

use super::inject::Values;
use super::leak::Detector;
use crate::vault::Vault;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// Vault values and their detector.
pub struct Secrets {
    values: BTreeMap<String, Zeroizing<Vec<u8>>>,
    detector: Detector,
    /// Why the vault could not be opened, if it could not: then every
    /// outbound request is refused (fail closed).
    locked: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .field("locked", &self.locked)
            .finish()
    }
}

impl Secrets {
    /// No vault: only the credential patterns are detected.
    pub fn empty() -> Secrets {
        Secrets { values: BTreeMap::new(), detector: Detector::patterns_only(), locked: None }
    }

    /// A vault that exists but cannot be opened.
    pub fn locked(reason: String) -> Secrets {
        Secrets { locked: Some(reason), ..Secrets::empty() }
    }

    /// Decrypt every value of `vault`.
    ///
    /// # Errors
    ///
    /// When a value does not decrypt.
    pub fn from_vault(vault: &Vault) -> Result<Secrets, crate::problem::Problem> {
        let values: BTreeMap<String, Zeroizing<Vec<u8>>> = vault.values()?.into_iter().collect();
        let detector = Detector::new(values.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
        Ok(Secrets { values, detector, locked: None })
    }

    /// The vault of `home`: empty when there is none; locked (every
    /// outbound request refused) when it exists but cannot be opened.
    pub fn load(home: &crate::home::Home) -> Secrets {
        if !Vault::path_in(&home.data).exists() {
            return Secrets::empty();
        }
        match Vault::open(home, false).and_then(|v| Secrets::from_vault(&v)) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("outbound requests are refused until the vault opens: {e}");
                Secrets::locked(e.to_string())
            }
        }
    }

    /// From (name, value) pairs directly (benchmarks and tests).
    pub fn from_values(values: impl IntoIterator<Item = (String, Vec<u8>)>) -> Secrets {
        let values: BTreeMap<String, Zeroizing<Vec<u8>>> =
            values.into_iter().map(|(n, v)| (n, Zeroizing::new(v))).collect();
        let detector = Detector::new(values.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
        Secrets { values, detector, locked: None }
    }

    /// The detector.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Why the vault is locked, if it is.
    pub fn locked_reason(&self) -> Option<&str> {
        self.locked.as_deref()
    }

    /// Whether the vault holds `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// Check an inbound request with the vault secret `name`: the value
    /// stays here, the caller learns only yes or why not.
    ///
    /// # Errors
    ///
    /// A [`Rejection`](crate::inbound::Rejection): a bad or missing
    /// signature, or no such secret in the vault.
    pub fn verify_inbound(
        &self,
        name: &str,
        verifier: &crate::inbound::Verifier,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<(), crate::inbound::Rejection> {
        let secret = self
            .values
            .get(name)
            .ok_or_else(|| crate::inbound::Rejection(format!("the vault has no secret `{name}` to verify with")))?;
        verifier.verify(secret, headers, body, std::time::SystemTime::now())
    }
}

impl Values for Secrets {
    fn value(&self, name: &str) -> Option<&[u8]> {
        self.values.get(name).map(|v| v.as_slice())
    }
}

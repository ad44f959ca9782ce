//! The vault: secrets encrypted at rest with AES-256-SIV.
//!
//! Each value is sealed with the secret's name and a random nonce as
//! associated data, so a ciphertext moved to another name fails to open.
//! The file also holds a key check, so a wrong master key is a clear error
//! rather than garbage. Writes are atomic (temp file + rename); a key
//! rotation interrupted half-way is finished or undone on the next open.
//! Values are zeroized after use and appear in no log, error or listing.

mod key;

pub use key::{KEY_ENV, KeySource, MasterKey, key_file, load as load_key};

use crate::engine::write_private;
use crate::problem::Problem;
use aes_siv::KeyInit as _;
use aes_siv::siv::Aes256Siv;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// A decrypted value, zeroized when dropped.
pub type Secret = Zeroizing<Vec<u8>>;

const KEY_CHECK: &[u8] = b"claw vault key check v1";
const KEY_CHECK_NAME: &str = "\0key-check";

/// A secret's metadata (never its value).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SecretInfo {
    /// When first set, ms since the Unix epoch.
    pub created_ms: u64,
    /// When last set.
    pub updated_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sealed {
    nonce: String,
    ciphertext: String,
    #[serde(flatten)]
    info: SecretInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct VaultFile {
    version: u32,
    key_check: Sealed,
    secrets: BTreeMap<String, Sealed>,
}

/// An open vault.
pub struct Vault {
    path: PathBuf,
    config_dir: PathBuf,
    key: MasterKey,
    file: VaultFile,
    /// The key came from `CLAW_MASTER_KEY`: rotation cannot write it.
    key_from_env: bool,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("path", &self.path).field("secrets", &self.file.secrets.len()).finish()
    }
}

fn seal(key: &MasterKey, name: &str, value: &[u8], info: SecretInfo) -> Sealed {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).expect("the OS random source is available");
    let mut cipher = Aes256Siv::new(key.bytes().into());
    let ciphertext =
        cipher.encrypt([name.as_bytes(), &nonce], value).expect("AES-SIV encryption cannot fail for in-memory data");
    Sealed { nonce: STANDARD.encode(nonce), ciphertext: STANDARD.encode(ciphertext), info }
}

fn open(key: &MasterKey, name: &str, sealed: &Sealed) -> Option<Zeroizing<Vec<u8>>> {
    let nonce = STANDARD.decode(&sealed.nonce).ok()?;
    let ciphertext = STANDARD.decode(&sealed.ciphertext).ok()?;
    let mut cipher = Aes256Siv::new(key.bytes().into());
    cipher.decrypt([name.as_bytes(), &nonce], &ciphertext).ok().map(Zeroizing::new)
}

fn now_ms() -> u64 {
    crate::components::store_now_ms()
}

impl Vault {
    /// The vault file's path under a data directory.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("vault.json")
    }

    /// Open the vault (creating an empty one, and the key file, when
    /// `create` is set and none exists).
    ///
    /// # Errors
    ///
    /// A [`Problem`] for a missing or wrong master key or a damaged file.
    pub fn open(config_dir: &Path, data_dir: &Path, create: bool) -> Result<Vault, Problem> {
        Vault::open_with(config_dir, data_dir, create, &KeySource::from_env())
    }

    /// [`Vault::open`] with the key from `source`.
    ///
    /// # Errors
    ///
    /// As [`Vault::open`].
    pub fn open_with(config_dir: &Path, data_dir: &Path, create: bool, source: &KeySource) -> Result<Vault, Problem> {
        let path = Vault::path_in(data_dir);
        let exists = path.is_file();
        let key = key::load(config_dir, create || !exists, source)?;
        let key_from_env = source.is_env();
        if !exists {
            let file = VaultFile {
                version: 1,
                key_check: seal(&key, KEY_CHECK_NAME, KEY_CHECK, info_now()),
                secrets: BTreeMap::new(),
            };
            return Ok(Vault { path, config_dir: config_dir.to_path_buf(), key, file, key_from_env });
        }
        let text =
            std::fs::read(&path).map_err(|e| Problem::new(format!("cannot read the vault {}: {e}", path.display())))?;
        let file: VaultFile = serde_json::from_slice(&text).map_err(|e| {
            Problem::new(format!("the vault {} is damaged: {e}", path.display())).hint("restore it from a backup")
        })?;
        let mut vault = Vault { path, config_dir: config_dir.to_path_buf(), key, file, key_from_env };
        if !vault.key_opens() {
            vault.finish_rotation()?;
        } else {
            let _ = std::fs::remove_file(next_key_file(config_dir));
        }
        Ok(vault)
    }

    fn key_opens(&self) -> bool {
        open(&self.key, KEY_CHECK_NAME, &self.file.key_check).is_some_and(|v| v.as_slice() == KEY_CHECK)
    }

    /// The vault does not open with the current key: if an interrupted
    /// rotation left the new key beside the old one, finish it.
    fn finish_rotation(&mut self) -> Result<(), Problem> {
        let next = next_key_file(&self.config_dir);
        if !self.key_from_env
            && let Ok(text) = std::fs::read_to_string(&next)
        {
            let text = Zeroizing::new(text);
            let candidate = MasterKey::parse(&text, next.display().to_string())?;
            if open(&candidate, KEY_CHECK_NAME, &self.file.key_check).is_some() {
                std::fs::rename(&next, key_file(&self.config_dir))
                    .map_err(|e| Problem::new(format!("cannot finish the interrupted key rotation: {e}")))?;
                let mut candidate = candidate;
                candidate.source = key_file(&self.config_dir).display().to_string();
                self.key = candidate;
                return Ok(());
            }
        }
        Err(Problem::new(format!(
            "the master key from {} does not open the vault {}",
            self.key.source,
            self.path.display()
        ))
        .hint(format!("use the key the vault was created with ({KEY_ENV} or the key file)")))
    }

    /// Names and metadata, sorted by name.
    pub fn list(&self) -> Vec<(String, SecretInfo)> {
        self.file.secrets.iter().map(|(n, s)| (n.clone(), s.info.clone())).collect()
    }

    /// Whether a secret exists.
    pub fn contains(&self, name: &str) -> bool {
        self.file.secrets.contains_key(name)
    }

    /// Decrypt one value.
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming the secret (never its value) when it is missing
    /// or does not decrypt under its name.
    pub fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Problem> {
        let sealed = self.file.secrets.get(name).ok_or_else(|| {
            Problem::new(format!("the vault has no secret named `{name}`"))
                .hint(format!("set it with `claw secret set {name}` (the value is read from stdin)"))
        })?;
        open(&self.key, name, sealed).ok_or_else(|| {
            Problem::new(format!(
                "the secret `{name}` does not decrypt: its ciphertext was altered or moved from another name"
            ))
            .hint(format!("set it again with `claw secret set {name}`"))
        })
    }

    /// Every (name, value), for building the leak detector.
    ///
    /// # Errors
    ///
    /// As [`Vault::get`].
    pub fn values(&self) -> Result<Vec<(String, Secret)>, Problem> {
        self.file.secrets.keys().map(|n| Ok((n.clone(), self.get(n)?))).collect()
    }

    /// Set (create or replace) a secret and save.
    ///
    /// # Errors
    ///
    /// A [`Problem`] for a bad name, an empty value, or a failed write.
    pub fn set(&mut self, name: &str, value: &[u8]) -> Result<(), Problem> {
        if !crate::grant::valid_name(name) {
            return Err(
                Problem::new(format!("`{name}` is not a valid secret name")).hint("use letters, digits, `-` and `_`")
            );
        }
        if value.is_empty() {
            return Err(Problem::new(format!("the value for `{name}` is empty"))
                .hint("pipe the value on stdin, e.g. `printf %s \"$TOKEN\" | claw secret set NAME`"));
        }
        let now = now_ms();
        let info = match self.file.secrets.get(name) {
            Some(old) => SecretInfo { updated_ms: now, ..old.info.clone() },
            None => SecretInfo { created_ms: now, updated_ms: now },
        };
        let sealed = seal(&self.key, name, value, info);
        self.file.secrets.insert(name.to_string(), sealed);
        self.save()
    }

    /// Remove a secret and save; false when it did not exist.
    ///
    /// # Errors
    ///
    /// A [`Problem`] for a failed write.
    pub fn remove(&mut self, name: &str) -> Result<bool, Problem> {
        let existed = self.file.secrets.remove(name).is_some();
        if existed {
            self.save()?;
        }
        Ok(existed)
    }

    /// Re-encrypt everything under `new_key`. With the key file, the new key
    /// is written beside the old one first, then the vault, then the key
    /// file is replaced: a crash at any point loses nothing (the next open
    /// finishes or ignores the rotation).
    ///
    /// # Errors
    ///
    /// A [`Problem`] when a value does not decrypt or a write fails; the
    /// vault is then unchanged.
    pub fn rotate(&mut self, new_key: MasterKey) -> Result<(), Problem> {
        let mut next = VaultFile {
            version: 1,
            key_check: seal(&new_key, KEY_CHECK_NAME, KEY_CHECK, info_now()),
            secrets: BTreeMap::new(),
        };
        for (name, sealed) in &self.file.secrets {
            let value = open(&self.key, name, sealed).ok_or_else(|| {
                Problem::new(format!("the secret `{name}` does not decrypt; rotation stopped, nothing changed"))
            })?;
            next.secrets.insert(name.clone(), seal(&new_key, name, &value, sealed.info.clone()));
        }
        let using_file = !self.key_from_env;
        let next_path = next_key_file(&self.config_dir);
        if using_file {
            write_private(&next_path, new_key.to_base64().as_bytes())
                .map_err(|e| Problem::new(format!("cannot write the new key: {e}; nothing changed")))?;
        }
        let old = std::mem::replace(&mut self.file, next);
        if let Err(e) = self.save() {
            self.file = old;
            let _ = std::fs::remove_file(&next_path);
            return Err(e);
        }
        if using_file {
            std::fs::rename(&next_path, key_file(&self.config_dir)).map_err(|e| {
                Problem::new(format!("the vault is re-encrypted but the key file was not replaced: {e}"))
                    .hint("the next claw command finishes the rotation")
            })?;
        }
        self.key = new_key;
        Ok(())
    }

    fn save(&self) -> Result<(), Problem> {
        let bytes =
            serde_json::to_vec_pretty(&self.file).map_err(|e| Problem::new(format!("encoding the vault: {e}")))?;
        write_private(&self.path, &bytes)
            .map_err(|e| Problem::new(format!("cannot write the vault {}: {e}", self.path.display())))
    }
}

fn info_now() -> SecretInfo {
    let now = now_ms();
    SecretInfo { created_ms: now, updated_ms: now }
}

fn next_key_file(config_dir: &Path) -> PathBuf {
    config_dir.join("master.key.next")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("config");
        let data = d.path().join("data");
        (d, c, data)
    }

    #[test]
    fn set_get_list_remove() {
        let (_d, c, data) = dirs();
        let mut v = Vault::open_with(&c, &data, true, &KeySource::key_file_only()).unwrap();
        v.set("gh", b"ghp_value").unwrap();
        let v = Vault::open_with(&c, &data, false, &KeySource::key_file_only()).unwrap();
        assert_eq!(v.get("gh").unwrap().as_slice(), b"ghp_value");
        assert_eq!(v.list()[0].0, "gh");
        let raw = std::fs::read_to_string(Vault::path_in(&data)).unwrap();
        assert!(!raw.contains("ghp_value"), "the file holds ciphertext only");
        let mut v = v;
        assert!(v.remove("gh").unwrap());
        assert!(v.get("gh").unwrap_err().to_string().contains("no secret named `gh`"));
    }

    #[test]
    fn a_ciphertext_moved_to_another_name_does_not_decrypt() {
        let (_d, c, data) = dirs();
        let mut v = Vault::open_with(&c, &data, true, &KeySource::key_file_only()).unwrap();
        v.set("a", b"value-a-123").unwrap();
        v.set("b", b"value-b-456").unwrap();
        let a = v.file.secrets["a"].clone();
        v.file.secrets.insert("b".into(), a);
        let e = v.get("b").unwrap_err().to_string();
        assert!(e.contains("does not decrypt") && !e.contains("value-a"), "{e}");
    }

    #[test]
    fn a_wrong_key_is_a_clear_error() {
        let (_d, c, data) = dirs();
        let mut v = Vault::open_with(&c, &data, true, &KeySource::key_file_only()).unwrap();
        v.set("a", b"value-a-123").unwrap();
        let other = MasterKey::generate("test".into());
        write_private(&key_file(&c), other.to_base64().as_bytes()).unwrap();
        let e = Vault::open_with(&c, &data, false, &KeySource::key_file_only()).unwrap_err();
        assert!(e.to_string().contains("does not open the vault"), "{e}");
    }

    #[test]
    fn rotation_keeps_every_value_and_survives_an_interruption() {
        let (_d, c, data) = dirs();
        let mut v = Vault::open_with(&c, &data, true, &KeySource::key_file_only()).unwrap();
        v.set("a", b"value-a-123").unwrap();
        v.rotate(MasterKey::generate("new".into())).unwrap();
        let v = Vault::open_with(&c, &data, false, &KeySource::key_file_only()).unwrap();
        assert_eq!(v.get("a").unwrap().as_slice(), b"value-a-123");

        // Simulate a crash after the vault was rewritten but before the key
        // file was replaced: the new key sits in master.key.next.
        let old_key = std::fs::read(key_file(&c)).unwrap();
        let mut v = v;
        let new_key = MasterKey::generate("new2".into());
        let new_b64 = new_key.to_base64().to_string();
        v.rotate(new_key).unwrap();
        std::fs::write(next_key_file(&c), &new_b64).unwrap();
        write_private(&key_file(&c), &old_key).unwrap();
        let v = Vault::open_with(&c, &data, false, &KeySource::key_file_only()).unwrap();
        assert_eq!(v.get("a").unwrap().as_slice(), b"value-a-123", "the next open finished the rotation");
        assert!(!next_key_file(&c).exists());
    }
}

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
use crate::home::Home;
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

    /// Open the vault of `home` with the key it names (its key file, or
    /// `CLAW_MASTER_KEY` when [`Home::from_env`] found it), creating an
    /// empty vault, and the key file, when `create` is set and none exists.
    ///
    /// # Errors
    ///
    /// A [`Problem`] for a missing or wrong master key or a damaged file.
    pub fn open(home: &Home, create: bool) -> Result<Vault, Problem> {
        Vault::open_with(&home.config, &home.data, create, home.key_source())
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
        opens(&self.key, &self.file)
    }

    /// The vault does not open with the current key: if an interrupted
    /// rotation left the new key beside the old one, finish it.
    fn finish_rotation(&mut self) -> Result<(), Problem> {
        let next = next_key_file(&self.config_dir);
        if !self.key_from_env
            && let Ok(text) = std::fs::read_to_string(&next)
        {
            let text = Zeroizing::new(text);
            // It becomes the key file, so it must be as private as one.
            key::check_private(&next)?;
            let mut candidate = MasterKey::parse(&text, next.display().to_string())?;
            if opens(&candidate, &self.file) {
                std::fs::rename(&next, key_file(&self.config_dir))
                    .map_err(|e| Problem::new(format!("cannot finish the interrupted key rotation: {e}")))?;
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
    /// finishes or ignores the rotation; see `Step`). With the key from
    /// `CLAW_MASTER_KEY` only the vault is rewritten, in one atomic step.
    ///
    /// # Errors
    ///
    /// A [`Problem`] when a value does not decrypt or a write fails; the
    /// vault is then unchanged, or (when only the key file's rename failed)
    /// re-encrypted and finished by the next open.
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
            // The vault must not be rewritten before the new key's name is
            // on disk: synced alone, the vault's rename could outlive a
            // power cut that the key's did not, and every value be lost.
            write_private(&next_path, new_key.to_base64().as_bytes())
                .and_then(|()| sync_dir(&self.config_dir))
                .map_err(|e| Problem::new(format!("cannot write the new key: {e}; nothing changed")))?;
            reached(Step::NextKeyWritten)?;
        }
        let old = std::mem::replace(&mut self.file, next);
        // Likewise the key file must not name the new key before the
        // vault that it opens is on disk.
        let saved = self.save().and_then(|()| {
            sync_dir(self.path.parent().unwrap_or(Path::new(".")))
                .map_err(|e| Problem::new(format!("cannot sync the vault {}: {e}", self.path.display())))
        });
        if let Err(e) = saved {
            self.file = old;
            let _ = std::fs::remove_file(&next_path);
            return Err(e);
        }
        // From here the vault is under the new key, whatever happens next.
        self.key = new_key;
        reached(Step::VaultRewritten)?;
        if using_file {
            let key_path = key_file(&self.config_dir);
            std::fs::rename(&next_path, &key_path).map_err(|e| {
                Problem::new(format!("the vault is re-encrypted but the key file was not replaced: {e}"))
                    .hint("the next claw command finishes the rotation")
            })?;
            self.key.source = key_path.display().to_string();
            reached(Step::KeyFileReplaced)?;
        }
        Ok(())
    }

    fn save(&self) -> Result<(), Problem> {
        let bytes =
            serde_json::to_vec_pretty(&self.file).map_err(|e| Problem::new(format!("encoding the vault: {e}")))?;
        write_private(&self.path, &bytes)
            .map_err(|e| Problem::new(format!("cannot write the vault {}: {e}", self.path.display())))
    }
}

/// Whether `key` opens `file` (its key check decrypts to the constant).
fn opens(key: &MasterKey, file: &VaultFile) -> bool {
    open(key, KEY_CHECK_NAME, &file.key_check).is_some_and(|v| v.as_slice() == KEY_CHECK)
}

/// Make the renames into `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// The durable steps of a key-file rotation, in order; each is one atomic
/// rename. The commit point is [`Step::VaultRewritten`]: before it the old
/// key is the key and the next open deletes the new one; from it on the
/// new key is, and the next open renames it over the key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// `master.key.next` holds the new key; the vault and key file are old.
    NextKeyWritten,
    /// The vault is under the new key; the key file still holds the old one.
    VaultRewritten,
    /// The key file holds the new key: the rotation is complete.
    KeyFileReplaced,
}

#[cfg(test)]
thread_local! {
    /// The step after which [`Vault::rotate`] stops as if the process had
    /// died there (no clean-up runs).
    static CRASH_AFTER: std::cell::Cell<Option<Step>> = const { std::cell::Cell::new(None) };
}

/// A rotation reached `step`; under test it may crash there.
fn reached(step: Step) -> Result<(), Problem> {
    #[cfg(test)]
    if CRASH_AFTER.get() == Some(step) {
        return Err(Problem::new(format!("simulated crash after {step:?}")));
    }
    let _ = step;
    Ok(())
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
        assert!(v.get("gh").unwrap().as_slice() == b"ghp_value", "secret `gh` reads back");
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

    const VALUES: [(&str, &[u8]); 2] = [("a", b"value-a-123"), ("b", b"value-b-456")];

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Every value reads back; a failure names the secret, never its value.
    fn assert_values(v: &Vault, when: &str) {
        for (name, value) in VALUES {
            let got = v.get(name).unwrap_or_else(|e| panic!("{when}: {e}"));
            assert!(got.as_slice() == value, "{when}: secret `{name}` reads back as another value");
        }
    }

    /// With `key` in the key file, the vault does not open.
    fn assert_refused(c: &Path, data: &Path, key: &[u8], when: &str) {
        write_private(&key_file(c), key).unwrap();
        let e = Vault::open_with(c, data, false, &KeySource::key_file_only()).unwrap_err().to_string();
        assert!(e.contains("does not open the vault"), "{when}: {e}");
    }

    /// Rotate, crashing after `step` (or not at all).
    fn rotate_crashing(v: &mut Vault, new_key: MasterKey, step: Option<Step>) -> Result<(), Problem> {
        CRASH_AFTER.set(step);
        let r = v.rotate(new_key);
        CRASH_AFTER.set(None);
        r
    }

    #[test]
    fn a_completed_rotation_changes_the_key_and_the_old_key_no_longer_opens() {
        let (_d, c, data) = dirs();
        let mut v = Vault::open_with(&c, &data, true, &KeySource::key_file_only()).unwrap();
        for (name, value) in VALUES {
            v.set(name, value).unwrap();
        }
        let old_key = std::fs::read(key_file(&c)).unwrap();
        v.rotate(MasterKey::generate("new".into())).unwrap();
        assert_values(&v, "the rotated vault in memory");
        let new_key = std::fs::read(key_file(&c)).unwrap();
        assert!(new_key != old_key, "the key file holds another key");
        assert_eq!(mode(&key_file(&c)), 0o600, "the new key file is private");
        assert!(!next_key_file(&c).exists(), "no key is left beside the key file");
        for open in ["the first open", "a second open"] {
            let v = Vault::open_with(&c, &data, false, &KeySource::key_file_only()).unwrap();
            assert_values(&v, open);
        }
        assert_refused(&c, &data, &old_key, "the old key");
    }

    /// A crash after each step of a key-file rotation, then the next open:
    /// before the commit point (`Step::VaultRewritten`) the rotation is
    /// undone and the old key stays; from it on the rotation is finished
    /// and the new key replaces the old. Either way nothing is lost, the
    /// key file is 0600, nothing is left beside it, and the key that lost
    /// no longer opens the vault.
    #[test]
    fn a_rotation_that_crashed_after_any_step_is_undone_or_finished_on_the_next_open() {
        for step in [Step::NextKeyWritten, Step::VaultRewritten, Step::KeyFileReplaced] {
            let (_d, c, data) = dirs();
            let mut v = Vault::open_with(&c, &data, true, &KeySource::key_file_only()).unwrap();
            for (name, value) in VALUES {
                v.set(name, value).unwrap();
            }
            let old_key = std::fs::read(key_file(&c)).unwrap();
            let new_key = MasterKey::generate("new".into());
            let new_b64 = new_key.to_base64();
            let e = rotate_crashing(&mut v, new_key, Some(step)).unwrap_err();
            assert!(e.to_string().contains("simulated crash"), "{step:?}: {e}");
            drop(v);

            // The crash left the state that step promises.
            let on_disk = std::fs::read(key_file(&c)).unwrap();
            let next_left = next_key_file(&c).exists();
            match step {
                Step::NextKeyWritten | Step::VaultRewritten => {
                    assert!(on_disk == old_key && next_left, "{step:?}: the old key file, the new key beside it");
                    assert_eq!(mode(&next_key_file(&c)), 0o600, "{step:?}: the new key is private beside it");
                }
                Step::KeyFileReplaced => {
                    assert!(on_disk == new_b64.as_bytes() && !next_left, "{step:?}: the new key file alone");
                }
            }

            let v = Vault::open_with(&c, &data, false, &KeySource::key_file_only()).unwrap();
            assert_values(&v, &format!("{step:?}: the open after the crash"));
            let kept = std::fs::read(key_file(&c)).unwrap();
            let (winner, loser): (&[u8], &[u8]) = if step < Step::VaultRewritten {
                (&old_key, new_b64.as_bytes())
            } else {
                (new_b64.as_bytes(), &old_key)
            };
            assert!(
                kept == winner,
                "{step:?}: the key file holds the {} key",
                if step < Step::VaultRewritten { "old" } else { "new" }
            );
            assert_eq!(mode(&key_file(&c)), 0o600, "{step:?}: the key file is private");
            assert!(!next_key_file(&c).exists(), "{step:?}: no key is left beside the key file");
            drop(v);
            let v = Vault::open_with(&c, &data, false, &KeySource::key_file_only()).unwrap();
            assert_values(&v, &format!("{step:?}: a second open"));
            assert_eq!(mode(&key_file(&c)), 0o600, "{step:?}: the key file is private after a second open");
            drop(v);
            assert_refused(&c, &data, loser, &format!("{step:?}: the key the rotation moved away from"));
        }
    }

    #[test]
    fn an_interrupted_rotation_is_not_finished_with_a_key_others_can_read() {
        let (_d, c, data) = dirs();
        let mut v = Vault::open_with(&c, &data, true, &KeySource::key_file_only()).unwrap();
        for (name, value) in VALUES {
            v.set(name, value).unwrap();
        }
        let old_key = std::fs::read(key_file(&c)).unwrap();
        rotate_crashing(&mut v, MasterKey::generate("new".into()), Some(Step::VaultRewritten)).unwrap_err();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(next_key_file(&c), std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Vault::open_with(&c, &data, false, &KeySource::key_file_only()).unwrap_err();
        assert!(e.to_string().contains("master.key.next is readable by others (mode 644)"), "{e}");
        assert!(e.hint_text().is_some_and(|h| h.starts_with("chmod 600 ")), "{e}");
        assert!(std::fs::read(key_file(&c)).unwrap() == old_key, "the key file is untouched");
        std::fs::set_permissions(next_key_file(&c), std::fs::Permissions::from_mode(0o600)).unwrap();
        let v = Vault::open_with(&c, &data, false, &KeySource::key_file_only()).unwrap();
        assert_values(&v, "the open after the chmod");
        assert_eq!(mode(&key_file(&c)), 0o600);
    }
}

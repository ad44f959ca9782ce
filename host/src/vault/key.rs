//! The master key: from `CLAW_MASTER_KEY`, or a key file (0600) that the
//! first `claw secret set` creates. Never printed, never logged.

use crate::problem::Problem;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// AES-256-SIV takes a 64-byte key.
pub const KEY_LEN: usize = 64;

/// The environment variable that overrides the key file.
pub const KEY_ENV: &str = "CLAW_MASTER_KEY";

/// The vault's master key (zeroized on drop).
pub struct MasterKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    /// Where it came from, for messages (never the key itself).
    pub source: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("source", &self.source).finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A fresh random key.
    pub fn generate(source: String) -> MasterKey {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(bytes.as_mut()).expect("the OS random source is available");
        MasterKey { bytes, source }
    }

    /// The key bytes.
    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Parse base64 (or hex) of 64 bytes.
    ///
    /// # Errors
    ///
    /// A [`Problem`] that says what shape is expected (never echoing the input).
    pub fn parse(text: &str, source: String) -> Result<MasterKey, Problem> {
        let text = text.trim();
        let decoded = Zeroizing::new(if text.len() == KEY_LEN * 2 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).unwrap_or_default()
        } else {
            STANDARD.decode(text).unwrap_or_default()
        });
        if decoded.len() != KEY_LEN {
            return Err(Problem::new(format!("the master key from {source} is not {KEY_LEN} bytes of base64 or hex"))
                .hint("generate one with `head -c 64 /dev/urandom | base64 -w0`, or unset it to use the key file"));
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&decoded);
        Ok(MasterKey { bytes, source })
    }

    /// Encode as base64 (for writing the key file).
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.bytes.as_ref()))
    }
}

/// The key file's path.
pub fn key_file(config_dir: &Path) -> PathBuf {
    config_dir.join("master.key")
}

/// Refuse a key file that others can read: its key may have leaked, and
/// the person should know before claw uses it.
///
/// # Errors
///
/// A [`Problem`] naming the file and its mode, with the `chmod` that fixes it.
pub(super) fn check_private(path: &Path) -> Result<(), Problem> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
    if mode & 0o077 != 0 {
        return Err(Problem::new(format!("the key file {} is readable by others (mode {mode:o})", path.display()))
            .hint(format!("chmod 600 {}", path.display())));
    }
    Ok(())
}

/// Where the master key may come from: `CLAW_MASTER_KEY`, read once at
/// the edge (so a test, or a developer's shell, decides explicitly), else
/// the key file.
#[derive(Clone, Default)]
pub struct KeySource {
    env: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySource").field("from_env", &self.env.is_some()).finish()
    }
}

impl KeySource {
    /// `CLAW_MASTER_KEY` if set, else the key file. Read by
    /// [`crate::home::Home::from_env`] only, the CLI's edge.
    pub fn from_env() -> KeySource {
        KeySource { env: std::env::var(KEY_ENV).ok().map(Zeroizing::new) }
    }

    /// The key file only, whatever the environment says.
    pub fn key_file_only() -> KeySource {
        KeySource { env: None }
    }

    /// Whether the key comes from the environment.
    pub fn is_env(&self) -> bool {
        self.env.is_some()
    }
}

/// Load the master key: from the environment when `source` has it, else
/// the key file; when neither exists and `create` is set, create the key
/// file (0600).
///
/// # Errors
///
/// A [`Problem`] when the key is malformed, the file is readable by others,
/// or there is no key and `create` is false.
pub fn load(config_dir: &Path, create: bool, source: &KeySource) -> Result<MasterKey, Problem> {
    if let Some(text) = &source.env {
        return MasterKey::parse(text, KEY_ENV.to_string());
    }
    let path = key_file(config_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            check_private(&path)?;
            MasterKey::parse(&text, path.display().to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let key = MasterKey::generate(path.display().to_string());
            crate::engine::write_private(&path, key.to_base64().as_bytes())
                .map_err(|e| Problem::new(format!("cannot write the key file {}: {e}", path.display())))?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Problem::new("no master key: the vault cannot be opened")
                .hint(format!("set {KEY_ENV}, or restore the key file {}", path.display())))
        }
        Err(e) => Err(Problem::new(format!("cannot read the key file {}: {e}", path.display()))),
    }
}

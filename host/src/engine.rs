//! The wasmtime engine: pooling allocator, epoch deadlines, and compiled
//! components cached on disk by the sha256 of their bytes.
//!
//! The cache key also carries the engine's compatibility hash, so an
//! upgraded claw (or different settings) never loads an artifact it did not
//! compile: it compiles afresh next to the old one.

use crate::components::Digest;
use anyhow::{Context as _, Result};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The most memory any grant may give one instance.
pub const MAX_MEMORY_BYTES: usize = 4 << 30;

/// Bytes of each pooled memory reset with memset (kept resident) rather
/// than released with madvise between instances. Released memory costs a
/// TLB shootdown per instance, an IPI to every core the process runs on:
/// with calls on two worker threads, `perf` showed those IPIs as the top
/// cost and two threads ran *fewer* calls than one (0.81×). Kept resident,
/// two threads run 1.9× one; a single call pays the memset (34 → 40 µs on
/// this VM). A server scales with its cores this way; see docs/BENCHMARKS.md.
const KEEP_RESIDENT: usize = 2 << 20;

/// How many instances may be alive at once (the pool's size).
pub const POOL_INSTANCES: u32 = 256;

/// The wasmtime engine with its compile cache and epoch ticker.
#[derive(Clone)]
pub struct Engine {
    inner: wasmtime::Engine,
    cache_dir: PathBuf,
    /// Keys the MAC that binds each artifact to the digest it was compiled
    /// from (0600 file beside the cache).
    key: Arc<zeroize::Zeroizing<[u8; 32]>>,
    pooling: bool,
    _ticker: Arc<Ticker>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("cache_dir", &self.cache_dir).field("pooling", &self.pooling).finish()
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The wasmtime configuration claw's engine uses (pooling): public so the
/// benchmark can measure raw wasmtime under the same settings.
pub fn wasmtime_config() -> Config {
    config(true)
}

fn config(pooling: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 8)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
            .total_stacks(POOL_INSTANCES)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .max_core_instances_per_component(32)
            .max_memory_size(MAX_MEMORY_BYTES)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(64 << 10)
            .async_stack_keep_resident(64 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

impl Engine {
    /// An engine whose compiled components are cached under `cache_dir`.
    ///
    /// Uses the pooling allocator; where the machine refuses its virtual
    /// memory reservation, falls back to on-demand allocation with a warning.
    ///
    /// # Errors
    ///
    /// When wasmtime cannot create an engine at all.
    pub fn new(cache_dir: &Path) -> Result<Engine> {
        let (inner, pooling) = match wasmtime::Engine::new(&config(true)) {
            Ok(engine) => (engine, true),
            Err(e) => {
                tracing::warn!("pooling allocator unavailable ({e:#}); using on-demand allocation");
                (wasmtime::Engine::new(&config(false)).map_err(anyhow::Error::from)?, false)
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let ticker_engine = inner.weak();
        let ticker_stop = stop.clone();
        std::thread::Builder::new()
            .name("claw-epoch".into())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match ticker_engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .context("starting the epoch ticker thread")?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        inner.precompile_compatibility_hash().hash(&mut h);
        let key = Arc::new(cache_key(&cache_dir.join("artifact.key")));
        let cache_dir = cache_dir.join(format!("{:016x}", h.finish()));
        Ok(Engine { inner, cache_dir, key, pooling, _ticker: Arc::new(Ticker { stop }) })
    }

    /// The wasmtime engine.
    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner
    }

    /// Whether instances come from the pooling allocator.
    pub fn is_pooling(&self) -> bool {
        self.pooling
    }

    fn artifact(&self, digest: &Digest) -> PathBuf {
        self.cache_dir.join(format!("{}.cwasm", digest.hex()))
    }

    /// Whether `digest` has a compiled artifact in the cache.
    pub fn is_cached(&self, digest: &Digest) -> bool {
        self.artifact(digest).is_file()
    }

    /// The compiled component for `bytes` (whose digest is `digest`): from
    /// the cache when present, else compiled (calling `on_compile` first, so
    /// the caller can show progress) and written to the cache.
    ///
    /// # Errors
    ///
    /// When `bytes` is not a valid component, or the cache cannot be written.
    pub fn load(&self, bytes: &[u8], digest: &Digest, on_compile: impl FnOnce()) -> Result<Component> {
        let path = self.artifact(digest);
        if path.is_file() {
            match self.deserialize(&path, digest) {
                Ok(c) => return Ok(c),
                // A damaged or foreign artifact is not fatal: recompile over it.
                Err(e) => tracing::warn!("ignoring cached artifact {}: {e:#}", path.display()),
            }
        }
        on_compile();
        let component = Component::new(&self.inner, bytes).map_err(anyhow::Error::from)?;
        let serialized = component.serialize().map_err(anyhow::Error::from)?;
        let sealed = seal(&self.key, digest, &serialized);
        write_private(&path, &sealed).with_context(|| format!("writing the compile cache {}", path.display()))?;
        Ok(component)
    }

    /// Load a cached artifact by digest alone (no source bytes needed).
    ///
    /// # Errors
    ///
    /// When it is not cached or cannot be loaded.
    pub fn load_cached(&self, digest: &Digest) -> Result<Component> {
        self.deserialize(&self.artifact(digest), digest)
    }

    #[allow(unsafe_code)]
    fn deserialize(&self, path: &Path, digest: &Digest) -> Result<Component> {
        let sealed = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        // Checked before wasmtime sees a byte: deserializing runs native
        // code, so an artifact of another component (or a forged one)
        // stored under this digest must never get that far.
        let body = open_sealed(&self.key, digest, &sealed)
            .with_context(|| format!("{} is not this home's compilation of {digest}", path.display()))?;
        // SAFETY: wasmtime requires bytes it produced. The MAC proves this
        // home's engine wrote them for exactly this digest (the key is a
        // 0600 file beside the 0700 cache), and wasmtime checks its own
        // compatibility header again.
        unsafe { Component::deserialize(&self.inner, body) }.map_err(anyhow::Error::from)
    }
}

/// The first bytes of a sealed artifact.
const MAGIC: &[u8; 8] = b"CLAWART1";

/// The artifact's cache key: read, or created (0600) on first use; an
/// unwritable cache gets a key for this process only.
fn cache_key(path: &Path) -> zeroize::Zeroizing<[u8; 32]> {
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    if let Ok(bytes) = std::fs::read(path)
        && bytes.len() == 32
    {
        key.copy_from_slice(&bytes);
        return key;
    }
    let _ = getrandom::fill(&mut key[..]);
    if let Err(e) = write_private(path, &key[..]) {
        tracing::warn!("cannot write {}: {e}; compiled components are cached for this process only", path.display());
    }
    key
}

fn mac(key: &[u8; 32], digest: &Digest, body: &[u8]) -> [u8; 32] {
    use hmac::Mac as _;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    m.update(digest.hex().as_bytes());
    m.update(body);
    m.finalize().into_bytes().into()
}

/// `MAGIC`, the MAC of (digest, body), then the body.
fn seal(key: &[u8; 32], digest: &Digest, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 32 + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&mac(key, digest, body));
    out.extend_from_slice(body);
    out
}

/// The body of a sealed artifact for `digest`, or why it is refused.
fn open_sealed<'a>(key: &[u8; 32], digest: &Digest, sealed: &'a [u8]) -> Result<&'a [u8]> {
    let header = MAGIC.len() + 32;
    anyhow::ensure!(sealed.len() > header && sealed.starts_with(MAGIC), "not a sealed artifact");
    let (tag, body) = sealed[MAGIC.len()..].split_at(32);
    let want = mac(key, digest, body);
    // Constant time: the tag is a secret's output.
    let same = tag.iter().zip(want.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    anyhow::ensure!(same, "its seal does not match (compiled from other bytes, or altered)");
    Ok(body)
}

/// Write `bytes` to `path` atomically (temp file + rename), readable only
/// by the owner, creating parent directories (0700).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_binds_the_body_to_its_digest_and_key() {
        let key = [7u8; 32];
        let a = Digest::of(b"component a");
        let b = Digest::of(b"component b");
        let sealed = seal(&key, &a, b"native code");
        assert_eq!(open_sealed(&key, &a, &sealed).unwrap(), b"native code");
        assert!(open_sealed(&key, &b, &sealed).is_err(), "another digest");
        assert!(open_sealed(&[8u8; 32], &a, &sealed).is_err(), "another key");
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(open_sealed(&key, &a, &altered).is_err(), "one bit changed");
        assert!(open_sealed(&key, &a, b"CLAWART1").is_err(), "too short");
    }
}

//! The sandbox every component gets: WASI with no authority behind it
//! (no arguments, no files, no sockets; clocks and randomness only), plus
//! the memory limit of its grant and the environment its `[env]` names
//! (configuration only: the grant refuses a secret there).
//!
//! stderr is kept (capped) so that a trap can say what the guest printed,
//! typically its panic message. stdout goes nowhere, except for a channel
//! whose grant says `[terminal] output = true` (the REPL): its stdout is the
//! operator's terminal — collected during the call and printed after it
//! with terminal control sequences removed.

use super::CallState;
use wasmtime::ResourceLimiter;
use wasmtime::component::Linker;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// How much of a guest's stderr is kept for error messages.
const STDERR_CAP: usize = 4096;

/// How much a terminal channel may print in one call.
const TERMINAL_CAP: usize = 1 << 20;

/// The largest header map (`wasi:http` fields) a component may build; with
/// the resource table's cap this bounds what it can make the host hold.
pub const FIELDS_BYTES: usize = 32 << 10;

/// Link the WASI basics.
///
/// # Errors
///
/// When wasmtime refuses a definition.
pub fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)
}

/// The sandbox as a grant configures it.
#[derive(Debug, Clone)]
pub struct Config {
    memory_limit: usize,
    terminal_output: bool,
    env: std::sync::Arc<[(String, String)]>,
}

impl Config {
    /// Read the memory limit, terminal and environment of the grant.
    pub fn from_grant(grant: &crate::grant::Grant) -> Config {
        Config {
            memory_limit: grant.limits.memory_bytes,
            terminal_output: grant.terminal_output,
            env: crate::grant::env::pairs(&grant.env).into(),
        }
    }

    /// How many host-side resources one instance may hold at once: its
    /// memory limit in header maps of the largest size (at least 256).
    pub fn max_resources(&self) -> usize {
        (self.memory_limit / FIELDS_BYTES).max(256)
    }
}

/// One instance's sandbox.
pub struct Instance {
    pub(super) wasi: WasiCtx,
    stderr: MemoryOutputPipe,
    terminal: Option<MemoryOutputPipe>,
    /// Enforces and records the memory limit.
    pub limiter: MemoryLimiter,
}

impl Instance {
    pub(super) fn prepare(config: &Config) -> Instance {
        let stderr = MemoryOutputPipe::new(STDERR_CAP);
        let mut builder = WasiCtxBuilder::new();
        builder.stderr(stderr.clone());
        builder.envs(&config.env);
        let terminal = config.terminal_output.then(|| MemoryOutputPipe::new(TERMINAL_CAP));
        if let Some(t) = &terminal {
            builder.stdout(t.clone());
        }
        let wasi = builder.build();
        Instance { wasi, stderr, terminal, limiter: MemoryLimiter { limit: config.memory_limit, hit: false } }
    }

    /// Print what a terminal channel wrote, made safe for the terminal.
    pub fn flush_terminal(&self) {
        use std::io::Write as _;
        let Some(t) = &self.terminal else { return };
        let bytes = t.contents();
        if bytes.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&bytes);
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(crate::terminal::clean(&text).as_bytes());
        let _ = out.flush();
    }

    /// What the guest wrote to stderr (at most 4 KiB), trimmed.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).trim().to_string()
    }
}

/// A memory limit that remembers being hit, so the error can say so.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit: usize,
    /// Whether a growth was refused.
    pub hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

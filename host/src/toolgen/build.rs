//! Building a generated tool: the template's manifest around the LLM's
//! files, then `cargo build --offline` for wasm32-wasip2 with a cleared
//! environment (no tokens, no proxies, no `RUSTFLAGS` from the operator's
//! shell), in a directory of its own, under a timeout that kills the whole
//! build (cargo and every rustc it started). The code it builds runs only
//! in the sandbox; building it runs nothing of the LLM's (no build script,
//! no proc-macro crate outside the SDK's allowlisted dependencies).

use super::GeneratedSource;
use crate::problem::Problem;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The manifest every generated tool gets: the SDK is its one dependency.
const MANIFEST: &str = include_str!("../../../templates/tool/Cargo.toml.tmpl");

/// How much of the compiler's complaint goes back to the LLM.
const MAX_ERRORS: usize = 8 << 10;

/// Where and how generated tools are built.
#[derive(Debug, Clone)]
pub struct Builder {
    /// The `claw-sdk` crate (the one claw carries, or `CLAW_SDK_PATH`).
    pub sdk: PathBuf,
    /// cargo's target dir, kept between builds so the SDK's dependencies
    /// compile once.
    pub target_dir: PathBuf,
    /// How long one build may take.
    pub timeout: Duration,
}

/// What a build came to.
#[derive(Debug)]
pub enum Outcome {
    /// It built: the component's bytes.
    Built {
        /// The `.wasm` component.
        wasm: Vec<u8>,
        /// How long cargo took.
        took: Duration,
    },
    /// The compiler refused it: its errors, short form, bounded (for the
    /// LLM's next round and for the operator).
    Failed {
        /// The errors.
        errors: String,
    },
    /// It ran past the timeout and was killed.
    TimedOut,
}

/// A line of cargo's progress (`Locking 41 packages`, `Compiling x`), not
/// the compiler's complaint: left out of what the LLM and the operator read.
fn is_status(line: &str) -> bool {
    const VERBS: &[&str] =
        &["Locking", "Adding", "Updating", "Compiling", "Checking", "Finished", "Blocking", "Building", "Fresh"];
    let first = line.split_whitespace().next().unwrap_or_default();
    line.starts_with(' ') && VERBS.contains(&first)
}

/// The crate name of the tool `name` (`-` becomes `_`).
fn crate_name(name: &str) -> String {
    name.replace('-', "_")
}

impl Builder {
    /// Write the project for `name` into `dir` (which must not exist yet).
    ///
    /// # Errors
    ///
    /// When `dir` exists or cannot be written.
    pub fn write_project(&self, dir: &Path, name: &str, source: &GeneratedSource) -> Result<(), Problem> {
        if dir.exists() {
            return Err(Problem::new(format!(
                "{} exists already: a generated tool gets a fresh directory",
                dir.display()
            )));
        }
        let manifest = MANIFEST.replace("{{name}}", name).replace("{{sdk_path}}", &self.sdk.display().to_string());
        let write = |path: &Path, text: &str| {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Problem::new(format!("cannot create {}: {e}", parent.display())))?;
            }
            std::fs::write(path, text).map_err(|e| Problem::new(format!("cannot write {}: {e}", path.display())))
        };
        write(&dir.join("Cargo.toml"), &manifest)?;
        for (path, text) in &source.files {
            write(&dir.join(path), text)?;
        }
        Ok(())
    }

    /// Build the project in `dir` for the tool `name`.
    ///
    /// # Errors
    ///
    /// When cargo cannot be started at all (not when the code fails to
    /// compile: that is [`Outcome::Failed`]).
    pub async fn build(&self, dir: &Path, name: &str) -> Result<Outcome, Problem> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = tokio::process::Command::new(&cargo);
        cmd.args(["build", "--offline", "--release", "--target", "wasm32-wasip2", "--message-format", "short"])
            .current_dir(dir)
            .env_clear()
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env("CARGO_TERM_COLOR", "never")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        // Only what finds the toolchain: no tokens, proxies or flags.
        for key in ["PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        let started = Instant::now();
        let child = cmd.spawn().map_err(|e| {
            Problem::new(format!("cannot start {}: {e}", Path::new(&cargo).display()))
                .hint("claw tool generate needs the Rust toolchain with the wasm32-wasip2 target: `rustup target add wasm32-wasip2`")
        })?;
        let group = child.id();
        let out = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(out) => out.map_err(|e| Problem::new(format!("the build of {name} broke off: {e}")))?,
            Err(_) => {
                // The child was dropped (killed); its rustc processes share its group.
                if let Some(pid) = group {
                    let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
                }
                return Ok(Outcome::TimedOut);
            }
        };
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr);
            let errors: String = text.lines().filter(|l| !is_status(l)).collect::<Vec<_>>().join("\n");
            let mut errors = errors.trim().to_string();
            if errors.len() > MAX_ERRORS {
                let cut = (0..=MAX_ERRORS).rev().find(|i| errors.is_char_boundary(*i)).unwrap_or(0);
                errors.truncate(cut);
                errors.push_str("\n…");
            }
            return Ok(Outcome::Failed { errors });
        }
        let wasm_path = self.target_dir.join(format!("wasm32-wasip2/release/{}.wasm", crate_name(name)));
        let wasm = std::fs::read(&wasm_path)
            .map_err(|e| Problem::new(format!("the build of {name} left no {}: {e}", wasm_path.display())))?;
        Ok(Outcome::Built { wasm, took: started.elapsed() })
    }
}

#[cfg(test)]
mod tests {
    use super::is_status;

    #[test]
    fn cargos_progress_is_not_the_compilers_complaint() {
        assert!(is_status("     Locking 41 packages to latest Rust 1.95.0 compatible versions"));
        assert!(is_status("   Compiling shout v0.1.0 (/tmp/x)"));
        assert!(!is_status("src/lib.rs:27:12: error[E0308]: mismatched types"));
        assert!(!is_status("error: could not compile `shout` (lib) due to 1 previous error"));
    }
}

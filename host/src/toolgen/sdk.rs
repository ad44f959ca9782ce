//! The SDK and WIT that travel inside the binary: `claw new` writes them
//! once per version into the home, so a project builds against the exact
//! SDK of the `claw` that made it, with no source checkout.
//! `CLAW_SDK_PATH` (a checkout's `sdk/`) overrides.

use crate::home::Home;
use crate::problem::Problem;
use anyhow::{Context as _, Result};
use sha2::Digest as _;
use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));
}

/// Where a project's SDK comes from.
#[derive(Debug)]
pub struct Sdk {
    /// The `claw-sdk` crate.
    pub sdk: PathBuf,
    /// The WIT package beside it.
    pub wit: PathBuf,
    /// How it was found, for the operator.
    pub origin: String,
}

/// The version and content hash naming this binary's SDK.
fn version() -> String {
    let mut h = sha2::Sha256::new();
    for (path, bytes) in embedded::FILES {
        h.update(path.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    format!("{}-{}", env!("CARGO_PKG_VERSION"), &hex::encode(h.finalize())[..12])
}

/// A file as the project sees it: the SDK's crates stand alone (outside
/// the checkout there is no guest workspace to belong to).
fn standalone(path: &str, bytes: &[u8]) -> Vec<u8> {
    if !path.ends_with("Cargo.toml") {
        return bytes.to_vec();
    }
    let text = String::from_utf8_lossy(bytes);
    let kept: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("workspace =")).collect();
    let mut out = kept.join("\n");
    out.push('\n');
    out.into_bytes()
}

/// The SDK a new project builds against: `CLAW_SDK_PATH`, else the one
/// embedded in this binary, written under the home's data directory.
///
/// # Errors
///
/// When `CLAW_SDK_PATH` names no SDK, or the home cannot be written.
pub fn locate(home: &Home) -> Result<Sdk> {
    if let Some(p) = std::env::var_os("CLAW_SDK_PATH").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(p);
        if !path.join("Cargo.toml").is_file() {
            return Err(Problem::new(format!("CLAW_SDK_PATH names {}, which holds no SDK", path.display()))
                .hint("point it at the sdk/ directory of a claw checkout, or unset it to use the SDK inside claw")
                .into());
        }
        let sdk = path.canonicalize().unwrap_or(path);
        let wit = sdk.join("../wit");
        let wit = wit.canonicalize().unwrap_or(wit);
        return Ok(Sdk { origin: format!("the SDK at {} (CLAW_SDK_PATH)", sdk.display()), sdk, wit });
    }
    let version = version();
    let root = home.data.join("sdk").join(&version);
    if !root.join("sdk/Cargo.toml").is_file() {
        write(&root)?;
    }
    Ok(Sdk {
        sdk: root.join("sdk"),
        wit: root.join("wit"),
        origin: format!("the SDK inside claw {version}, at {}", root.display()),
    })
}

/// Write every embedded file under `root`, whole or not at all: into a
/// temporary directory first, then renamed into place.
fn write(root: &Path) -> Result<()> {
    let parent = root.parent().context("the SDK directory has a parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = root.file_name().context("the SDK directory has a name")?.to_string_lossy();
    let staged = parent.join(format!(".{name}.{}.partial", std::process::id()));
    let _ = std::fs::remove_dir_all(&staged);
    for (path, bytes) in embedded::FILES {
        let target = staged.join(path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&target, standalone(path, bytes)).with_context(|| format!("writing {}", target.display()))?;
    }
    match std::fs::rename(&staged, root) {
        Ok(()) => Ok(()),
        // Another `claw new` wrote the same version first: theirs is as good.
        Err(_) if root.join("sdk/Cargo.toml").is_file() => {
            let _ = std::fs::remove_dir_all(&staged);
            Ok(())
        }
        Err(e) => Err(anyhow::Error::from(e).context(format!("moving the SDK into {}", root.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_sdk_is_whole_and_stands_alone() {
        let paths: Vec<&str> = embedded::FILES.iter().map(|(p, _)| *p).collect();
        for needed in ["sdk/Cargo.toml", "sdk/src/lib.rs", "sdk/client/Cargo.toml", "wit/worlds.wit"] {
            assert!(paths.contains(&needed), "{needed} is embedded: {paths:?}");
        }
        assert!(paths.iter().any(|p| p.starts_with("wit/deps/")), "the WASI deps travel too");
        assert!(!paths.iter().any(|p| p.contains("/target/")));
        let cargo = embedded::FILES.iter().find(|(p, _)| *p == "sdk/Cargo.toml").unwrap().1;
        assert!(String::from_utf8_lossy(cargo).contains("workspace ="), "the checkout's SDK is in the guest workspace");
        let alone = String::from_utf8(standalone("sdk/Cargo.toml", cargo)).unwrap();
        assert!(!alone.contains("workspace =") && alone.contains("name = \"claw-sdk\""), "{alone}");

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("sdk").join(version());
        write(&root).unwrap();
        assert!(root.join("sdk/src/lib.rs").is_file() && root.join("wit/worlds.wit").is_file());
        // A second writer finds it in place and leaves it.
        write(&root).unwrap();
        assert_eq!(std::fs::read_dir(dir.path().join("sdk")).unwrap().count(), 1, "no staging left behind");
    }
}

//! Generated tools waiting for the operator: `DATA/generated/NAME/`, each
//! with its component, the grant it asks for, its source and its review.
//! Written whole or not at all (staged, then renamed); nothing here runs
//! until `claw tool approve` installs it.

use super::{GeneratedSource, Review};
use crate::home::Home;
use crate::problem::Problem;
use std::path::{Path, PathBuf};

/// A waiting tool, as read back.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Its directory.
    pub dir: PathBuf,
    /// What the operator reads.
    pub review: Review,
}

impl Pending {
    /// The component's bytes.
    ///
    /// # Errors
    ///
    /// When the file is gone.
    pub fn wasm(&self) -> Result<Vec<u8>, Problem> {
        let path = self.dir.join("tool.wasm");
        std::fs::read(&path).map_err(|e| Problem::new(format!("cannot read {}: {e}", path.display())))
    }

    /// The grant it asks for.
    ///
    /// # Errors
    ///
    /// When the file is gone.
    pub fn grant(&self) -> Result<String, Problem> {
        let path = self.dir.join("grant.toml");
        std::fs::read_to_string(&path).map_err(|e| Problem::new(format!("cannot read {}: {e}", path.display())))
    }
}

/// The directory of waiting tools.
pub fn root(home: &Home) -> PathBuf {
    home.data.join("generated")
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Problem {
    Problem::new(format!("cannot {what} {}: {e}", path.display()))
}

/// Keep a generated tool for the operator, replacing an earlier one of
/// the same name.
///
/// # Errors
///
/// When the home cannot be written (nothing half-written is left).
pub fn save(
    home: &Home,
    review: &Review,
    wasm: &[u8],
    grant: &str,
    source: &GeneratedSource,
) -> Result<Pending, Problem> {
    let root = root(home);
    std::fs::create_dir_all(&root).map_err(|e| io("create", &root, e))?;
    let staged = root.join(format!(".{}.{}.partial", review.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&staged);
    let write = |rel: &str, bytes: &[u8]| {
        let path = staged.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| io("write", &path, e))
    };
    let json = serde_json::to_vec_pretty(review).map_err(|e| Problem::new(format!("cannot encode the review: {e}")))?;
    let written = write("review.json", &json)
        .and_then(|()| write("tool.wasm", wasm))
        .and_then(|()| write("grant.toml", grant.as_bytes()))
        .and_then(|()| source.files.iter().try_for_each(|(p, t)| write(p, t.as_bytes())));
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(e);
    }
    let dir = root.join(&review.name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staged, &dir).map_err(|e| io("move the generated tool into", &dir, e))?;
    Ok(Pending { dir, review: review.clone() })
}

/// The waiting tool `name`.
///
/// # Errors
///
/// When none waits under that name, with the names that do.
pub fn get(home: &Home, name: &str) -> Result<Pending, Problem> {
    if !crate::grant::valid_name(name) {
        return Err(Problem::new(format!("`{name}` is not a valid tool name")));
    }
    let dir = root(home).join(name);
    let path = dir.join("review.json");
    let Ok(text) = std::fs::read(&path) else {
        let waiting: Vec<String> = list(home).into_iter().map(|p| p.review.name).collect();
        return Err(Problem::new(format!("no generated tool `{name}` is waiting for approval")).hint(
            if waiting.is_empty() {
                "`claw tool generate \"DESCRIPTION\" --name NAME` makes one".to_string()
            } else {
                format!("waiting: {}", waiting.join(", "))
            },
        ));
    };
    let review = serde_json::from_slice(&text).map_err(|e| {
        Problem::new(format!("{} is damaged: {e}", path.display()))
            .hint(format!("`claw tool reject {name}` removes it; generate it again"))
    })?;
    Ok(Pending { dir, review })
}

/// Every waiting tool, by name.
pub fn list(home: &Home) -> Vec<Pending> {
    let Ok(entries) = std::fs::read_dir(root(home)) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names.iter().filter_map(|n| get(home, n).ok()).collect()
}

/// Remove the waiting tool `name`.
///
/// # Errors
///
/// When none waits under that name, or it cannot be removed.
pub fn remove(home: &Home, name: &str) -> Result<(), Problem> {
    let pending = get(home, name)?;
    std::fs::remove_dir_all(&pending.dir).map_err(|e| io("remove", &pending.dir, e))
}

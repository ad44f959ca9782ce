//! Embeds the SDK and the WIT in the binary, so `claw new` works from an
//! installed `claw` with no source checkout. The file list is generated,
//! so a file added to sdk/ or wit/ travels without a change here.

use std::path::{Path, PathBuf};

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("reading the SDK tree").flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            let rel = path.strip_prefix(root).expect("under the root").to_string_lossy().replace('\\', "/");
            out.push((rel, path.canonicalize().expect("a real path")));
        }
    }
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    // sqlx::migrate! embeds the migrations: a new file must rebuild the host.
    println!("cargo:rerun-if-changed=../migrations");
    for top in ["sdk", "wit"] {
        println!("cargo:rerun-if-changed=../{top}");
        walk(&repo, &repo.join(top), &mut files);
    }
    let mut code = String::from(
        "/// The SDK and WIT files: (path under the SDK root, contents).\npub const FILES: &[(&str, &[u8])] = &[\n",
    );
    for (rel, abs) in &files {
        code.push_str(&format!("    ({rel:?}, include_bytes!({:?})),\n", abs.display().to_string()));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("sdk_files.rs");
    std::fs::write(out, code).expect("writing the embedded file list");
}

//! Compiled components are cached on disk by digest: the second load is a
//! deserialize, not a compile.

use crate::common::{TestHome, guest, stderr};
use claw::components::Digest;

#[test]
fn the_second_add_of_the_same_bytes_does_not_compile() {
    let h = TestHome::new();
    let echo = guest("echo");
    let out = h.claw(&["component", "add", echo.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("compiling echo"), "first add compiles: {}", stderr(&out));
    let out = h.claw(&["component", "add", echo.to_str().unwrap(), "--name", "echo2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("compiling"), "second add loads from the cache: {}", stderr(&out));
}

#[test]
fn a_new_process_loads_from_the_cache_by_digest() {
    let h = TestHome::new();
    let bytes = std::fs::read(guest("echo")).unwrap();
    let digest = Digest::of(&bytes);
    let rt = h.runtime();
    assert!(!rt.engine().is_cached(&digest));
    drop(rt);
    let out = h.claw(&["component", "add", guest("echo").to_str().unwrap()]);
    assert!(out.status.success());
    let rt = h.runtime();
    assert!(rt.engine().is_cached(&digest));
    rt.engine().load_cached(&digest).expect("deserializes without the source");
}

#[test]
fn a_damaged_cache_entry_is_recompiled_not_trusted() {
    let h = TestHome::new();
    let out = h.claw(&["component", "add", guest("echo").to_str().unwrap()]);
    assert!(out.status.success());
    let cache = h.home.compile_cache();
    let artifact = walk(&cache).into_iter().find(|p| p.extension().is_some_and(|e| e == "cwasm")).unwrap();
    std::fs::write(&artifact, b"garbage").unwrap();
    let out = h.claw(&["tool", "call", "echo", r#"{"text":"ok"}"#]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn an_artifact_of_another_component_under_this_digest_is_never_loaded() {
    // A valid compilation of clock, stored where echo's artifact belongs:
    // deserializing it would run clock's native code as echo.
    let h = TestHome::new();
    for name in ["echo", "clock"] {
        assert!(h.claw(&["component", "add", guest(name).to_str().unwrap()]).status.success());
    }
    let echo = Digest::of(&std::fs::read(guest("echo")).unwrap());
    let clock = Digest::of(&std::fs::read(guest("clock")).unwrap());
    let files = walk(&h.home.compile_cache());
    let find = |d: &Digest| files.iter().find(|p| p.to_string_lossy().contains(d.hex())).unwrap().clone();
    std::fs::copy(find(&clock), find(&echo)).unwrap();
    let rt = h.runtime();
    let err = rt.engine().load_cached(&echo).expect_err("the swapped artifact is refused");
    assert!(format!("{err:#}").contains("seal does not match"), "{err:#}");
    drop(rt);
    // The host recompiles echo from its blob and echo answers as echo.
    let out = h.claw(&["tool", "call", "echo", r#"{"text":"still echo"}"#]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "still echo");
}

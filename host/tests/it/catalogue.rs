//! The first-party catalogue (registry/catalogue.toml): what this checkout
//! built is what the catalogue lists — so guest builds are reproducible
//! from any checkout path (CI builds in a fresh clone elsewhere) — and
//! `component add --first-party` installs only those bytes.

use crate::common::{TestHome, guest, ok, stderr, stdout};
use claw_registry::Catalogue;

#[test]
fn every_first_party_component_built_here_has_the_catalogues_digest() {
    let catalogue = Catalogue::builtin();
    let mut seen = 0;
    for (name, digest) in catalogue.entries() {
        let bytes = std::fs::read(guest(&name.replace('-', "_"))).unwrap();
        let built = claw::components::Digest::of(&bytes).to_string();
        assert_eq!(
            built, digest,
            "{name}: built {built}, the catalogue says {digest} (run `bash scripts/dev components` and commit registry/catalogue.toml)"
        );
        seen += 1;
    }
    assert!(seen >= 10, "the catalogue lists the first-party components ({seen})");
}

#[test]
fn first_party_installs_only_the_catalogues_bytes() {
    let h = TestHome::new();
    let echo = guest("echo");
    ok(&h.claw(&["component", "add", echo.to_str().unwrap(), "--first-party"]), "first-party echo");

    // The same component with one custom section more: valid, but not ours.
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(&echo).unwrap();
    bytes.extend_from_slice(&[0, 6, 5, b'e', b'x', b't', b'r', b'a']);
    let other = dir.path().join("echo.wasm");
    std::fs::write(&other, &bytes).unwrap();
    let out = h.claw(&["component", "add", other.to_str().unwrap(), "--name", "echo2", "--first-party"]);
    assert!(!out.status.success(), "other bytes refused");
    let e = stderr(&out);
    assert!(e.contains("not a first-party component"), "no first-party echo2: {e}");
    let out = h.claw(&["component", "add", other.to_str().unwrap(), "--name", "clock", "--first-party"]);
    assert!(stderr(&out).contains("are not the first-party clock's"), "{}", stderr(&out));
    assert!(stderr(&out).contains("hint: rebuild it from a claw checkout"), "{}", stderr(&out));
    // Without the flag the same file installs (as any third-party file would).
    ok(&h.claw(&["component", "add", other.to_str().unwrap(), "--name", "echo2"]), "not first-party, added plainly");
    let listed = stdout(&h.claw(&["component", "list"]));
    assert!(listed.contains("echo") && !listed.contains("clock"), "{listed}");

    // A plug must be first-party too.
    let router = guest("llm_router");
    let bad_plug = format!("openai={}", other.display());
    let out = h.claw(&[
        "component",
        "add",
        router.to_str().unwrap(),
        "--name",
        "llm-router",
        "--first-party",
        "--plug",
        &bad_plug,
    ]);
    assert!(stderr(&out).contains("is not a first-party component"), "{}", stderr(&out));
}

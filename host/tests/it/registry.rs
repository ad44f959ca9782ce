//! `claw component publish` and `claw component add|upgrade oci://…`
//! against a real registry (docker-registry on 127.0.0.1): the CNCF Wasm
//! layout, digests checked, capabilities shown before install, the
//! lockfile, and bad artifacts refused with nothing installed.

use crate::common::{TestHome, guest, ok, stderr, stdout};
use crate::oci_registry::{Direct, Registry};
use claw_registry::artifact::{Artifact, Facts};
use claw_registry::{Client, Reference};

fn publish(h: &TestHome, wasm: &str, reference: &str, grant: Option<&str>) -> String {
    let file = guest(wasm);
    let mut args = vec!["component", "publish", file.to_str().unwrap(), reference];
    let g;
    if let Some(text) = grant {
        g = h.grant_file(&format!("{wasm}.toml"), text);
        args.extend(["--grant", g.to_str().unwrap()]);
    }
    let out = h.claw(&args);
    ok(&out, "publish");
    stdout(&out)
}

fn installed(h: &TestHome) -> Vec<String> {
    let out = h.claw(&["--json", "component", "list"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_published_component_is_pulled_verified_shown_and_installed_only_when_confirmed() {
    let reg = Registry::start(None);
    let author = TestHome::new();
    let at = reg.reference("claw/clock:1.0.0");
    let out = publish(&author, "clock", &at, Some("[limits]\ntimeout_ms = 5000\n"));
    assert!(out.starts_with(&format!("published {at}@sha256:")), "{out}");
    let digest = out.split_whitespace().nth(1).unwrap().rsplit('@').next().unwrap().to_string();

    // The registry holds the CNCF Wasm layout.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reference = Reference::parse(&at, None).unwrap();
    let pulled = rt.block_on(Client::new(&Direct, &reference, true, 1 << 30).pull(&reference, &())).unwrap();
    assert_eq!(pulled.digest().to_string(), digest);
    assert_eq!(pulled.wasm, std::fs::read(guest("clock")).unwrap());
    let config = pulled.config().unwrap();
    assert_eq!((config.architecture.as_str(), config.os.as_str()), ("wasm", "wasip2"));
    let component = config.component.unwrap();
    assert!(component.exports.iter().any(|e| e == "execute"), "exports listed: {component:?}");
    assert!(component.imports.iter().any(|i| i.starts_with("wasi:")), "imports listed: {component:?}");
    assert_eq!(pulled.grant(), Some("[limits]\ntimeout_ms = 5000\n"));

    let user = TestHome::new();
    // Unsigned: refused without the explicit flag; nothing installed.
    let out = user.claw(&["component", "add", &at]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not signed") && stderr(&out).contains("--allow-unsigned"), "{}", stderr(&out));
    // Not confirmed (no terminal, no --yes): the capabilities are shown, nothing installed.
    let out = user.claw(&["component", "add", &at, "--allow-unsigned"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&digest) && err.contains("imports:") && err.contains("network: none"), "{err}");
    assert!(err.contains("nobody confirmed") && err.contains("--yes"), "{err}");
    assert!(installed(&user).is_empty());
    assert!(!user.home.config.join("components.lock").exists());

    let out = user.claw(&["component", "add", &at, "--allow-unsigned", "--yes"]);
    ok(&out, "add");
    assert!(stdout(&out).starts_with("added clock from "), "{}", stdout(&out));
    assert!(stderr(&out).contains("WARNING: clock was installed UNSIGNED"), "{}", stderr(&out));
    assert!(stderr(&out).contains("pulling"), "progress is shown: {}", stderr(&out));
    let out = user.claw(&["tool", "call", "clock", "{}"]);
    ok(&out, "tool call");
    let lock = std::fs::read_to_string(user.home.config.join("components.lock")).unwrap();
    assert!(lock.contains(&format!("reference = \"{at}\"")) && lock.contains(&digest), "{lock}");
    assert!(lock.contains("signer = \"unsigned\""), "{lock}");
    let out = user.claw(&["component", "inspect", "clock"]);
    assert!(stdout(&out).contains("5000"), "the shipped grant is the grant: {}", stdout(&out));

    // The registry's traffic went through the boundary, audited as the host's own.
    let audit = std::fs::read_to_string(user.home.data.join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"component\":\"host:registry\""), "{audit}");
    assert!(audit.contains("/v2/claw/clock/manifests/1.0.0"), "{audit}");
    assert!(audit.contains("UNSIGNED, installed with --allow-unsigned"), "{audit}");
}

#[test]
fn a_moved_tag_is_refused_when_locked_and_an_upgrade_shows_what_changed() {
    let reg = Registry::start(None);
    let author = TestHome::new();
    let at = reg.reference("claw/v:1");
    publish(&author, "versioned_1", &at, None);
    let user = TestHome::new();
    ok(&user.claw(&["component", "add", &at, "--name", "v", "--allow-unsigned", "--yes"]), "add");
    ok(&user.claw(&["component", "upgrade", "v", &at, "--locked", "--allow-unsigned", "--yes"]), "same digest, locked");

    // The publisher moves the tag to a build that asks for more.
    publish(
        &author,
        "versioned_2",
        &at,
        Some("[[http]]\nurl = \"https://api.example.com/**\"\nmethods = [\"POST\"]\n"),
    );
    let out = user.claw(&["component", "upgrade", "v", &at, "--locked", "--allow-unsigned", "--yes"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("now points at") && stderr(&out).contains("locked to"), "{}", stderr(&out));
    let out = user.claw(&["tool", "call", "v", "{}"]);
    assert!(stdout(&out).contains('1'), "still the first version: {}", stdout(&out));

    let out = user.claw(&["component", "upgrade", "v", &at, "--allow-unsigned", "--yes"]);
    ok(&out, "upgrade");
    let err = stderr(&out);
    assert!(err.contains("compared with the installed version"), "{err}");
    assert!(err.lines().any(|l| l.contains("new:") && l.contains("api.example.com")), "{err}");
    let out = user.claw(&["tool", "call", "v", "{}"]);
    assert!(stdout(&out).contains('2'), "{}", stdout(&out));
}

#[test]
fn bad_references_registries_and_artifacts_are_refused_and_nothing_is_installed() {
    let reg = Registry::start(None);
    let user = TestHome::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let push = |path: &str, artifact: &Artifact| {
        let r = Reference::parse(&reg.reference(path), None).unwrap();
        rt.block_on(Client::new(&Direct, &r, true, 1 << 30).push(&r, artifact, &())).unwrap()
    };
    let facts = Facts { description: "x".into(), ..Facts::default() };
    // A layer that is not a component.
    push("bad/garbage:1", &Artifact::build(b"not wasm at all".to_vec(), &facts));
    // A container image's config.
    let mut image = Artifact::build(std::fs::read(guest("clock")).unwrap(), &facts);
    image.manifest.config.media_type = "application/vnd.oci.image.config.v1+json".into();
    image.manifest_bytes = serde_json::to_vec(&image.manifest).unwrap();
    push("bad/image:1", &image);
    // A component whose blob the registry's disk has since corrupted.
    let good = Artifact::build(std::fs::read(guest("clock")).unwrap(), &facts);
    push("bad/tampered:1", &good);
    let blob = reg.blob_file(good.manifest.layers[0].digest.hex());
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let down = {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        format!("oci://127.0.0.1:{port}/claw/clock:1")
    };

    for (source, says) in [
        (reg.reference("bad/garbage:1"), "is not a WebAssembly file"),
        (reg.reference("bad/image:1"), "not a Wasm component"),
        (reg.reference("bad/tampered:1"), "not the sha256:"),
        (reg.reference("claw/missing:1"), "is not in the registry"),
        (format!("{}@sha256:{}", reg.reference("bad/garbage"), "0".repeat(64)), "is not in the registry"),
        (down, "cannot be reached"),
        ("oci://127.0.0.1/Bad/x:1".to_string(), "is not a component reference"),
        ("clock@1.0".to_string(), "no default registry"),
    ] {
        let out = user.claw(&["component", "add", &source, "--allow-unsigned", "--yes"]);
        assert!(!out.status.success(), "{source} was accepted");
        let err = stderr(&out);
        assert!(err.contains(says), "{source}: expected `{says}` in: {err}");
        assert!(err.contains("hint:") || says == "not the sha256:", "{source}: a hint: {err}");
        assert!(installed(&user).is_empty(), "{source} installed something");
        assert!(!user.home.config.join("components.lock").exists(), "{source} wrote the lockfile");
    }
}

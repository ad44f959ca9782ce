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

#[test]
fn a_signed_component_installs_only_under_a_key_trusted_for_its_repository() {
    let reg = Registry::start(None);
    let author = TestHome::new();
    let public = author.home.config.join("acme.pub");
    let out = author.claw(&["key", "generate", "acme", "--out", public.to_str().unwrap()]);
    ok(&out, "key generate");
    assert!(stdout(&out).starts_with("-----BEGIN PUBLIC KEY-----"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("PRIVATE") && !stderr(&out).contains("PRIVATE"));
    let fingerprint = stderr(&out).split(['(', ')']).nth(1).unwrap().to_string();
    assert!(fingerprint.starts_with("sha256:"), "{}", stderr(&out));
    let out = author.claw(&["key", "export", "acme"]);
    assert_eq!(stdout(&out), std::fs::read_to_string(&public).unwrap());
    // The private half is a vault secret no grant may name.
    let grant = author.grant_file(
        "steal.toml",
        "[[secrets]]\nname = \"signing-key-acme\"\norigins = [\"https://a.example\"]\ninject = \"header\"\nheader = \"X\"\n",
    );
    let out = author.claw(&["component", "add", guest("clock").to_str().unwrap(), "--grant", grant.to_str().unwrap()]);
    assert!(!out.status.success() && stderr(&out).contains("claw's own signing keys"), "{}", stderr(&out));

    let at = reg.reference("acme/clock:1");
    let file = guest("clock");
    let out = author.claw(&["component", "publish", file.to_str().unwrap(), &at, "--sign", "acme"]);
    ok(&out, "publish --sign");
    assert!(stdout(&out).contains(&format!("signed by acme ({fingerprint})")), "{}", stdout(&out));
    let digest = stdout(&out).split_whitespace().nth(1).unwrap().rsplit('@').next().unwrap().to_string();
    let out = author.claw(&["component", "publish", file.to_str().unwrap(), &at, "--sign", "nobody"]);
    assert!(!out.status.success() && stderr(&out).contains("no signing key named `nobody`"), "{}", stderr(&out));

    // A standard tool verifies the signature: ECDSA P-256 over the cosign
    // simple-signing payload, stored at the `sha256-HEX.sig` tag.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reference = Reference::parse(&at, None).unwrap();
    let client = Client::new(&Direct, &reference, true, 1 << 30);
    let manifest = claw_registry::Sha256Digest::parse(&digest).unwrap();
    let signatures = rt.block_on(client.signatures(&reference, &manifest)).unwrap();
    assert_eq!(signatures.len(), 1);
    let claim = claw_registry::Claim::parse(&signatures[0].payload).unwrap();
    assert_eq!(claim.repository, format!("127.0.0.1:{}/acme/clock", reg.port));
    assert_eq!(claim.digest, manifest);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("payload"), &signatures[0].payload).unwrap();
    std::fs::write(dir.path().join("sig"), &signatures[0].signature).unwrap();
    let openssl = |payload: &str| {
        std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-verify", public.to_str().unwrap(), "-signature"])
            .arg(dir.path().join("sig"))
            .arg(dir.path().join(payload))
            .output()
            .expect("openssl is installed")
    };
    let verified = openssl("payload");
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stdout));
    std::fs::write(dir.path().join("other"), b"{}").unwrap();
    assert!(!openssl("other").status.success(), "openssl tells a wrong payload");

    let user = TestHome::new();
    // Nobody trusted: signed, but refused without the flag.
    let out = user.claw(&["component", "add", &at, "--yes"]);
    assert!(!out.status.success() && stderr(&out).contains("by no key claw trusts"), "{}", stderr(&out));
    // Bad trust input is refused and writes nothing.
    let out = user.claw(&["trust", "add", public.to_str().unwrap(), "--for", "*/acme/*"]);
    assert!(!out.status.success() && stderr(&out).contains("in its host"), "{}", stderr(&out));
    let not_a_key = user.grant_file("not.pub", "hello");
    let out = user.claw(&["trust", "add", not_a_key.to_str().unwrap(), "--for", "r.io/acme/*"]);
    assert!(!out.status.success() && stderr(&out).contains("not.pub"), "{}", stderr(&out));
    assert!(!user.home.config.join("trust.toml").exists());
    // Trusted for another namespace only: still refused, and the scope named.
    let host = format!("127.0.0.1:{}", reg.port);
    ok(&user.claw(&["trust", "add", public.to_str().unwrap(), "--for", &format!("{host}/tools/*")]), "trust add");
    let out = user.claw(&["component", "add", &at, "--yes"]);
    assert!(!out.status.success() && stderr(&out).contains("trusted only for"), "{}", stderr(&out));
    assert!(installed(&user).is_empty());

    ok(&user.claw(&["trust", "add", public.to_str().unwrap(), "--for", &format!("{host}/acme/*")]), "trust add");
    let out = user.claw(&["--json", "component", "add", &at, "--yes"]);
    ok(&out, "add signed");
    assert!(!stderr(&out).contains("WARNING"), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("signer:  acme ({fingerprint})")), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signer"], format!("acme ({fingerprint})"));
    let lock = std::fs::read_to_string(user.home.config.join("components.lock")).unwrap();
    assert!(lock.contains(&format!("signer = \"acme ({fingerprint})\"")), "{lock}");
    // Inspect says where it came from and who signed it.
    let inspect = stdout(&user.claw(&["component", "inspect", "clock"]));
    assert!(inspect.contains(&format!("from:        {at}@{digest}")), "{inspect}");
    assert!(inspect.contains(&format!("signer:      acme ({fingerprint})")), "{inspect}");

    // A valid signature copied onto other bytes is refused even with the flag.
    let other = reg.reference("acme/other:1");
    let out = author.claw(&["component", "publish", guest("versioned_1").to_str().unwrap(), &other]);
    ok(&out, "publish unsigned");
    let other_digest = stdout(&out).split_whitespace().nth(1).unwrap().rsplit('@').next().unwrap().to_string();
    let other_ref = Reference::parse(&other, None).unwrap();
    let other_digest = claw_registry::Sha256Digest::parse(&other_digest).unwrap();
    rt.block_on(client.push_signature(&other_ref, &other_digest, signatures[0].clone())).unwrap();
    let out = user.claw(&["component", "add", &other, "--yes", "--allow-unsigned"]);
    assert!(!out.status.success() && stderr(&out).contains("copied from other bytes"), "{}", stderr(&out));
    assert_eq!(installed(&user), vec!["clock".to_string()]);

    // Trust removed: the same pull is refused again.
    ok(&user.claw(&["trust", "rm", "acme"]), "trust rm");
    let out = user.claw(&["component", "upgrade", "clock", &at, "--yes"]);
    assert!(!out.status.success() && stderr(&out).contains("by no key claw trusts"), "{}", stderr(&out));

    // Another key signs the same digest: a new signer, which --locked refuses.
    let (other_key, _) = claw_registry::SigningKey::generate().unwrap();
    let other_pub = dir.path().join("other.pub");
    std::fs::write(&other_pub, other_key.public_key().to_pem()).unwrap();
    let resigned = claw_registry::Signed::new(&claim, &other_key).unwrap();
    rt.block_on(client.push_signature(&reference, &manifest, resigned)).unwrap();
    ok(&user.claw(&["trust", "add", other_pub.to_str().unwrap(), "--for", &format!("{host}/acme/*")]), "trust add");
    let out = user.claw(&["component", "upgrade", "clock", &at, "--locked", "--yes"]);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("was locked as signed by acme") && stderr(&out).contains("now signed by other"),
        "{}",
        stderr(&out)
    );
    let out = user.claw(&["component", "upgrade", "clock", &at, "--yes"]);
    ok(&out, "upgrade, not locked, to the new signer");
    let lock = std::fs::read_to_string(user.home.config.join("components.lock")).unwrap();
    assert!(lock.contains(&format!("signer = \"other ({})\"", other_key.public_key().fingerprint())), "{lock}");
    // Removed, it leaves the lockfile too.
    ok(&user.claw(&["component", "remove", "clock"]), "remove");
    let lock = std::fs::read_to_string(user.home.config.join("components.lock")).unwrap();
    assert!(!lock.contains("name = \"clock\""), "{lock}");
}

/// The password of the htpasswd line below (bcrypt, cost 5), made for this test only.
const REGISTRY_PASSWORD: &str = "reg-pass-Xq81vLz";
const HTPASSWD: &str = "claw:$2b$05$VJjaUWIvp9JvGKEh32fVNua7dKuSOhrwsCrquAMUpU0nch4QZse3O";

#[test]
fn a_registry_credential_comes_from_the_vault_and_appears_in_no_record() {
    use base64::Engine as _;
    let reg = Registry::start(Some(HTPASSWD));
    let author = TestHome::new();
    let at = reg.reference("private/clock:1");
    let file = guest("clock");
    let publish = |h: &TestHome| h.claw(&["component", "publish", file.to_str().unwrap(), &at]);

    // No credential configured: the registry's 401, with the fix.
    let out = publish(&author);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("401") && stderr(&out).contains("[registry.hosts."), "{}", stderr(&out));

    let host = format!("127.0.0.1:{}", reg.port);
    let config = format!("[registry.hosts.\"{host}\"]\nusername = \"claw\"\ncredential = \"registry_pw\"\n");
    // Configured, but the vault lacks the secret: named, nothing sent with it.
    std::fs::create_dir_all(&author.home.config).unwrap();
    std::fs::write(author.home.config.join("config.toml"), &config).unwrap();
    let out = publish(&author);
    assert!(!out.status.success() && stderr(&out).contains("registry_pw"), "{}", stderr(&out));
    // A wrong password is the registry's refusal.
    ok(&author.claw_with_stdin(&["secret", "set", "registry_pw"], "not-the-password\n"), "secret set");
    let out = publish(&author);
    assert!(!out.status.success() && stderr(&out).contains("401"), "{}", stderr(&out));

    ok(&author.claw_with_stdin(&["secret", "set", "registry_pw"], &format!("{REGISTRY_PASSWORD}\n")), "secret set");
    let out = publish(&author);
    ok(&out, "publish with the vault's credential");

    let user = TestHome::new();
    std::fs::create_dir_all(&user.home.config).unwrap();
    std::fs::write(user.home.config.join("config.toml"), &config).unwrap();
    ok(&user.claw_with_stdin(&["secret", "set", "registry_pw"], &format!("{REGISTRY_PASSWORD}\n")), "secret set");
    let added = user.claw(&["component", "add", &at, "--allow-unsigned", "--yes"]);
    ok(&added, "add from a registry that needs a login");

    // Neither the password nor its basic-auth encoding is in any record.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("claw:{REGISTRY_PASSWORD}"));
    for h in [&author, &user] {
        let audit = std::fs::read_to_string(h.home.data.join("audit.jsonl")).unwrap();
        assert!(audit.contains("host:registry") && audit.contains("registry_pw"), "the injection is audited: {audit}");
        for record in [audit, std::fs::read_to_string(h.home.config.join("config.toml")).unwrap()] {
            assert!(!record.contains(REGISTRY_PASSWORD) && !record.contains(&basic));
        }
    }
    for o in [&out, &added] {
        for text in [stdout(o), stderr(o)] {
            assert!(!text.contains(REGISTRY_PASSWORD) && !text.contains(&basic), "{text}");
        }
    }
}

/// A tool nobody here wrote, installed by `scripts/dev test` (cargo install --locked, pinned).
fn installed_tool(name: &str) -> std::path::PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|f| f.is_file()))
        .unwrap_or_default();
    let cargo_bin = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo/bin").join(name));
    on_path
        .or(cargo_bin.filter(|f| f.is_file()))
        .unwrap_or_else(|| panic!("`{name}` is missing: `bash scripts/dev test` installs it (cargo install --locked)"))
}

#[test]
fn components_cross_between_claw_and_wkg_in_both_directions() {
    let (wkg, wasm_tools) = (installed_tool("wkg"), installed_tool("wasm-tools"));
    let reg = Registry::start(None);
    let host = format!("127.0.0.1:{}", reg.port);
    let run = |tool: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new(tool).args(args).env("HOME", TestHome::new().dir.path()).output().unwrap();
        assert!(out.status.success(), "{} {args:?}: {}", tool.display(), stderr(&out));
        out
    };

    // Pushed by wkg, added by claw (no claw annotations: no shipped grant).
    let clock = guest("clock");
    run(&wkg, &["oci", "push", "--insecure", &host, &format!("{host}/wkg/clock:1.0.0"), clock.to_str().unwrap()]);
    let user = TestHome::new();
    let out = user.claw(&["component", "add", &format!("oci://{host}/wkg/clock:1.0.0"), "--allow-unsigned", "--yes"]);
    ok(&out, "add what wkg pushed");
    assert!(stderr(&out).contains("none shipped"), "{}", stderr(&out));
    ok(&user.claw(&["tool", "call", "clock", "{}"]), "the component wkg pushed runs");

    // Published by claw, pulled by wkg, validated by wasm-tools.
    let author = TestHome::new();
    let at = format!("oci://{host}/claw/v:1");
    publish(&author, "versioned_1", &at, Some("[limits]\ntimeout_ms = 5000\n"));
    let dir = tempfile::tempdir().unwrap();
    let pulled = dir.path().join("v.wasm");
    run(&wkg, &["oci", "pull", "--insecure", &host, &format!("{host}/claw/v:1"), "-o", pulled.to_str().unwrap()]);
    assert_eq!(std::fs::read(&pulled).unwrap(), std::fs::read(guest("versioned_1")).unwrap());
    run(&wasm_tools, &["validate", pulled.to_str().unwrap()]);
    let wit = stdout(&run(&wasm_tools, &["component", "wit", pulled.to_str().unwrap()]));
    assert!(wit.contains("export") && wit.contains("execute"), "{wit}");
}

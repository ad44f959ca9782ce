//! `registry`: publish, and pull-verify-install, of a 1 MiB component
//! against Debian's docker-registry on 127.0.0.1, as an operator runs them
//! (the release `claw` binary, one process per command, its start-up
//! measured apart). The component is compiled once beforehand, so what is
//! timed is the transfer, the digests, the signature and the install with
//! a cached compile.

use crate::{Stats, guest, stats};
use anyhow::{Context as _, Result, bail, ensure};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A docker-registry on a free loopback port, stopped on drop.
struct Registry {
    port: u16,
    child: Child,
    _storage: tempfile::TempDir,
}

impl Registry {
    fn start() -> Result<Registry> {
        let bin = Path::new("/usr/bin/docker-registry");
        ensure!(bin.is_file(), "{} is missing: `apt-get install docker-registry`", bin.display());
        let storage = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.path().join("data").display()
            ),
        )?;
        let child = Command::new(bin).arg("serve").arg(&config).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
        let registry = Registry { port, child, _storage: storage };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            ensure!(Instant::now() < deadline, "docker-registry did not start on 127.0.0.1:{port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(registry)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The release `claw` binary beside this one.
fn claw_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let claw = exe.with_file_name("claw");
    ensure!(claw.is_file(), "{} is missing: build it with `cargo build --release -p claw`", claw.display());
    Ok(claw)
}

fn run(claw: &Path, home: &Path, args: &[&str]) -> Result<Output> {
    let out = Command::new(claw).args(args).env("CLAW_HOME", home).env_remove("RUST_BACKTRACE").output()?;
    if !out.status.success() {
        bail!("claw {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(out)
}

fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// `wasm` grown to exactly `size` bytes by a custom section (still a
/// valid component; custom sections are ignored by the runtime).
fn padded(wasm: &[u8], size: usize) -> Vec<u8> {
    let name = b"claw-bench-padding";
    let leb_len = |n: usize| {
        let mut v = Vec::new();
        leb128(n, &mut v);
        v.len()
    };
    // id byte + LEB128(body length) + body, where the body is the name and zeros.
    let body_len = (1..=5)
        .map(|l| size - wasm.len() - 1 - l)
        .find(|&b| leb_len(b) == size - wasm.len() - 1 - b)
        .expect("a size the section can fill");
    let mut out = wasm.to_vec();
    out.push(0);
    leb128(body_len, &mut out);
    leb128(name.len(), &mut out);
    out.extend_from_slice(name);
    out.resize(size, 0);
    out
}

/// What the scenario measured.
pub(crate) struct Measured {
    pub(crate) publish: Stats,
    pub(crate) install: Stats,
    pub(crate) startup: Stats,
    pub(crate) size: usize,
}

pub(crate) fn registry(n: usize) -> Result<Measured> {
    let claw = claw_binary()?;
    let registry = Registry::start()?;
    let dir = tempfile::tempdir()?;
    let (author, user) = (dir.path().join("author"), dir.path().join("user"));
    let size = 1 << 20;
    let wasm = padded(&std::fs::read(guest("clock")?)?, size);
    ensure!(wasm.len() == size, "padding made {} bytes", wasm.len());
    let file = dir.path().join("big.wasm");
    std::fs::write(&file, &wasm)?;
    let file = file.to_str().context("a UTF-8 temp path")?;
    let public = dir.path().join("bench.pub");
    run(&claw, &author, &["key", "generate", "bench", "--out", public.to_str().context("path")?])?;
    let repo = format!("127.0.0.1:{}/bench/big", registry.port);
    run(
        &claw,
        &user,
        &["trust", "add", public.to_str().context("path")?, "--for", &format!("127.0.0.1:{}/bench/*", registry.port)],
    )?;

    // Warm: the first publish and install compile the component.
    run(&claw, &author, &["component", "publish", file, &format!("oci://{repo}:warm"), "--sign", "bench"])?;
    run(&claw, &user, &["component", "add", &format!("oci://{repo}:warm"), "--name", "big", "--yes"])?;

    let mut startup = Vec::with_capacity(n);
    let mut publish = Vec::with_capacity(n);
    let mut install = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        run(&claw, &user, &["--version"])?;
        startup.push(t.elapsed());

        let at = format!("oci://{repo}:{i}");
        let t = Instant::now();
        run(&claw, &author, &["component", "publish", file, &at, "--sign", "bench"])?;
        publish.push(t.elapsed());

        run(&claw, &user, &["component", "remove", "big"])?;
        let t = Instant::now();
        run(&claw, &user, &["component", "add", &at, "--name", "big", "--yes"])?;
        install.push(t.elapsed());
    }
    let ms = 1e3;
    Ok(Measured { publish: stats(publish, ms), install: stats(install, ms), startup: stats(startup, ms), size })
}

#[cfg(test)]
mod tests {
    #[test]
    fn padding_makes_exactly_the_size_asked() {
        for (len, size) in [(100usize, 1usize << 20), (5000, 200_000), (1, 300), (0, 129)] {
            let wasm = vec![1u8; len];
            let out = super::padded(&wasm, size);
            assert_eq!(out.len(), size, "{len} -> {size}");
            assert_eq!(&out[..len], &wasm[..]);
            assert_eq!(out[len], 0, "a custom section follows");
        }
    }
}

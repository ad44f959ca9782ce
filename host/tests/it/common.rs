//! Shared test helpers: guest components, throwaway homes, a local HTTP server.

use crate::db::TestDb;
use claw::components::Record;
use claw::home::Home;
use claw::runtime::Runtime;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// The built guest component `name` (file stem, e.g. `http_fetch`).
pub fn guest(name: &str) -> PathBuf {
    let dir = std::env::var_os("CLAW_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guest/wasm32-wasip2/release"));
    let path = dir.join(format!("{name}.wasm"));
    assert!(path.is_file(), "{} is missing: run `scripts/dev components` first", path.display());
    path
}

/// A claw home in a temporary directory.
pub struct TestHome {
    pub dir: tempfile::TempDir,
    pub home: Home,
    /// Given to every `claw` run here as `CLAW_DATABASE_URL`.
    database_url: Option<String>,
}

impl TestHome {
    pub fn new() -> TestHome {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(dir.path());
        TestHome { dir, home, database_url: None }
    }

    /// A home whose `claw` processes keep their store in `db`, named by
    /// `CLAW_DATABASE_URL` as an operator would. (In-process code opening
    /// `home` does not see it: write `database_url` to config.toml there.)
    pub fn on(db: &TestDb) -> TestHome {
        TestHome { database_url: Some(db.url.as_str().to_string()), ..TestHome::new() }
    }

    /// Whether the home's own SQLite store exists: never, for a home
    /// [`TestHome::on`] another database.
    pub fn has_default_store(&self) -> bool {
        self.home.data.join("claw.db").exists()
    }

    /// Run the `claw` binary against this home.
    pub fn claw(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running claw")
    }

    /// Run the `claw` binary with `input` on its stdin.
    pub fn claw_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running claw");
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("writing stdin");
        child.wait_with_output().expect("running claw")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_claw"));
        // Whatever CLAW_* a developer's shell has set (a master key, a
        // database URL, a log level) must not reach the claw under test.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("CLAW_") {
                c.env_remove(k);
            }
        }
        c.args(args).env("CLAW_HOME", self.dir.path()).env_remove("RUST_LOG");
        if let Some(url) = &self.database_url {
            c.env("CLAW_DATABASE_URL", url);
        }
        c
    }

    /// `claw memory write PATH` with `text` on stdin, which must succeed.
    pub fn memory_write(&self, path: &str, text: &str) {
        ok(&self.claw_with_stdin(&["memory", "write", path], text), "memory write");
    }

    pub fn runtime(&self) -> Arc<Runtime> {
        Runtime::open(&self.home).expect("runtime")
    }

    /// Write a grant file into the home's directory and return its path.
    pub fn grant_file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// Build the guest project at `project` as `scripts/dev components` builds
/// the first-party guests: release, wasm32-wasip2, into the shared guest
/// target dir (so dependencies are not rebuilt) with the same path remaps,
/// offline.
/// The built `.wasm` of `crate_name`.
pub fn build_guest(project: &Path, crate_name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let target = root.join("target/guest");
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        // Offline: a project builds from what cargo has cached, as claw
        // promises for a new project once its dependencies were fetched.
        .args(["build", "--offline", "--target", "wasm32-wasip2", "--release"])
        .current_dir(project)
        .env("CARGO_TARGET_DIR", &target)
        .env(
            "RUSTFLAGS",
            format!("--remap-path-prefix={}=/claw --remap-path-prefix={}=/cargo", root.display(), cargo_home.display()),
        )
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", stderr(&build));
    target.join(format!("wasm32-wasip2/release/{crate_name}.wasm"))
}

/// Add a guest through the library, as `claw component add` does.
pub async fn add(rt: &Runtime, name: &str, wasm: &str, grant: &str) -> anyhow::Result<Record> {
    let bytes = std::fs::read(guest(wasm)).unwrap();
    let prepared = rt.prepare(name, wasm, bytes, grant.to_string(), "test-grant.toml".into(), || {}).await?;
    rt.commit(prepared, false)
}

/// `out` is a success, or the test fails showing what claw printed.
pub fn ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed: {}\n{}", stderr(out), stdout(out));
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A tiny HTTP/1.1 server on 127.0.0.1 for egress tests. Routes:
/// `/hello` → 200 text; `/echo` → the request head, in the body and the
/// `x-seen-auth` header; `/redirect` → 302 to `/hello` on `redirect_port`;
/// `/echo-gzip` → the head, labelled `content-encoding: gzip` whatever was
/// asked (a server that compresses anyway: the label is what matters to
/// the boundary, which must not pass an encoding it cannot redact);
/// `/echo-hex` → the `x-api-key` value in hex of mixed case;
/// `/echo-escaped` → that value with every other character a JSON `\u`
/// escape; anything else → 404. Every request line and head is recorded.
pub struct TestServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    pub fn start(redirect_port: u16) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let heads_all = Arc::new(Mutex::new(Vec::new()));
        let heads_out = heads_all.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let seen = seen.clone();
                let heads = heads_all.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let mut len = 0usize;
                    let mut head = String::new();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        head.push_str(&h);
                    }
                    let mut body = vec![0; len];
                    let _ = reader.read_exact(&mut body);
                    seen.lock().unwrap().push(line.trim().to_string());
                    heads.lock().unwrap().push(head.clone());
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let auth = head
                        .lines()
                        .find_map(|l| l.strip_prefix("authorization: ").or_else(|| l.strip_prefix("Authorization: ")))
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    let key = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().starts_with("x-api-key:").then(|| l[10..].trim().to_string())
                        })
                        .unwrap_or_default();
                    let (status, extra, body) = match path.split('?').next().unwrap_or("") {
                        "/echo-gzip" => ("200 OK", "content-encoding: gzip\r\n".to_string(), format!("{line}{head}")),
                        "/echo-hex" => {
                            let hex: String = key
                                .bytes()
                                .enumerate()
                                .map(|(i, b)| if i % 2 == 0 { format!("{b:02X}") } else { format!("{b:02x}") })
                                .collect();
                            ("200 OK", String::new(), format!("{{\"k\":\"{hex}\"}}"))
                        }
                        "/echo-escaped" => {
                            let esc: String = key
                                .chars()
                                .enumerate()
                                .map(|(i, c)| if i % 2 == 0 { format!("\\u{:04x}", c as u32) } else { c.to_string() })
                                .collect();
                            ("200 OK", String::new(), format!("{{\"k\":\"{esc}\"}}"))
                        }
                        // Echoes the request head back, in the body and in a header.
                        "/echo" => ("200 OK", format!("x-seen-auth: {auth}\r\n"), format!("{line}{head}")),
                        "/hello" => ("200 OK", String::new(), "hello from the test server".to_string()),
                        "/redirect" => (
                            "302 Found",
                            format!("location: http://127.0.0.1:{redirect_port}/hello\r\n"),
                            String::new(),
                        ),
                        _ => ("404 Not Found", String::new(), "no such page".to_string()),
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        TestServer { port, requests, heads: heads_out }
    }

    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    pub fn seen(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads lines from a child's stream on a thread, for waiting with a timeout.
pub fn lines(stream: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

pub fn wait_for(rx: &std::sync::mpsc::Receiver<String>, what: &str) -> String {
    wait_for_within(rx, what, 30)
}

/// [`wait_for`] with its own deadline, for what builds first (a generated tool).
pub fn wait_for_within(rx: &std::sync::mpsc::Receiver<String>, what: &str, secs: u64) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(what) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("never saw `{what}`; saw: {seen:#?}");
}

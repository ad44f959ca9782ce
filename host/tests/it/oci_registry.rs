//! A real OCI registry for the tests: Debian's `docker-registry` (CNCF
//! distribution 2.8) on 127.0.0.1, storing in a temporary directory, and a
//! plain client for pushing what `claw component publish` never would
//! (artifacts of the wrong kind).

use bytes::Bytes;
use claw_registry::client::Body;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use http_body_util::{BodyExt as _, Full};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running registry; stopped when dropped.
pub struct Registry {
    pub port: u16,
    pub storage: tempfile::TempDir,
    child: Child,
}

impl Registry {
    /// Start one; `htpasswd` (a bcrypt line `user:$2y$...`) turns on basic auth.
    pub fn start(htpasswd: Option<&str>) -> Registry {
        let bin = "/usr/bin/docker-registry";
        assert!(
            std::path::Path::new(bin).is_file(),
            "{bin} is missing: `apt-get install docker-registry` (.ci/run installs it)"
        );
        let storage = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.path().join("data").display()
        );
        if let Some(line) = htpasswd {
            let file = storage.path().join("htpasswd");
            std::fs::write(&file, format!("{line}\n")).unwrap();
            config.push_str(&format!("auth:\n  htpasswd:\n    realm: test\n    path: {}\n", file.display()));
        }
        let config_file = storage.path().join("config.yml");
        std::fs::write(&config_file, config).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting docker-registry");
        let r = Registry { port, storage, child };
        let deadline = Instant::now() + Duration::from_secs(15);
        while r.status("/v2/").is_none() {
            assert!(Instant::now() < deadline, "docker-registry did not start on 127.0.0.1:{port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    /// `oci://127.0.0.1:PORT/PATH`.
    pub fn reference(&self, path: &str) -> String {
        format!("oci://127.0.0.1:{}/{path}", self.port)
    }

    /// The status of a plain GET, or none while nothing listens.
    pub fn status(&self, path: &str) -> Option<u16> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).ok()?;
        std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
    }

    /// Where the registry keeps the bytes of blob `hex`.
    pub fn blob_file(&self, hex: &str) -> PathBuf {
        self.storage.path().join(format!("data/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A direct client (no boundary): the test's own hands on the registry.
pub struct Direct;

impl claw_registry::Transport for Direct {
    fn send(&self, request: http::Request<Bytes>) -> BoxFuture<'_, Result<http::Response<Body>, String>> {
        Box::pin(async move {
            let authority = request.uri().authority().ok_or("no authority")?.to_string();
            let tcp = tokio::net::TcpStream::connect(&authority).await.map_err(|e| e.to_string())?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            let (mut parts, body) = request.into_parts();
            parts.headers.insert(http::header::HOST, authority.parse().unwrap());
            parts.uri = parts.uri.path_and_query().unwrap().as_str().parse().unwrap();
            let response = sender
                .send_request(http::Request::from_parts(parts, Full::new(body)))
                .await
                .map_err(|e| e.to_string())?;
            Ok(response.map(|b| b.into_data_stream().map(|r| r.map_err(|e| e.to_string())).boxed()))
        })
    }
}

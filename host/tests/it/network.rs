//! The boundary's network path with real counterparts on 127.0.0.1: a DNS
//! server the home's config.toml names (so a granted *name* can resolve to
//! any address, whatever the machine's own resolver says) and HTTPS servers
//! whose certificates come from a CA this test creates.

use crate::common::{TestHome, TestServer, add};
use crate::dns_server::DnsServer;
use claw::boundary::audit::{AuditLog, Record};
use claw::runtime::{CallError, Runtime};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A CA made for this test, and certificates it signs.
struct Ca(rcgen::CertifiedIssuer<'static, rcgen::KeyPair>);

/// A certificate chain and its key, as rustls wants them.
type Chain = (Vec<rustls::pki_types::CertificateDer<'static>>, rustls::pki_types::PrivateKeyDer<'static>);

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        Ca(rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap())
    }

    fn pem(&self) -> String {
        self.0.pem()
    }

    /// A server certificate for `name`, signed by this CA.
    fn server(&self, name: &str) -> Chain {
        let params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.0).unwrap();
        (vec![cert.der().clone()], rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap())
    }
}

/// An HTTPS server on 127.0.0.1 presenting `chain`; it records the server
/// name each client asked for (SNI) and answers every request `hello over
/// tls`.
struct TlsServer {
    port: u16,
    names: Arc<Mutex<Vec<Option<String>>>>,
}

impl TlsServer {
    fn start(chain: Chain) -> TlsServer {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain.0, chain.1)
                .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let names = Arc::new(Mutex::new(Vec::new()));
        let seen = names.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                let config = config.clone();
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    let mut reader = BufReader::new(&mut tls);
                    let mut line = String::new();
                    // The handshake runs on the first read; a client that
                    // refuses the certificate ends here.
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    seen.lock().unwrap().push(tls.conn.server_name().map(str::to_string));
                    let body = "hello over tls";
                    let _ = write!(
                        tls,
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        TlsServer { port, names }
    }

    fn names(&self) -> Vec<Option<String>> {
        self.names.lock().unwrap().clone()
    }
}

/// A home whose config.toml sends the boundary's lookups to `dns` (and
/// trusts `ca`), with raw-http added under `grant`.
async fn runtime(h: &TestHome, dns: &DnsServer, ca: Option<&Ca>, grant: &str) -> Arc<Runtime> {
    std::fs::create_dir_all(&h.home.config).unwrap();
    let mut config = format!("[network]\ndns = [\"127.0.0.1:{}\"]\n", dns.port);
    if let Some(ca) = ca {
        std::fs::write(h.home.config.join("test-ca.pem"), ca.pem()).unwrap();
        config.push_str("ca_files = [\"test-ca.pem\"]\n");
    }
    std::fs::write(h.home.config.join("config.toml"), config).unwrap();
    let rt = h.runtime();
    add(&rt, "raw", "raw_http", grant).await.unwrap();
    rt
}

async fn get(rt: &Runtime, url: &str) -> Result<Value, CallError> {
    rt.call("raw", &json!({ "url": url }).to_string()).await.map(|s| serde_json::from_str(&s).unwrap())
}

fn last_audit(h: &TestHome, rt: &Runtime) -> Record {
    rt.boundary().flush_audit();
    AuditLog::new(&h.home.data.join("audit.jsonl")).read().unwrap().pop().expect("an audit record")
}

#[tokio::test]
async fn a_granted_name_resolving_to_a_special_address_is_stopped_by_the_address_policy() {
    // A server really listens on loopback: were the address check gone,
    // the request to `loop.test` would reach it.
    let server = TestServer::start(0);
    let dns = DnsServer::start(&[
        ("loop.test", &[&["127.0.0.1"]]),
        ("private.test", &[&["10.1.2.3"]]),
        ("metadata.test", &[&["169.254.169.254"]]),
        ("mapped.test", &[&["::ffff:127.0.0.1"]]),
        ("mixed.test", &[&["93.184.216.34", "127.0.0.1"]]),
        ("opened.test", &[&["127.0.0.1"]]),
    ]);
    let p = server.port;
    let mut grant = String::new();
    for host in ["loop.test", "private.test", "metadata.test", "mapped.test", "mixed.test", "opened.test"] {
        grant.push_str(&format!("[[http]]\nurl = \"http://{host}:{p}/**\"\n\n"));
    }
    // Only `opened.test`'s loopback address is opened, by naming it.
    grant.push_str("[network]\nallow = [\"127.0.0.1/32\"]\n");
    let h = TestHome::new();
    let rt = runtime(&h, &dns, None, &grant.replace("allow = [\"127.0.0.1/32\"]", "allow = []")).await;
    for (host, address) in [
        ("loop.test", "127.0.0.1"),
        ("private.test", "10.1.2.3"),
        ("metadata.test", "169.254.169.254"),
        ("mapped.test", "::ffff:127.0.0.1"),
        ("mixed.test", "127.0.0.1"),
    ] {
        let err = get(&rt, &format!("http://{host}:{p}/hello")).await.expect_err(host);
        assert!(err.to_string().contains("address policy"), "{host}: the person is told why: {err}");
        let record = last_audit(&h, &rt);
        assert_eq!(record.decision, "deny", "{host}");
        assert!(
            record.rule.contains("address policy") && record.rule.contains(address) && record.rule.contains(host),
            "{host}: the audit names the address policy and the address: {}",
            record.rule
        );
        assert!(server.seen().is_empty(), "{host}: nothing reached the server");
    }

    // The same name with its network opened by the grant goes through: the
    // denials above were the address policy's, not the DNS path's.
    let h2 = TestHome::new();
    let rt2 = runtime(&h2, &dns, None, &grant).await;
    let out = get(&rt2, &format!("http://opened.test:{p}/hello")).await.unwrap();
    assert_eq!(out["hops"][0]["body"], "hello from the test server");
    assert_eq!(server.seen(), vec!["GET /hello HTTP/1.1".to_string()]);
    assert_eq!(dns.asked("opened.test", 1), 1, "one A question for one request");
}

#[tokio::test]
async fn https_reaches_the_checked_address_with_the_hosts_name_and_a_wrong_certificate_is_refused() {
    let ca = Ca::new("claw test CA");
    let good = TlsServer::start(ca.server("api.test"));
    let misnamed = TlsServer::start(ca.server("other.test"));
    let stranger = TlsServer::start(Ca::new("a CA nobody trusts").server("stranger.test"));
    // `api.test` answers loopback first and a private address after: a
    // client that looked the name up again would go elsewhere (and fail).
    let dns = DnsServer::start(&[
        ("api.test", &[&["127.0.0.1"], &["10.9.9.9"]]),
        ("wrong.test", &[&["127.0.0.1"]]),
        ("stranger.test", &[&["127.0.0.1"]]),
    ]);
    let grant = format!(
        "[[http]]\nurl = \"https://api.test:{}/**\"\n\n[[http]]\nurl = \"https://wrong.test:{}/**\"\n\n\
         [[http]]\nurl = \"https://stranger.test:{}/**\"\n\n[network]\nallow = [\"127.0.0.1/32\"]\n",
        good.port, misnamed.port, stranger.port
    );
    let h = TestHome::new();
    let rt = runtime(&h, &dns, Some(&ca), &grant).await;

    let out = get(&rt, &format!("https://api.test:{}/hello", good.port)).await.unwrap();
    assert_eq!(out["hops"][0]["status"], 200);
    assert_eq!(out["hops"][0]["body"], "hello over tls");
    assert_eq!(good.names(), vec![Some("api.test".to_string())], "the server was asked for the host's name");
    assert_eq!(dns.asked("api.test", 1), 1, "the name was looked up once, and that address was used");

    // A certificate for another name, and one from an untrusted CA: the
    // handshake fails, the component gets an error, the audit says so.
    for (host, port, server) in [("wrong.test", misnamed.port, &misnamed), ("stranger.test", stranger.port, &stranger)]
    {
        let err = get(&rt, &format!("https://{host}:{port}/hello")).await.expect_err(host);
        let record = last_audit(&h, &rt);
        assert!(record.outcome_of.is_some(), "{host}: the outcome of an allowed request");
        assert!(
            record.rule.contains("the request failed") && record.rule.to_lowercase().contains("certificate"),
            "{host}: {} / {err}",
            record.rule
        );
        assert!(server.names().is_empty(), "{host}: no request was read over a refused handshake");
    }
}

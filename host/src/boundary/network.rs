//! How the boundary reaches the network: who resolves a host name (the
//! system's resolver, or the name servers `[network] dns` names) and which
//! roots TLS trusts (the public web's, plus the CA files `[network]
//! ca_files` names — a company's own CA, a local test CA).

use super::dns;
use crate::config::NetworkConfig;
use crate::problem::Problem;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The boundary's resolver and TLS roots.
#[derive(Clone)]
pub struct Network {
    /// Name servers to ask; empty: the system's resolver.
    dns: Vec<SocketAddr>,
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").field("dns", &self.dns).finish_non_exhaustive()
    }
}

impl Default for Network {
    fn default() -> Self {
        static PUBLIC: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
        let tls = PUBLIC.get_or_init(|| client_config(public_roots())).clone();
        Network { dns: Vec::new(), tls }
    }
}

fn public_roots() -> rustls::RootCertStore {
    rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() }
}

fn client_config(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

impl Network {
    /// The network as `[network]` of config.toml (at `file`) describes it;
    /// relative CA paths are read from `config_dir`.
    ///
    /// # Errors
    ///
    /// A name server that is not an address, a CA file that cannot be read
    /// or holds no certificate: the problem names the file and the key.
    pub fn from_config(config: &NetworkConfig, config_dir: &Path) -> Result<Network, Problem> {
        let file = config_dir.join("config.toml");
        let mut dns = Vec::new();
        for server in &config.dns {
            let addr = server
                .parse::<SocketAddr>()
                .or_else(|_| server.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| {
                    Problem::new(format!("{}: network.dns: `{server}` is not a name server address", file.display()))
                        .hint(
                            "write an IP address with an optional port, e.g. dns = [\"10.0.0.2\", \"127.0.0.1:5353\"]",
                        )
                })?;
            dns.push(addr);
        }
        if config.ca_files.is_empty() {
            return Ok(Network { dns, ..Network::default() });
        }
        let mut roots = public_roots();
        for ca in &config.ca_files {
            let path = config_dir.join(ca);
            let fail = |why: String| {
                Problem::new(format!("{}: network.ca_files: {}: {why}", file.display(), path.display()))
                    .hint("name PEM files of CA certificates (-----BEGIN CERTIFICATE-----), or remove the entry")
            };
            let pem = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<_, _>>()
                .map_err(|e| fail(format!("not PEM ({e})")))?;
            if certs.is_empty() {
                return Err(fail("it holds no certificate".into()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| fail(format!("a certificate that cannot be a root ({e})")))?;
            }
        }
        Ok(Network { dns, tls: client_config(roots) })
    }

    /// Every address of `host` (an IP literal is its own address).
    pub(super) async fn lookup(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        if self.dns.is_empty() {
            return tokio::net::lookup_host((bare, port))
                .await
                .map(Iterator::collect)
                .map_err(|e| format!("DNS lookup of {host} failed: {e}"));
        }
        dns::lookup(&self.dns, bare)
            .await
            .map(|ips| ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect())
            .map_err(|e| format!("DNS lookup of {host} failed: {e}"))
    }

    /// The TLS client settings (its roots).
    pub(super) fn tls(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_name_servers_and_ca_files_name_the_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = |dns: &[&str], ca: &[&str]| NetworkConfig {
            dns: dns.iter().map(|s| s.to_string()).collect(),
            ca_files: ca.iter().map(Into::into).collect(),
        };
        let ok = Network::from_config(&config(&["10.0.0.2", "127.0.0.1:5353"], &[]), dir.path()).unwrap();
        assert_eq!(ok.dns, vec!["10.0.0.2:53".parse().unwrap(), "127.0.0.1:5353".parse::<SocketAddr>().unwrap()]);
        let e = Network::from_config(&config(&["dns.example"], &[]), dir.path()).unwrap_err();
        assert!(e.to_string().contains("network.dns: `dns.example`"), "{e}");
        let e = Network::from_config(&config(&[], &["missing.pem"]), dir.path()).unwrap_err();
        assert!(e.to_string().contains("network.ca_files") && e.to_string().contains("missing.pem"), "{e}");
        std::fs::write(dir.path().join("empty.pem"), "no certificate here\n").unwrap();
        let e = Network::from_config(&config(&[], &["empty.pem"]), dir.path()).unwrap_err();
        assert!(e.to_string().contains("holds no certificate"), "{e}");
    }
}

//! A DNS server on 127.0.0.1 for tests: the boundary asks it when a home's
//! config.toml names it (`[network] dns`), so a test decides what a name
//! resolves to, whatever the machine's own resolver says.

use std::collections::HashMap;
use std::net::{IpAddr, UdpSocket};
use std::sync::{Arc, Mutex};

/// A DNS server on 127.0.0.1 (UDP). Each name has a list of answers: the
/// n-th A (or AAAA) question for it gets the n-th entry, the last one
/// repeating, so a second lookup would see a different address. It counts
/// the questions it was asked, by (name, type).
pub struct DnsServer {
    pub port: u16,
    asked: Arc<Mutex<HashMap<(String, u16), usize>>>,
}

impl DnsServer {
    pub fn start(table: &[(&str, &[&[&str]])]) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let table: HashMap<String, Vec<Vec<IpAddr>>> = table
            .iter()
            .map(|(name, answers)| {
                let answers = answers.iter().map(|a| a.iter().map(|ip| ip.parse().unwrap()).collect()).collect();
                (name.to_string(), answers)
            })
            .collect();
        let asked = Arc::new(Mutex::new(HashMap::new()));
        let counts = asked.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = socket.recv_from(&mut buf) {
                let Some((name, qtype, question_end)) = question(&buf[..n]) else { continue };
                let nth = {
                    let mut c = counts.lock().unwrap();
                    let e = c.entry((name.clone(), qtype)).or_insert(0);
                    *e += 1;
                    *e - 1
                };
                let ips: Vec<IpAddr> = table
                    .get(&name)
                    .map(|answers| answers[nth.min(answers.len() - 1)].clone())
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|ip| (qtype == 1) == ip.is_ipv4())
                    .collect();
                let rcode = if table.contains_key(&name) { 0 } else { 3 };
                let mut reply = buf[..2].to_vec();
                reply.extend_from_slice(&[0x81, 0x80 | rcode, 0, 1, 0, ips.len() as u8, 0, 0, 0, 0]);
                reply.extend_from_slice(&buf[12..question_end]);
                for ip in ips {
                    let data = match ip {
                        IpAddr::V4(v4) => v4.octets().to_vec(),
                        IpAddr::V6(v6) => v6.octets().to_vec(),
                    };
                    reply.extend_from_slice(&[0xc0, 0x0c]);
                    reply.extend_from_slice(&qtype.to_be_bytes());
                    reply.extend_from_slice(&[0, 1, 0, 0, 0, 30, 0, data.len() as u8]);
                    reply.extend_from_slice(&data);
                }
                let _ = socket.send_to(&reply, peer);
            }
        });
        DnsServer { port, asked }
    }

    /// How many `qtype` questions (1 = A) were asked for `name`.
    pub fn asked(&self, name: &str, qtype: u16) -> usize {
        self.asked.lock().unwrap().get(&(name.to_string(), qtype)).copied().unwrap_or(0)
    }
}

/// The name, type and end of the one question of a DNS query.
fn question(msg: &[u8]) -> Option<(String, u16, usize)> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = *msg.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(msg.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]);
    Some((labels.join("."), qtype, at + 4))
}

//! A stub DNS resolver over UDP, used when the operator names the
//! boundary's name servers (`[network] dns` in config.toml) instead of the
//! system's resolver. It asks for A and AAAA records once per request; the
//! boundary checks every address it returns and connects to one of them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;

/// How long one name server has to answer.
const TIMEOUT: Duration = Duration::from_secs(5);
const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// The addresses of `host`, from the first of `servers` that answers.
///
/// # Errors
///
/// A text naming the server and what went wrong (no answer, a refusal, a
/// malformed or truncated reply, no such name).
pub async fn lookup(servers: &[SocketAddr], host: &str) -> Result<Vec<IpAddr>, String> {
    let question = encode_name(host)?;
    let mut last = "no name server is configured".to_string();
    for server in servers {
        let (a, aaaa) = tokio::join!(ask(*server, &question, TYPE_A), ask(*server, &question, TYPE_AAAA));
        match (a, aaaa) {
            (Ok(mut v4), Ok(v6)) => {
                v4.extend(v6);
                return Ok(v4);
            }
            // One family answered: use it (a name with no IPv6 is common).
            (Ok(ips), Err(_)) | (Err(_), Ok(ips)) => return Ok(ips),
            (Err(e), Err(_)) => last = format!("name server {server}: {e}"),
        }
    }
    Err(last)
}

/// `host` as DNS labels.
fn encode_name(host: &str) -> Result<Vec<u8>, String> {
    let host = host.trim_end_matches('.');
    if host.is_empty() || host.len() > 253 {
        return Err(format!("`{host}` is not a host name DNS can look up"));
    }
    let mut out = Vec::with_capacity(host.len() + 2);
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(format!("`{host}` is not a host name DNS can look up"));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(out)
}

/// One question of `qtype` to `server`; the records of that type in the
/// answer (none for a name that does not exist).
async fn ask(server: SocketAddr, name: &[u8], qtype: u16) -> Result<Vec<IpAddr>, String> {
    let local: SocketAddr =
        if server.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    // A connected socket drops datagrams from any other address.
    socket.connect(server).await.map_err(|e| e.to_string())?;
    let mut id = [0u8; 2];
    getrandom::fill(&mut id).map_err(|e| e.to_string())?;
    let id = u16::from_be_bytes(id);
    let mut query = Vec::with_capacity(name.len() + 16);
    query.extend_from_slice(&id.to_be_bytes());
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // recursion desired, one question
    query.extend_from_slice(name);
    query.extend_from_slice(&qtype.to_be_bytes());
    query.extend_from_slice(&CLASS_IN.to_be_bytes());
    socket.send(&query).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let n = tokio::time::timeout_at(deadline, socket.recv(&mut buf))
            .await
            .map_err(|_| format!("no answer within {}s", TIMEOUT.as_secs()))?
            .map_err(|e| e.to_string())?;
        // A reply to another question (a late answer, a spoof) is ignored.
        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            return parse_answer(&buf[..n], name, qtype);
        }
    }
}

/// The addresses of type `qtype` in a reply to the question `name`.
fn parse_answer(msg: &[u8], name: &[u8], qtype: u16) -> Result<Vec<IpAddr>, String> {
    let bad = || "a malformed reply".to_string();
    let word = |at: usize| msg.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or_else(bad);
    let flags = word(2)?;
    if flags & 0x8000 == 0 {
        return Err(bad());
    }
    if flags & 0x0200 != 0 {
        return Err("a truncated reply (DNS over TCP is not supported)".into());
    }
    match flags & 0x000f {
        0 => {}
        3 => return Ok(Vec::new()),
        code => return Err(format!("the server refused the question (rcode {code})")),
    }
    let (questions, answers) = (word(4)?, word(6)?);
    if questions != 1 {
        return Err(bad());
    }
    // The question must be ours, so an answer to another name is not used.
    let mut at = 12;
    let end = at + name.len();
    let same = msg.get(at..end).is_some_and(|q| q.eq_ignore_ascii_case(name));
    if !same || word(end)? != qtype {
        return Err("a reply to another question".into());
    }
    at = end + 4;
    let mut out = Vec::new();
    for _ in 0..answers {
        at = skip_name(msg, at).ok_or_else(bad)?;
        let (rtype, class, len) = (word(at)?, word(at + 2)?, word(at + 8)? as usize);
        let data = msg.get(at + 10..at + 10 + len).ok_or_else(bad)?;
        at += 10 + len;
        if class != CLASS_IN || rtype != qtype {
            continue; // CNAMEs on the way to the address
        }
        match (rtype, data.len()) {
            (TYPE_A, 4) => out.push(IpAddr::from(<[u8; 4]>::try_from(data).map_err(|_| bad())?)),
            (TYPE_AAAA, 16) => out.push(IpAddr::from(<[u8; 16]>::try_from(data).map_err(|_| bad())?)),
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

/// The offset after the (possibly compressed) name at `at`.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return msg.get(at + 1).map(|_| at + 2),
            l if l & 0xc0 == 0 => at += 1 + l as usize,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply written out byte by byte: id 0x1234, one question for
    /// `a.test` A, a CNAME then two A records (the second name compressed).
    fn reply(flags: [u8; 2]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, flags[0], flags[1], 0, 1, 0, 3, 0, 0, 0, 0];
        m.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        // CNAME a.test -> b.test
        m.extend_from_slice(b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x08\x01b\x04test\x00");
        m.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01");
        m.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x02");
        m
    }

    #[test]
    fn answers_are_read_past_cnames_and_compressed_names() {
        let name = encode_name("a.test").unwrap();
        let ips = parse_answer(&reply([0x81, 0x80]), &name, TYPE_A).unwrap();
        assert_eq!(ips, vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from([10, 0, 0, 2])]);
    }

    #[test]
    fn refusals_truncation_and_other_questions_are_errors() {
        let name = encode_name("a.test").unwrap();
        assert!(parse_answer(&reply([0x81, 0x82]), &name, TYPE_A).unwrap_err().contains("rcode 2"));
        assert!(parse_answer(&reply([0x83, 0x80]), &name, TYPE_A).unwrap_err().contains("truncated"));
        assert_eq!(
            parse_answer(&reply([0x81, 0x83]), &name, TYPE_A).unwrap(),
            Vec::<IpAddr>::new(),
            "NXDOMAIN: no address"
        );
        let other = encode_name("c.test").unwrap();
        assert!(parse_answer(&reply([0x81, 0x80]), &other, TYPE_A).unwrap_err().contains("another question"));
        assert!(parse_answer(&reply([0x01, 0x80]), &name, TYPE_A).is_err(), "a query is not a reply");
        let mut cut = reply([0x81, 0x80]);
        cut.truncate(cut.len() - 2);
        assert!(parse_answer(&cut, &name, TYPE_A).unwrap_err().contains("malformed"));
    }

    #[test]
    fn only_host_names_are_asked() {
        assert_eq!(encode_name("Api.Example.com.").unwrap(), b"\x03Api\x07Example\x03com\x00");
        for bad in ["", "a..b", "a b.test", "a/b.test", &"x".repeat(64)] {
            assert!(encode_name(bad).is_err(), "{bad:?}");
        }
    }
}

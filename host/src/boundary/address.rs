//! Step 2: the address policy, after DNS. An address is refused unless the
//! IANA special-purpose registries (IPv4 and IPv6) mark it globally
//! reachable — or the grant names its network. An IPv6 address that
//! carries an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) is
//! judged by the IPv4 address it carries.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not globally reachable (the registry's name for it).
pub fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let n = u32::from(ip);
    let in_net = |base: [u8; 4], bits: u32| {
        let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
        n & mask == u32::from(Ipv4Addr::from(base)) & mask
    };
    // Globally reachable exceptions inside 192.0.0.0/24.
    if n == u32::from(Ipv4Addr::new(192, 0, 0, 9)) || n == u32::from(Ipv4Addr::new(192, 0, 0, 10)) {
        return None;
    }
    let table: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "\"this network\""),
        ([10, 0, 0, 0], 8, "private-use"),
        ([100, 64, 0, 0], 10, "shared address space (CGNAT)"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local (includes the cloud metadata address)"),
        ([172, 16, 0, 0], 12, "private-use"),
        ([192, 0, 0, 0], 24, "IETF protocol assignments"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "deprecated 6to4 relay anycast"),
        ([192, 168, 0, 0], 16, "private-use"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved"),
    ];
    table.iter().find(|(base, bits, _)| in_net(*base, *bits)).map(|(_, _, why)| *why)
}

/// The IPv4 address an IPv6 address carries, if any.
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    let last32 = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if s[..5] == [0, 0, 0, 0, 0] && (s[5] == 0xffff || (s[5] == 0 && u32::from(last32) > 1)) {
        return Some(last32); // IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) {
        return Some(last32); // NAT64 64:ff9b::/96 and 64:ff9b:1::/48
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])); // 6to4
    }
    if s[0] == 0x2001 && s[1] == 0 {
        let x = u32::from(last32) ^ u32::MAX; // Teredo client, obfuscated
        return Some(Ipv4Addr::from(x));
    }
    None
}

/// Why an IPv6 address is not globally reachable.
pub fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    let in_net = |prefix: &[u16], bits: u32| {
        let mut left = bits;
        for (i, p) in prefix.iter().enumerate() {
            let take = left.min(16);
            if take == 0 {
                break;
            }
            let mask = u16::MAX << (16 - take);
            if s[i] & mask != p & mask {
                return false;
            }
            left -= take;
        }
        true
    };
    // Globally reachable exceptions inside 2001::/23.
    let global_exceptions: &[(&[u16], u32)] = &[
        (&[0x2001, 0x0001, 0, 0, 0, 0, 0, 1], 128),
        (&[0x2001, 0x0001, 0, 0, 0, 0, 0, 2], 128),
        (&[0x2001, 0x0003], 32),
        (&[0x2001, 0x0004, 0x0112], 48),
        (&[0x2001, 0x0020], 28),
        (&[0x2001, 0x0030], 28),
    ];
    if global_exceptions.iter().any(|(p, b)| in_net(p, *b)) {
        return None;
    }
    let table: &[(&[u16], u32, &str)] = &[
        (&[0x0100, 0, 0, 0], 64, "discard-only"),
        (&[0x2001, 0x0000], 23, "IETF protocol assignments"),
        (&[0x2001, 0x0db8], 32, "documentation"),
        (&[0x3fff], 20, "documentation"),
        (&[0x5f00], 16, "segment routing (SRv6) SIDs"),
        (&[0xfc00], 7, "unique-local (includes the cloud metadata address fd00:ec2::254)"),
        (&[0xfe80], 10, "link-local"),
        (&[0xff00], 8, "multicast"),
        (&[0x0064, 0xff9b, 0x0001], 48, "local-use IPv4/IPv6 translation"),
    ];
    table.iter().find(|(p, b, _)| in_net(p, *b)).map(|(_, _, why)| *why)
}

/// Why `ip` may not be reached under a grant naming `networks`; `None`
/// when it may.
pub fn refusal(ip: IpAddr, networks: &[IpNet]) -> Option<String> {
    if networks.iter().any(|n| n.contains(&ip)) {
        return None;
    }
    match ip {
        IpAddr::V4(v4) => special_v4(v4).map(|why| format!("{ip} is {why}")),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                if networks.iter().any(|n| n.contains(&IpAddr::V4(v4))) {
                    return None;
                }
                if let Some(why) = special_v4(v4) {
                    return Some(format!("{ip} carries {v4}, which is {why}"));
                }
            }
            special_v6(v6).map(|why| format!("{ip} is {why}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        refusal(s.parse().unwrap(), &[]).is_some()
    }

    #[test]
    fn public_addresses_pass() {
        for ok in ["8.8.8.8", "1.1.1.1", "192.0.0.9", "2606:4700::1111", "2001:4860:4860::8888", "2001:3::1"] {
            assert!(!refused(ok), "{ok} should be allowed");
        }
    }

    #[test]
    fn special_purpose_addresses_are_refused() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "2001:db8::1",
            "ff02::1",
            "100::1",
        ] {
            assert!(refused(bad), "{bad} should be refused");
        }
    }

    #[test]
    fn ipv6_carrying_ipv4_is_judged_by_the_ipv4() {
        for bad in [
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:0001::1",
            "2002:a9fe:a9fe::",
        ] {
            assert!(refused(bad), "{bad} should be refused");
        }
        assert!(!refused("::ffff:8.8.8.8"));
        assert!(!refused("64:ff9b::808:808"));
        let teredo_loopback = Ipv6Addr::new(0x2001, 0, 0x4136, 0xe378, 0x8000, 0x63bf, !0x7f00, !0x0001);
        assert!(refusal(IpAddr::V6(teredo_loopback), &[]).is_some());
    }

    #[test]
    fn a_granted_network_opens_exactly_itself() {
        let nets: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        assert!(refusal("127.0.0.1".parse().unwrap(), &nets).is_none());
        assert!(refusal("::ffff:127.0.0.1".parse().unwrap(), &nets).is_none());
        assert!(refusal("127.0.0.2".parse().unwrap(), &nets).is_some());
        assert!(refusal("169.254.169.254".parse().unwrap(), &nets).is_some());
    }
}

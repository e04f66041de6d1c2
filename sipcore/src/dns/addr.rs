//! Ordering of a host's addresses: a reduced RFC 6724 destination sort, families
//! interleaved as RFC 8305 §4 does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// RFC 6724 §2.1 default policy table precedence (IPv4 as `::ffff:0:0/96`).
fn precedence(ip: &IpAddr) -> u8 {
    let v6 = match ip {
        IpAddr::V4(_) => return 35,
        IpAddr::V6(v6) => v6,
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return precedence(&IpAddr::V4(v4));
    }
    let s = v6.segments();
    if *v6 == Ipv6Addr::LOCALHOST {
        50
    } else if s[0] == 0x2002 {
        30
    } else if s[0] == 0x2001 && s[1] == 0 {
        5
    } else if s[0] & 0xfe00 == 0xfc00 {
        3
    } else if s[..6].iter().all(|&x| x == 0) || s[0] & 0xffc0 == 0xfec0 || s[0] == 0x3ffe {
        1
    } else {
        40
    }
}

/// RFC 4007 / RFC 6724 §3.1 scope: 2 link-local (loopback included), 14 global.
fn scope(ip: &IpAddr) -> u8 {
    match ip {
        IpAddr::V4(v4) => v4_scope(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_scope(&v4);
            }
            if v6.is_loopback() || v6.segments()[0] & 0xffc0 == 0xfe80 {
                2
            } else if v6.is_multicast() {
                (v6.segments()[0] & 0x000f) as u8
            } else {
                14
            }
        }
    }
}

fn v4_scope(v4: &Ipv4Addr) -> u8 {
    if v4.is_loopback() || v4.is_link_local() {
        2
    } else {
        14
    }
}

/// Orders `addrs` for trying: only the families in `allowed` (RFC 6724 rule 1: an
/// unusable destination is never tried); within a family higher precedence (rule 6)
/// then smaller scope (rule 8), otherwise the answer's order (rule 10); then the two
/// families interleaved, `first` leading (RFC 8305 §4), so a dead family costs one
/// attempt, not all of them. Duplicates are dropped.
///
/// ```
/// use std::net::IpAddr;
/// use sipcore::dns::{order_addresses, Family};
/// let ip = |a: &str| a.parse::<IpAddr>().unwrap();
/// let addrs = ["192.0.2.1", "2001:db8::1", "192.0.2.2"].map(ip);
/// let o = order_addresses(addrs.to_vec(), &[Family::V4, Family::V6], Family::V6);
/// assert_eq!(o, ["2001:db8::1", "192.0.2.1", "192.0.2.2"].map(ip));
/// ```
pub fn order_addresses(addrs: Vec<IpAddr>, allowed: &[Family], first: Family) -> Vec<IpAddr> {
    let mut seen = Vec::with_capacity(addrs.len());
    for a in addrs {
        if allowed.contains(&Family::of(&a)) && !seen.contains(&a) {
            seen.push(a);
        }
    }
    let key = |a: &IpAddr| (std::cmp::Reverse(precedence(a)), scope(a));
    let (mut lead, mut other): (Vec<IpAddr>, Vec<IpAddr>) =
        seen.into_iter().partition(|a| Family::of(a) == first);
    lead.sort_by_key(key);
    other.sort_by_key(key);
    let mut out = Vec::with_capacity(lead.len() + other.len());
    let (mut l, mut o) = (lead.into_iter(), other.into_iter());
    loop {
        match (l.next(), o.next()) {
            (None, None) => break,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn precedence_follows_the_default_policy_table() {
        assert_eq!(precedence(&ip("::1")), 50);
        assert_eq!(precedence(&ip("2a00:1450::1")), 40);
        assert_eq!(precedence(&ip("192.0.2.1")), 35);
        assert_eq!(precedence(&ip("::ffff:192.0.2.1")), 35);
        assert_eq!(precedence(&ip("2002:c000:201::1")), 30);
        assert_eq!(precedence(&ip("2001:0:4136::1")), 5);
        assert_eq!(precedence(&ip("fd00::1")), 3);
        assert_eq!(precedence(&ip("fec0::1")), 1);
        assert_eq!(precedence(&ip("3ffe::1")), 1);
        assert_eq!(precedence(&ip("::192.0.2.1")), 1);
    }

    #[test]
    fn scopes() {
        assert_eq!(scope(&ip("127.0.0.1")), 2);
        assert_eq!(scope(&ip("169.254.1.1")), 2);
        assert_eq!(scope(&ip("fe80::1")), 2);
        assert_eq!(scope(&ip("::1")), 2);
        assert_eq!(scope(&ip("ff05::1")), 5);
        assert_eq!(scope(&ip("192.0.2.1")), 14);
        assert_eq!(scope(&ip("2001:db8::1")), 14);
    }

    #[test]
    fn families_interleave_and_filter() {
        let addrs = [
            "2001:db8::1",
            "2001:db8::2",
            "192.0.2.1",
            "192.0.2.2",
            "192.0.2.1",
        ]
        .map(ip)
        .to_vec();
        let both = order_addresses(addrs.clone(), &[Family::V4, Family::V6], Family::V4);
        assert_eq!(
            both,
            ["192.0.2.1", "2001:db8::1", "192.0.2.2", "2001:db8::2"].map(ip)
        );
        let v6 = order_addresses(addrs, &[Family::V6], Family::V4);
        assert_eq!(v6, ["2001:db8::1", "2001:db8::2"].map(ip));
    }

    #[test]
    fn within_a_family_precedence_then_scope_then_answer_order() {
        let addrs = ["fd00::1", "2001:db8::5", "fe80::1", "::1", "2001:db8::4"]
            .map(ip)
            .to_vec();
        let o = order_addresses(addrs, &[Family::V6], Family::V6);
        // ::1 50; global 40 (fe80 is 40 too but link-local scope first); ULA 3
        assert_eq!(
            o,
            ["::1", "fe80::1", "2001:db8::5", "2001:db8::4", "fd00::1"].map(ip)
        );
    }
}

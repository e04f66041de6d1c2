//! The IP access lists: which source networks may send initial requests (403
//! otherwise), and which are trusted peers whose requests may be relayed anywhere
//! without authentication. In-dialog requests, ACKs and responses are not checked
//! here: the routing policy lets through only those that belong to calls of ours.

use std::net::IpAddr;
use std::time::Instant;

use sipcore::endpoint::{Admission, Admit, MessageClass, SourceRateLimit};
use sipcore::transport::Target;

use crate::config::{AclConfig, Network};

/// Allowed networks; empty allows everyone.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    allow: Vec<Network>,
    trusted: Vec<Network>,
}

impl Acl {
    /// From the `[acl]` section (checked).
    pub fn new(cfg: &AclConfig) -> Acl {
        let parse = |list: &[String]| list.iter().filter_map(|n| Network::parse(n).ok()).collect();
        Acl {
            allow: parse(&cfg.allow),
            trusted: parse(&cfg.trusted),
        }
    }

    /// Whether `ip` may send initial requests.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(ip))
    }

    /// Whether `ip` is a trusted peer (empty list: nobody).
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(ip))
    }
}

/// The per-source rate limit of new requests (Kamailio's `pike`), for every source but
/// the trusted ones, asked by the endpoint before a request creates a transaction.
#[derive(Debug)]
pub struct SourceLimit {
    acl: Acl,
    limit: SourceRateLimit,
}

impl SourceLimit {
    /// `limit` for every source `acl` does not trust.
    pub fn new(acl: Acl, limit: SourceRateLimit) -> SourceLimit {
        SourceLimit { acl, limit }
    }
}

impl Admission for SourceLimit {
    fn admit(&self, now: Instant, source: &Target, class: MessageClass) -> Admit {
        if self.acl.is_trusted(source.addr.ip()) {
            return Admit::Accept;
        }
        self.limit.admit(now, source, class)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_allows_all_else_listed_only() {
        assert!(Acl::default().allows("192.0.2.1".parse().unwrap()));
        let acl = Acl::new(&AclConfig {
            allow: vec!["127.0.0.0/8".into(), "2001:db8::/32".into()],
            trusted: vec!["127.0.0.1".into()],
        });
        assert!(acl.is_trusted("127.0.0.1".parse().unwrap()));
        assert!(!acl.is_trusted("127.0.0.2".parse().unwrap()));
        assert!(!Acl::default().is_trusted("127.0.0.1".parse().unwrap()));
        let limit = SourceLimit::new(
            acl.clone(),
            SourceRateLimit::new(sipcore::endpoint::RateLimitConfig {
                rate: 1.0,
                burst: 1.0,
                ..Default::default()
            }),
        );
        let t = Instant::now();
        let (trusted, other) = (
            Target::udp("127.0.0.1:5060".parse().unwrap()),
            Target::udp("127.0.0.2:5060".parse().unwrap()),
        );
        for _ in 0..10 {
            assert_eq!(
                limit.admit(t, &trusted, MessageClass::NewRequest),
                Admit::Accept
            );
        }
        assert_eq!(
            limit.admit(t, &other, MessageClass::NewRequest),
            Admit::Accept
        );
        assert!(matches!(
            limit.admit(t, &other, MessageClass::NewRequest),
            Admit::Refuse { .. }
        ));
        assert!(acl.allows("127.1.2.3".parse().unwrap()));
        assert!(acl.allows("2001:db8::7".parse().unwrap()));
        assert!(!acl.allows("192.0.2.1".parse().unwrap()));
    }
}

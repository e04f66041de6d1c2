//! The IP access lists: which source networks may send initial requests (403
//! otherwise), and which are trusted peers whose requests may be relayed anywhere
//! without authentication. In-dialog requests, ACKs and responses are not checked
//! here: the routing policy lets through only those that belong to calls of ours.

use std::net::IpAddr;

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
        assert!(acl.allows("127.1.2.3".parse().unwrap()));
        assert!(acl.allows("2001:db8::7".parse().unwrap()));
        assert!(!acl.allows("192.0.2.1".parse().unwrap()));
    }
}

//! The IP access list: which source networks may send initial requests (403 otherwise).
//! In-dialog requests, ACKs and responses are not checked: they belong to calls the
//! list already let in.

use std::net::IpAddr;

use crate::config::{AclConfig, Network};

/// Allowed networks; empty allows everyone.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    allow: Vec<Network>,
}

impl Acl {
    /// From the `[acl]` section (checked).
    pub fn new(cfg: &AclConfig) -> Acl {
        Acl {
            allow: cfg
                .allow
                .iter()
                .filter_map(|n| Network::parse(n).ok())
                .collect(),
        }
    }

    /// Whether `ip` may send initial requests.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(ip))
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
        });
        assert!(acl.allows("127.1.2.3".parse().unwrap()));
        assert!(acl.allows("2001:db8::7".parse().unwrap()));
        assert!(!acl.allows("192.0.2.1".parse().unwrap()));
    }
}

//! Class-4 routing: a prefix table on the Request-URI user part (longest prefix wins)
//! to an ordered list of gateways, and a blacklist of gateways that failed recently.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sipcore::transport::{Target, TransportKind};

use crate::config::RoutesConfig;
use crate::target::Hop;

/// One gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// Where and over what.
    pub target: Hop,
    /// Lower first.
    pub priority: u32,
    /// Higher first among equal priorities.
    pub weight: u32,
}

/// The prefix table and the blacklist.
#[derive(Debug, Default)]
pub struct Routes {
    /// prefix → gateways in trial order.
    table: HashMap<String, Vec<Gateway>>,
    /// Longest prefix length in the table (bounds the lookup).
    longest: usize,
    blacklist: Mutex<HashMap<Target, Instant>>,
    blacklist_for: Duration,
}

impl Routes {
    /// From the `[routes]` section (checked).
    pub fn new(cfg: &RoutesConfig) -> Routes {
        let mut table = HashMap::new();
        for p in &cfg.prefix {
            let mut gws: Vec<Gateway> = p
                .gateways
                .iter()
                .filter_map(|g| {
                    let target = match &g.uri {
                        Some(u) => crate::target::uri_hop(u.as_bytes())?,
                        None => {
                            let addr: SocketAddr = g.address.parse().ok()?;
                            let kind = TransportKind::from_token(&g.transport)?;
                            Hop::Addr(Target::new(kind, addr))
                        }
                    };
                    Some(Gateway {
                        target,
                        priority: g.priority,
                        weight: g.weight,
                    })
                })
                .collect();
            // Stable: equal (priority, weight) keep the order of the file.
            gws.sort_by_key(|g| (g.priority, std::cmp::Reverse(g.weight)));
            table.insert(p.prefix.clone(), gws);
        }
        let longest = table.keys().map(String::len).max().unwrap_or(0);
        Routes {
            table,
            longest,
            blacklist: Mutex::new(HashMap::new()),
            blacklist_for: Duration::from_secs(cfg.blacklist_secs),
        }
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The gateways of the longest prefix of `number`, in trial order.
    pub fn lookup(&self, number: &str) -> Option<&[Gateway]> {
        if self.table.is_empty() {
            return None;
        }
        let mut n = number.len().min(self.longest);
        loop {
            if let Some(g) = number.get(..n).and_then(|p| self.table.get(p)) {
                return Some(g);
            }
            if n == 0 {
                return None;
            }
            n -= 1;
        }
    }

    /// Marks `target` as failed until `now` + the blacklist time.
    pub fn blacklist(&self, target: Target, now: Instant) {
        if self.blacklist_for.is_zero() {
            return;
        }
        let mut b = self.blacklist.lock();
        if b.len() > 10_000 {
            b.retain(|_, until| *until > now);
        }
        b.insert(target, now + self.blacklist_for);
        tracing::info!(%target, secs = self.blacklist_for.as_secs(), "gateway blacklisted");
    }

    /// Skips `target` for `secs` (a 503's Retry-After), bounded by an hour; the table
    /// holds at most 10,000 destinations (further ones are not listed).
    pub fn blacklist_for(&self, target: Target, now: Instant, secs: u32) {
        let secs = u64::from(secs).min(3600);
        let mut b = self.blacklist.lock();
        if b.len() >= 10_000 {
            b.retain(|_, until| *until > now);
            if b.len() >= 10_000 {
                return;
            }
        }
        let until = now + Duration::from_secs(secs);
        let e = b.entry(target).or_insert(until);
        if *e < until {
            *e = until;
        }
        tracing::info!(%target, secs, "destination blocklisted (Retry-After)");
    }

    /// Whether `target` failed recently.
    pub fn is_blacklisted(&self, target: &Target, now: Instant) -> bool {
        let mut b = self.blacklist.lock();
        match b.get(target) {
            Some(until) if *until > now => true,
            Some(_) => {
                b.remove(target);
                false
            }
            None => false,
        }
    }

    /// Gateways currently blacklisted.
    pub fn blacklisted(&self, now: Instant) -> usize {
        self.blacklist.lock().values().filter(|u| **u > now).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn longest_prefix_and_order() {
        let cfg = Config::parse(
            r#"
[[routes.prefix]]
prefix = "+49"
gateways = [{ address = "127.0.0.1:1" }]
[[routes.prefix]]
prefix = "+4930"
gateways = [{ address = "127.0.0.1:3", priority = 2 }, { address = "127.0.0.1:2", priority = 1, transport = "tcp" }]
"#,
        )
        .unwrap();
        let r = Routes::new(&cfg.routes);
        let g = r.lookup("+493012345").unwrap();
        assert_eq!(
            g[0].target,
            Hop::Addr(Target::tcp("127.0.0.1:2".parse().unwrap()))
        );
        assert_eq!(
            g[1].target,
            Hop::Addr(Target::udp("127.0.0.1:3".parse().unwrap()))
        );
        assert_eq!(
            r.lookup("+4940").unwrap()[0].target,
            Hop::Addr(Target::udp("127.0.0.1:1".parse().unwrap()))
        );
        assert!(r.lookup("+33").is_none());
    }

    #[test]
    fn blacklist_expires() {
        let r = Routes::new(&RoutesConfig {
            blacklist_secs: 10,
            prefix: vec![],
        });
        let t = Target::udp("127.0.0.1:9".parse().unwrap());
        let now = Instant::now();
        r.blacklist(t, now);
        assert!(r.is_blacklisted(&t, now + Duration::from_secs(5)));
        assert!(!r.is_blacklisted(&t, now + Duration::from_secs(11)));
    }
}

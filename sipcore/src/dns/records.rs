//! The DNS records a selection asks for and is fed.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The record types RFC 3263 uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    /// Naming authority pointer (RFC 3403).
    Naptr,
    /// Service location (RFC 2782).
    Srv,
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordType::Naptr => "NAPTR",
            RecordType::Srv => "SRV",
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
        })
    }
}

/// One query: a name (lower case, no trailing dot) and a record type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    /// The name to look up.
    pub name: String,
    /// The record type.
    pub rtype: RecordType,
}

impl Query {
    /// A query for `name` (normalised: lower case, trailing dot removed).
    pub fn new(name: &str, rtype: RecordType) -> Query {
        Query {
            name: normalise(name),
            rtype,
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.rtype)
    }
}

/// Lower case without the trailing dot: the form every name is compared in.
pub(crate) fn normalise(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// A NAPTR record (RFC 3403), the fields RFC 3263 uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    /// Lower first.
    pub order: u16,
    /// Lower first among equal `order`.
    pub preference: u16,
    /// `s` (next: SRV), `a` (next: A/AAAA); others are not used for SIP.
    pub flags: String,
    /// `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`, ...
    pub services: String,
    /// The next name to look up.
    pub replacement: String,
}

impl Naptr {
    /// A record with flags `s` (the usual SIP NAPTR).
    pub fn new(order: u16, preference: u16, services: &str, replacement: &str) -> Naptr {
        Naptr {
            order,
            preference,
            flags: "s".into(),
            services: services.into(),
            replacement: replacement.into(),
        }
    }
}

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    /// Lower first.
    pub priority: u16,
    /// Relative weight among equal priorities.
    pub weight: u16,
    /// The port.
    pub port: u16,
    /// The target host; `.` means the service is not offered.
    pub target: String,
}

impl Srv {
    /// An SRV record.
    pub fn new(priority: u16, weight: u16, port: u16, target: &str) -> Srv {
        Srv {
            priority,
            weight,
            port,
            target: target.into(),
        }
    }
}

/// What the resolver found for a [`Query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// NAPTR records.
    Naptr(Vec<Naptr>),
    /// SRV records.
    Srv(Vec<Srv>),
    /// IPv4 addresses.
    A(Vec<Ipv4Addr>),
    /// IPv6 addresses.
    Aaaa(Vec<Ipv6Addr>),
    /// The name exists with no such records, or does not exist (NODATA, NXDOMAIN).
    NoRecords,
    /// The lookup failed (SERVFAIL, refused, timeout): nothing is known.
    Failed,
}

impl Answer {
    /// Whether this answer holds records (of any type).
    pub fn has_records(&self) -> bool {
        match self {
            Answer::Naptr(v) => !v.is_empty(),
            Answer::Srv(v) => !v.is_empty(),
            Answer::A(v) => !v.is_empty(),
            Answer::Aaaa(v) => !v.is_empty(),
            Answer::NoRecords | Answer::Failed => false,
        }
    }
}

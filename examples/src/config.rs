//! The proxy's configuration: a TOML file (or the embedded default) read with `serde`,
//! checked, and overridden by command-line flags.
//!
//! Every section and key is optional; see `examples/config/proxy.toml` for a documented
//! example. Unknown keys are errors. Errors name the key and, where the file has it, the
//! line: `config error: server.listen (line 4): "127.0.0.1" is not an address`.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// The configuration the binary starts with when given no `--config`.
pub const DEFAULT_CONFIG: &str = include_str!("../config/default.toml");

/// A configuration problem, with the key (dotted path) and the line when known.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key or a value of the wrong type (the message names the
    /// line, the column and the key).
    #[error("{0}")]
    Parse(String),
    /// A value that parsed but is not acceptable.
    #[error("{key}{}: {msg}", .line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Invalid {
        /// Dotted key, e.g. `registrar.min_expires`.
        key: String,
        /// 1-based line in the file, when the key is written there.
        line: Option<usize>,
        /// What is wrong.
        msg: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Logging.
    pub log: LogConfig,
    /// Listening, workers, routing defaults, limits.
    pub server: ServerConfig,
    /// Registrar and location service.
    pub registrar: RegistrarConfig,
    /// Digest authentication.
    pub auth: AuthConfig,
    /// Which sources may send initial requests.
    pub acl: AclConfig,
    /// Class-4 prefix routes.
    pub routes: RoutesConfig,
    /// Call detail records.
    pub cdr: CdrConfig,
    /// The orderly stop (SIGTERM, SIGINT).
    pub shutdown: ShutdownConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// TLS: the certificate for `tls:` listen addresses, the roots for outgoing TLS.
    pub tls: crate::tls::TlsSection,
    /// The resolver for host names in destinations.
    pub dns: DnsConfig,
    /// The TCP connection manager's limits and timeouts (TCP and TLS).
    pub tcp: crate::tcp::TcpSection,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter (`info`, `sipcore_examples=debug` ...); `RUST_LOG` wins.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

/// Receiver pool strategy (`sipcore::pool`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PoolKind {
    /// N workers on one socket, per-flow order kept: spreads one busy peer (a trunk)
    /// over every worker.
    Shared,
    /// One `SO_REUSEPORT` socket per worker, per-flow order kept by the kernel's flow
    /// hash (the default: the least CPU per call and the highest call rate measured with
    /// sipp; one peer's traffic stays on one worker).
    Reuseport,
    /// One reader, N workers behind bounded queues.
    Dispatcher,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Listen addresses: `ADDR` (UDP and TCP), `udp:ADDR`, `tcp:ADDR`, `tls:ADDR`.
    pub listen: Vec<String>,
    /// Where initial requests that are not for a registered user go (over the
    /// transport they came in on).
    pub next_hop: Option<String>,
    /// UDP receiver workers; 0: the hardware threads.
    pub workers: usize,
    /// UDP receiver strategy.
    pub pool: PoolKind,
    /// Live transactions above which new requests get 503 + Retry-After (new INVITEs
    /// already at 80 % of it). A call keeps its transactions 32 s after its end (RFC 6026
    /// Timers L and M, Timer J over UDP): about 100 transaction-seconds per call over
    /// UDP, so 1,000,000 carries 10,000 calls/s (~300 MB of state at the limit).
    pub max_transactions: usize,
    /// `Retry-After` seconds of those 503s.
    pub retry_after_secs: u32,
    /// Timer C: how long an INVITE branch may stay without a final response.
    pub timer_c_secs: u64,
    /// Domains served besides the listen addresses (registrar AORs, local users).
    pub domains: Vec<String>,
    /// UDP receive buffer bytes (`SO_RCVBUF`); 0: the system default.
    pub udp_recv_buffer: usize,
    /// Parallel branches one request may fork into (registered contacts); RFC 5393's
    /// Max-Breadth of the request caps it further.
    pub max_branches: usize,
    /// New requests per second one source address may send (not counting trusted
    /// sources, in-dialog requests, ACKs and CANCELs); 0: no limit.
    pub rate_limit: f64,
    /// How many of them may come at once after a quiet period.
    pub rate_burst: f64,
    /// Over the limit: `"503"` (with Retry-After) or `"drop"`.
    pub rate_limit_action: RateAction,
    /// The UDP receive queue is sized so that, full, it holds about this much work at
    /// the rate the workers can serve (`sipcore::pool::QueueBound`): a throttled or
    /// overloaded proxy then drops what it cannot serve in time instead of serving it
    /// after the sender has retransmitted it. 0: the buffer stays `udp_recv_buffer`.
    pub udp_queue_delay_ms: u64,
    /// A branch that got no response at all within this many milliseconds has failed
    /// (failover to the next destination; Kamailio's `fr_timer`); 0 (the default):
    /// 64*T1 (32 s). It applies to every branch: set it (2-5 s) where destinations have
    /// alternates to fail over to; with a single next hop it only turns a slow answer
    /// into a 408.
    pub no_response_ms: u64,
}

/// What the per-source rate limit does over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum RateAction {
    /// 503 + Retry-After.
    #[default]
    #[serde(rename = "503")]
    Refuse,
    /// Silent drop.
    #[serde(rename = "drop")]
    Drop,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: vec!["127.0.0.1:5060".into()],
            next_hop: None,
            workers: 0,
            pool: PoolKind::Reuseport,
            max_transactions: 1_000_000,
            retry_after_secs: 5,
            timer_c_secs: 180,
            domains: Vec::new(),
            udp_recv_buffer: 4 << 20,
            max_branches: 10,
            rate_limit: 100.0,
            rate_burst: 200.0,
            rate_limit_action: RateAction::Refuse,
            no_response_ms: 0,
            udp_queue_delay_ms: 20,
        }
    }
}

/// `[registrar]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarConfig {
    /// Answer REGISTER and route calls to registered contacts.
    pub enabled: bool,
    /// Shortest registration accepted (423 below it).
    pub min_expires: u32,
    /// Longest registration granted (longer ones are shortened).
    pub max_expires: u32,
    /// Registration time when the request gives none.
    pub default_expires: u32,
    /// Contacts kept per address of record.
    pub max_contacts: usize,
    /// Addresses of record kept in all (new ones beyond get 503); the in-memory store
    /// only (Redis is bounded by its own `maxmemory`, each node's cache by
    /// `cache_entries`).
    pub max_aors: usize,
    /// Longest contact URI stored (a longer one is refused with 400): with the
    /// contacts per AOR and the AORs, it bounds the store's memory.
    pub max_contact_bytes: usize,
    /// The location store: `"memory"` (this node only) or `"redis://HOST:PORT/DB"`
    /// (shared by every node using the same Redis; see docs/SCALE-OUT.md).
    pub store: String,
    /// Longest a REGISTER waits for a shared store to acknowledge its change (and a
    /// call for the first fetch of an address of record this node has not cached);
    /// past it the REGISTER gets 503 with Retry-After.
    pub store_timeout_ms: u64,
    /// `Retry-After` of those 503s, in seconds.
    pub store_retry_after: u32,
    /// Addresses of record a shared store's local cache holds at most.
    pub cache_entries: usize,
    /// Requests that may wait for a shared store's connection (each of its threads);
    /// beyond, a REGISTER gets 503 at once and a lookup is answered from the cache.
    pub store_queue: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            enabled: true,
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 10,
            max_aors: 100_000,
            max_contact_bytes: 512,
            store: "memory".into(),
            store_timeout_ms: 200,
            store_retry_after: 5,
            cache_entries: 100_000,
            store_queue: 1024,
        }
    }
}

/// One user of `[[auth.users]]`: a password, or the stored HA1 values.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserConfig {
    /// User name (the digest `username` and the AOR user part).
    pub username: String,
    /// Clear password (HA1 values are computed from it at start).
    pub password: Option<String>,
    /// Hex `MD5(username:realm:password)`.
    pub ha1_md5: Option<String>,
    /// Hex `SHA-256(username:realm:password)`.
    pub ha1_sha256: Option<String>,
}

/// `[auth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The digest realm.
    pub realm: String,
    /// Challenge REGISTER (401); a REGISTER may then change only its own user's
    /// bindings.
    pub register: bool,
    /// Challenge (407) initial requests that leave towards a gateway, the next hop or
    /// another domain, unless their source is trusted (`acl.trusted`); without it only
    /// trusted sources reach those destinations. `invite` is the older name.
    #[serde(alias = "invite")]
    pub outbound: bool,
    /// Accept credentials without `qop` (RFC 2069 style: no nonce count, so no replay
    /// protection within the nonce lifetime); off, they are challenged again.
    pub allow_no_qop: bool,
    /// Offered algorithms, in order of preference: `SHA-256`, `MD5`.
    pub algorithms: Vec<String>,
    /// Nonce lifetime; an older nonce is answered with `stale=true`.
    pub nonce_ttl_secs: u64,
    /// Nonces whose counts (`nc`) are tracked against replays; when full, the oldest
    /// are dropped and their clients challenged again (`stale=true`).
    pub max_nonces: usize,
    /// The users.
    pub users: Vec<UserConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            realm: "sipcore".into(),
            register: true,
            outbound: false,
            allow_no_qop: false,
            algorithms: vec!["SHA-256".into(), "MD5".into()],
            nonce_ttl_secs: 300,
            max_nonces: 100_000,
            users: Vec::new(),
        }
    }
}

/// `server.next_hop`: an address (over the transport a request came in on) or a URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextHop {
    /// `IP:PORT`.
    Addr(SocketAddr),
    /// A SIP/SIPS URI (`sip:carrier.example`), resolved by RFC 3263 when it names a host.
    Uri(String),
}

impl NextHop {
    /// `IP:PORT` or a SIP/SIPS URI.
    pub fn parse(s: &str) -> Option<NextHop> {
        if let Ok(a) = s.parse() {
            return Some(NextHop::Addr(a));
        }
        crate::target::uri_hop(s.as_bytes()).map(|_| NextHop::Uri(s.to_string()))
    }
}

/// `[dns]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Name servers (`IP:PORT`); empty: those of `/etc/resolv.conf`.
    pub servers: Vec<String>,
    /// How long one query attempt waits.
    pub timeout_ms: u64,
    /// Attempts after the first.
    pub attempts: usize,
    /// Answers cached (TTLs honoured, negative answers too).
    pub cache_entries: usize,
    /// Bytes the cache may use (estimated).
    pub cache_bytes: usize,
    /// Requests that may wait for a name at once; more get 503 + Retry-After. (A
    /// destination that failed is skipped for `routes.blacklist_secs`, or a 503's
    /// Retry-After.)
    pub max_pending: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            servers: Vec::new(),
            timeout_ms: 2000,
            attempts: 1,
            cache_entries: 4096,
            cache_bytes: 4 << 20,
            max_pending: 1000,
        }
    }
}

/// `[acl]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AclConfig {
    /// Networks (`10.0.0.0/8`, `127.0.0.1`) allowed to send initial requests; empty:
    /// everyone.
    pub allow: Vec<String>,
    /// Trusted peer networks (trunks, PBXs, our other proxies): their initial requests
    /// may go to any destination (relay) without authentication.
    pub trusted: Vec<String>,
}

/// One gateway of a prefix route: `address` (`IP:PORT`, with `transport`) or `uri`
/// (a SIP/SIPS URI, host names resolved by RFC 3263).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// `IP:PORT`.
    #[serde(default)]
    pub address: String,
    /// A SIP/SIPS URI instead of `address` (`sip:gw1.carrier.example;transport=tcp`).
    #[serde(default)]
    pub uri: Option<String>,
    /// `udp`, `tcp` or `tls` (default: `udp`; `tls` needs `tls.ca_file`).
    #[serde(default = "udp")]
    pub transport: String,
    /// Lower first.
    #[serde(default)]
    pub priority: u32,
    /// Among equal priorities, higher first.
    #[serde(default)]
    pub weight: u32,
}

fn udp() -> String {
    "udp".into()
}

/// One `[[routes.prefix]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixConfig {
    /// Request-URI user prefix, e.g. `+4930`; the empty prefix matches every number.
    pub prefix: String,
    /// Gateways, tried one after the other.
    pub gateways: Vec<GatewayConfig>,
}

/// `[routes]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutesConfig {
    /// How long a failed gateway is skipped.
    pub blacklist_secs: u64,
    /// The prefix table.
    pub prefix: Vec<PrefixConfig>,
}

impl Default for RoutesConfig {
    fn default() -> Self {
        RoutesConfig {
            blacklist_secs: 30,
            prefix: Vec::new(),
        }
    }
}

/// What to do when the CDR queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CdrFullPolicy {
    /// New calls get 503 while the queue is full.
    Refuse,
    /// The record is dropped and counted.
    Drop,
}

/// `[cdr]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CdrConfig {
    /// Write CDRs.
    pub enabled: bool,
    /// The journal (JSON lines, appended).
    pub path: String,
    /// Records the queue holds before the policy applies.
    pub queue: usize,
    /// `refuse` or `drop`.
    pub on_full: CdrFullPolicy,
    /// Longest time between a record and its fsync.
    pub fsync_ms: u64,
    /// Answered calls remembered for their end record (oldest pushed out first).
    pub max_dialogs: usize,
    /// Bytes those calls may take (each: Call-ID length + 96).
    pub max_dialog_bytes: usize,
    /// Longest call: an answered call is forgotten this long after its answer.
    pub max_call_secs: u64,
    /// Rename the journal to `PATH.<epoch ms>` before it exceeds this size (0: never).
    pub rotate_bytes: u64,
}

impl Default for CdrConfig {
    fn default() -> Self {
        CdrConfig {
            enabled: false,
            path: "sipcore-cdr.jsonl".into(),
            queue: 10_000,
            on_full: CdrFullPolicy::Drop,
            fsync_ms: 200,
            max_dialogs: 200_000,
            max_dialog_bytes: 64 << 20,
            max_call_secs: 4 * 3600,
            rotate_bytes: 0,
        }
    }
}

/// `[shutdown]`: what SIGTERM and SIGINT do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// Longest wait for in-flight requests after new INVITEs start getting 503.
    pub drain_ms: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig { drain_ms: 5000 }
    }
}

/// `[metrics]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `IP:PORT` of the Prometheus text endpoint; absent: off.
    pub listen: Option<String>,
}

/// A listen address with the transports it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    /// The address.
    pub addr: SocketAddr,
    /// Serve UDP.
    pub udp: bool,
    /// Serve TCP.
    pub tcp: bool,
    /// Serve TLS.
    pub tls: bool,
}

/// Parses `ADDR`, `udp:ADDR`, `tcp:ADDR` or `tls:ADDR`.
pub fn parse_listen(s: &str) -> Result<Listen, String> {
    let (kind, addr) = match s.split_once(':') {
        Some((k @ ("udp" | "tcp" | "tls"), rest)) => (k, rest),
        _ => ("", s),
    };
    let addr: SocketAddr = addr
        .parse()
        .map_err(|_| format!("{s:?} is not IP:PORT (optionally prefixed udp:, tcp:, tls:)"))?;
    Ok(Listen {
        addr,
        udp: matches!(kind, "" | "udp"),
        tcp: matches!(kind, "" | "tcp"),
        tls: kind == "tls",
    })
}

/// An IP network for the ACL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    /// Base address.
    pub addr: IpAddr,
    /// Prefix length.
    pub bits: u8,
}

impl Network {
    /// Parses `IP` or `IP/BITS`.
    pub fn parse(s: &str) -> Result<Network, String> {
        let (ip, bits) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = ip
            .parse()
            .map_err(|_| format!("{s:?}: not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = if bits.is_empty() {
            max
        } else {
            bits.parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("{s:?}: prefix length must be 0..={max}"))?
        };
        Ok(Network { addr, bits })
    }

    /// Whether `ip` is in the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(v: u128, bits: u8, width: u8) -> u128 {
            if bits == 0 {
                0
            } else {
                v >> (width - bits)
            }
        }
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u32::from(n).into(), self.bits, 32)
                    == masked(u32::from(a).into(), self.bits, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), self.bits, 128) == masked(u128::from(a), self.bits, 128)
            }
            (IpAddr::V4(n), IpAddr::V6(a)) => a.to_ipv4_mapped().is_some_and(|a| {
                Network {
                    addr: n.into(),
                    bits: self.bits,
                }
                .contains(a.into())
            }),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

impl Config {
    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text)
    }

    /// Parses and checks TOML text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        cfg.check(Some(text))?;
        Ok(cfg)
    }

    /// The embedded default configuration.
    pub fn embedded_default() -> Config {
        // The embedded file is checked by a unit test.
        Config::parse(DEFAULT_CONFIG).unwrap_or_default()
    }

    /// Checks values that parse but make no sense; `text` (the file) gives line numbers.
    pub fn check(&self, text: Option<&str>) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: String| ConfigError::Invalid {
            key: key.to_string(),
            line: text.and_then(|t| line_of(t, key)),
            msg,
        };
        if self.server.listen.is_empty() {
            return Err(bad(
                "server.listen",
                "at least one address is needed".into(),
            ));
        }
        for l in &self.server.listen {
            parse_listen(l).map_err(|m| bad("server.listen", m))?;
        }
        if let Some(h) = &self.server.next_hop {
            if NextHop::parse(h).is_none() {
                return Err(bad(
                    "server.next_hop",
                    format!("{h:?} is neither IP:PORT nor a SIP/SIPS URI"),
                ));
            }
        }
        for d in &self.dns.servers {
            d.parse::<SocketAddr>()
                .map_err(|_| bad("dns.servers", format!("{d:?} is not IP:PORT")))?;
        }
        if self.dns.max_pending == 0 || self.dns.cache_entries == 0 {
            return Err(bad(
                "dns.max_pending",
                "max_pending and cache_entries must be above 0".into(),
            ));
        }
        if self.server.max_transactions == 0 {
            return Err(bad("server.max_transactions", "must be above 0".into()));
        }
        if self.server.timer_c_secs < 1 {
            return Err(bad("server.timer_c_secs", "must be at least 1".into()));
        }
        let r = &self.registrar;
        if r.min_expires > r.max_expires {
            return Err(bad(
                "registrar.min_expires",
                format!("{} is above max_expires {}", r.min_expires, r.max_expires),
            ));
        }
        if r.max_contacts == 0 {
            return Err(bad("registrar.max_contacts", "must be above 0".into()));
        }
        if r.store != "memory" {
            crate::location_redis::check_url(&r.store).map_err(|m| bad("registrar.store", m))?;
        }
        for (key, v) in [
            ("registrar.store_timeout_ms", r.store_timeout_ms as usize),
            ("registrar.cache_entries", r.cache_entries),
            ("registrar.store_queue", r.store_queue),
        ] {
            if v == 0 {
                return Err(bad(key, "must be above 0".into()));
            }
        }
        for a in &self.auth.algorithms {
            if !matches!(a.as_str(), "MD5" | "SHA-256") {
                return Err(bad(
                    "auth.algorithms",
                    format!("{a:?}: supported are \"SHA-256\" and \"MD5\""),
                ));
            }
        }
        if (self.auth.register || self.auth.outbound) && self.auth.algorithms.is_empty() {
            return Err(bad(
                "auth.algorithms",
                "no algorithm to challenge with".into(),
            ));
        }
        if self.auth.max_nonces == 0 {
            return Err(bad("auth.max_nonces", "must be above 0".into()));
        }
        for u in &self.auth.users {
            if u.username.is_empty() {
                return Err(bad("auth.users", "a user without username".into()));
            }
            if u.password.is_none() && u.ha1_md5.is_none() && u.ha1_sha256.is_none() {
                return Err(bad(
                    "auth.users",
                    format!(
                        "user {:?} has neither password nor ha1_md5/ha1_sha256",
                        u.username
                    ),
                ));
            }
            for (k, v, len) in [
                ("ha1_md5", &u.ha1_md5, 32),
                ("ha1_sha256", &u.ha1_sha256, 64),
            ] {
                if let Some(v) = v {
                    if v.len() != len || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(bad(
                            &format!("auth.users.{k}"),
                            format!("user {:?}: {len} hex digits expected", u.username),
                        ));
                    }
                }
            }
        }
        for n in &self.acl.allow {
            Network::parse(n).map_err(|m| bad("acl.allow", m))?;
        }
        for n in &self.acl.trusted {
            Network::parse(n).map_err(|m| bad("acl.trusted", m))?;
        }
        if !(self.server.rate_limit >= 0.0 && self.server.rate_burst >= 1.0) {
            return Err(bad(
                "server.rate_limit",
                "rate_limit must be >= 0 and rate_burst >= 1".into(),
            ));
        }
        if self.server.max_branches == 0 {
            return Err(bad("server.max_branches", "must be above 0".into()));
        }
        for p in &self.routes.prefix {
            if p.gateways.is_empty() {
                return Err(bad(
                    "routes.prefix.gateways",
                    format!("prefix {:?} has no gateway", p.prefix),
                ));
            }
            for g in &p.gateways {
                match &g.uri {
                    Some(u) if g.address.is_empty() => {
                        crate::target::uri_hop(u.as_bytes()).ok_or_else(|| {
                            bad(
                                "routes.prefix.gateways.uri",
                                format!("{u:?} is not a SIP or SIPS URI"),
                            )
                        })?;
                    }
                    Some(_) => {
                        return Err(bad(
                            "routes.prefix.gateways.uri",
                            "give either address or uri, not both".into(),
                        ))
                    }
                    None => {
                        g.address.parse::<SocketAddr>().map_err(|_| {
                            bad(
                                "routes.prefix.gateways.address",
                                format!("{:?} is not IP:PORT", g.address),
                            )
                        })?;
                    }
                }
                if !matches!(
                    g.transport.to_ascii_lowercase().as_str(),
                    "udp" | "tcp" | "tls"
                ) {
                    return Err(bad(
                        "routes.prefix.gateways.transport",
                        format!("{:?}: udp, tcp or tls", g.transport),
                    ));
                }
            }
        }
        if self.cdr.enabled && self.cdr.queue == 0 {
            return Err(bad("cdr.queue", "must be above 0".into()));
        }
        if self.cdr.enabled && self.cdr.max_call_secs == 0 {
            return Err(bad("cdr.max_call_secs", "must be above 0".into()));
        }
        if let Some(m) = &self.metrics.listen {
            m.parse::<SocketAddr>()
                .map_err(|_| bad("metrics.listen", format!("{m:?} is not IP:PORT")))?;
        }
        crate::tls::check(self).map_err(|(key, msg)| bad(key, msg))?;
        crate::tcp::check(&self.tcp).map_err(|(key, msg)| bad(key, msg))?;
        Ok(())
    }

    /// The parsed listen addresses (checked by [`check`](Self::check)).
    pub fn listens(&self) -> Vec<Listen> {
        self.server
            .listen
            .iter()
            .filter_map(|l| parse_listen(l).ok())
            .collect()
    }

    /// The next hop (checked by [`check`](Self::check)).
    pub fn next_hop(&self) -> Option<NextHop> {
        self.server.next_hop.as_deref().and_then(NextHop::parse)
    }

    /// Timer C.
    pub fn timer_c(&self) -> Duration {
        Duration::from_secs(self.server.timer_c_secs)
    }
}

/// The 1-based line where dotted `key` is set in TOML `text` (its last part, inside
/// its table or array of tables), if written there.
pub fn line_of(text: &str, key: &str) -> Option<usize> {
    let (table, name) = key.rsplit_once('.').unwrap_or(("", key));
    let mut current = String::new();
    let mut fallback = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(h) = line.strip_prefix('[') {
            current = h.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            continue;
        }
        let Some((k, _)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k == name || line.contains(&format!("{name} =")) || line.contains(&format!("{name}=")) {
            if table.starts_with(current.as_str()) || current.starts_with(table) {
                return Some(n + 1);
            }
            fallback.get_or_insert(n + 1);
        }
    }
    fallback
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses() {
        let c = Config::parse(DEFAULT_CONFIG).unwrap();
        assert!(c.registrar.enabled);
        assert_eq!(c.listens()[0].addr, "127.0.0.1:5060".parse().unwrap());
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../config/proxy.toml");
        Config::parse(text).unwrap();
    }

    #[test]
    fn unknown_key_names_line() {
        let e =
            Config::parse("[server]\nlisten = [\"127.0.0.1:5060\"]\nworkerz = 3\n").unwrap_err();
        let s = e.to_string();
        assert!(s.contains("line 3") && s.contains("workerz"), "{s}");
    }

    #[test]
    fn invalid_value_names_key_and_line() {
        let e = Config::parse("[registrar]\nmin_expires = 7200\nmax_expires = 60\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "registrar.min_expires (line 2): 7200 is above max_expires 60"
        );
        let e = Config::parse("[server]\n\nnext_hop = \"nowhere\"\n").unwrap_err();
        assert!(e.to_string().starts_with("server.next_hop (line 3)"), "{e}");
    }

    #[test]
    fn location_store_urls() {
        assert_eq!(Config::default().registrar.store, "memory");
        let c = Config::parse("[registrar]\nstore = \"redis://127.0.0.1:6379/2\"\n").unwrap();
        assert_eq!(c.registrar.store, "redis://127.0.0.1:6379/2");
        for bad in [
            "redis:/x",
            "postgres://db",
            "redis://127.0.0.1:6379/notanumber",
        ] {
            let e = Config::parse(&format!("[registrar]\nstore = {bad:?}\n")).unwrap_err();
            assert!(
                e.to_string().contains("registrar.store (line 2)"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn listen_forms() {
        let l = parse_listen("tls:127.0.0.1:5061").unwrap();
        assert!(l.tls && !l.udp && !l.tcp);
        let l = parse_listen("127.0.0.1:5060").unwrap();
        assert!(l.udp && l.tcp && !l.tls);
        assert!(parse_listen("localhost").is_err());
    }

    #[test]
    fn networks() {
        let n = Network::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.1.2.3".parse().unwrap()));
        assert!(Network::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap()));
        assert!(Network::parse("::1")
            .unwrap()
            .contains("::1".parse().unwrap()));
        assert!(Network::parse("10.0.0.0/33").is_err());
    }
}

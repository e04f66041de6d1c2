//! Command-line flags and how they override the configuration file.

use std::path::PathBuf;

use clap::Parser;

use crate::config::{parse_listen, Config, ConfigError, PoolKind};

/// `sipcore-proxy`: a stateful SIP proxy, registrar and Class-4 router on sipcore.
#[derive(Debug, Clone, Parser)]
#[command(name = "sipcore-proxy", version)]
pub struct Cli {
    /// TOML configuration file (default: the embedded one: UDP and TCP on
    /// 127.0.0.1:5060, registrar on with digest, nothing relayed).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Check the configuration and exit (0: fine, 2: error).
    #[arg(long)]
    pub check_config: bool,
    /// Listen address (repeatable): `IP:PORT` for UDP and TCP, `udp:`/`tcp:`/`tls:IP:PORT`
    /// for one transport. Replaces the configured list.
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<String>,
    /// Route every initial request that is not for a registered user to IP:PORT (over
    /// the transport it came in on) or to a SIP URI (`sip:carrier.example`, resolved by
    /// RFC 3263) — from trusted sources, or authenticated ones with `auth.outbound`.
    #[arg(long, value_name = "IP:PORT|URI")]
    pub next_hop: Option<String>,
    /// DNS server for host names in destinations (repeatable; default: those of
    /// `/etc/resolv.conf`). Replaces `dns.servers`.
    #[arg(long, value_name = "IP:PORT")]
    pub dns_server: Vec<String>,
    /// Trusted peer network (repeatable, `10.0.0.0/8` or an address): its requests are
    /// relayed without authentication. Added to `acl.trusted`.
    #[arg(long, value_name = "NET")]
    pub trusted: Vec<String>,
    /// UDP receiver workers (0: the hardware threads).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// The location store: `redis://HOST:PORT/DB` to share the registrations with the
    /// other nodes on that Redis, `memory` for this node alone. Replaces
    /// `registrar.store`.
    #[arg(long, value_name = "URL")]
    pub location: Option<String>,
    /// UDP receiver strategy.
    #[arg(long, value_enum, value_name = "STRATEGY")]
    pub pool: Option<PoolKind>,
}

impl Cli {
    /// The configuration: the file (or the embedded default) with the flags applied,
    /// checked.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let (mut cfg, text) = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                (Config::parse(&text)?, Some(text))
            }
            None => (Config::embedded_default(), None),
        };
        let flag = |key: &str, msg: String| ConfigError::Invalid {
            key: key.into(),
            line: None,
            msg,
        };
        if !self.listen.is_empty() {
            for l in &self.listen {
                parse_listen(l).map_err(|m| flag("--listen", m))?;
            }
            cfg.server.listen = self.listen.clone();
        }
        if let Some(h) = &self.next_hop {
            crate::config::NextHop::parse(h).ok_or_else(|| {
                flag(
                    "--next-hop",
                    format!("{h:?} is neither IP:PORT nor a SIP/SIPS URI"),
                )
            })?;
            cfg.server.next_hop = Some(h.clone());
        }
        for d in &self.dns_server {
            d.parse::<std::net::SocketAddr>()
                .map_err(|_| flag("--dns-server", format!("{d:?} is not IP:PORT")))?;
        }
        if !self.dns_server.is_empty() {
            cfg.dns.servers = self.dns_server.clone();
        }
        for n in &self.trusted {
            crate::config::Network::parse(n).map_err(|m| flag("--trusted", m))?;
            cfg.acl.trusted.push(n.clone());
        }
        if let Some(w) = self.workers {
            cfg.server.workers = w;
        }
        if let Some(l) = &self.location {
            cfg.registrar.store = l.clone();
        }
        if let Some(p) = self.pool {
            cfg.server.pool = p;
        }
        cfg.check(text.as_deref())?;
        Ok(cfg)
    }
}

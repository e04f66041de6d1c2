//! The RFC 3263 selection state machine.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use super::addr::{order_addresses, Family};
use super::records::{normalise, Answer, Query, RecordType};
use super::srv::{order_srv, WeightRng};
use super::{DnsError, MAX_QUERIES, MAX_RECORDS};
use crate::transport::TransportKind;
use crate::uri::SipUri;

/// What the caller can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    /// Supported transports, most preferred first: the order of the SRV queries when
    /// there is no NAPTR, and the filter applied to NAPTR services.
    pub transports: Vec<TransportKind>,
    /// Address families that can be reached (RFC 6724 rule 1).
    pub families: Vec<Family>,
    /// The family tried first when a host has both (RFC 6724 prefers IPv6).
    pub first_family: Family,
}

impl Default for Preferences {
    /// UDP, TCP and TLS; both families, IPv6 first.
    fn default() -> Self {
        Preferences {
            transports: vec![TransportKind::Udp, TransportKind::Tcp, TransportKind::Tls],
            families: vec![Family::V6, Family::V4],
            first_family: Family::V6,
        }
    }
}

/// One place to send to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The transport.
    pub transport: TransportKind,
    /// The address and port.
    pub addr: SocketAddr,
    /// The name a TLS server's certificate must carry (RFC 5922: the URI's host, or
    /// its `maddr`), `None` for a numeric host (check the certificate's IP SANs).
    pub server_name: Option<String>,
    /// The host name this address was resolved from (an SRV target, or the URI's
    /// host); `None` for a numeric host.
    pub resolved_from: Option<String>,
    /// The SRV record's `(priority, weight)` it came from, if any: what a caller that
    /// keeps candidates needs to draw RFC 2782's weighted order again.
    pub srv: Option<(u16, u16)>,
}

/// What the selector needs or has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Resolve this and feed the result to [`Selector::answer`]; poll again for more
    /// queries that can run at the same time.
    Query(Query),
    /// Every query it needs now is out: wait for their answers.
    Wait,
    /// The next candidate to try.
    Target(Candidate),
    /// No more candidates ([`Selector::exhausted`] says why).
    Exhausted,
}

/// Why a selection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// Candidates were given and all were used.
    Tried,
    /// No candidate: every lookup answered that the records do not exist.
    NotFound,
    /// No candidate, and at least one lookup failed (SERVFAIL, timeout, the query
    /// budget): the name may exist.
    LookupFailed,
}

#[derive(Debug, Clone)]
enum Step {
    Naptr,
    Srv {
        name: String,
        transport: TransportKind,
    },
    /// A/AAAA of the URI's host if no SRV step produced a target.
    Fallback {
        transport: TransportKind,
    },
    Host {
        name: String,
        port: u16,
        transport: TransportKind,
        srv: Option<(u16, u16)>,
    },
    Emit(Candidate),
}

/// RFC 3263 §4 target selection for one URI (see the [module docs](super)).
#[derive(Debug)]
pub struct Selector {
    prefs: Preferences,
    secure: bool,
    /// The host to resolve (the URI's host or maddr), normalised.
    domain: String,
    server_name: Option<String>,
    steps: VecDeque<Step>,
    asked: HashMap<Query, Option<Answer>>,
    srv_found: bool,
    yielded: usize,
    failed: bool,
}

impl Selector {
    /// Starts a selection for `uri` (its transport parameter, port, host, `maddr`).
    pub fn new(uri: &SipUri<'_>, prefs: Preferences) -> Result<Selector, DnsError> {
        let secure = uri.is_sips();
        if !prefs.transports.iter().any(|&t| !secure || t.is_secure()) {
            return Err(DnsError::NoTransport);
        }
        let host = uri.maddr().unwrap_or_else(|| uri.host());
        let explicit = match uri.transport() {
            Some(t) => Some(transport_param(t, secure, &prefs)?),
            None => None,
        };
        let mut sel = Selector {
            secure,
            domain: normalise(host.name().unwrap_or("")),
            server_name: host.name().map(normalise),
            prefs,
            steps: VecDeque::new(),
            asked: HashMap::new(),
            srv_found: false,
            yielded: 0,
            failed: false,
        };
        if let Some(ip) = host.ip() {
            // §4.1/§4.2: a numeric host needs no lookup.
            let transport = match explicit {
                Some(t) => t,
                None => sel.default_transport()?,
            };
            let port = uri.port().unwrap_or_else(|| default_port(transport));
            sel.steps.push_back(Step::Emit(Candidate {
                transport,
                addr: SocketAddr::new(ip, port),
                server_name: None,
                resolved_from: None,
                srv: None,
            }));
        } else if let Some(port) = uri.port() {
            // §4.2: an explicit port: A/AAAA, no SRV.
            let transport = match explicit {
                Some(t) => t,
                None => sel.default_transport()?,
            };
            sel.steps.push_back(Step::Host {
                name: sel.domain.clone(),
                port,
                transport,
                srv: None,
            });
        } else if let Some(transport) = explicit {
            // §4.2: the transport is known: its SRV records, else A/AAAA.
            if let Some(name) = srv_name(transport, &sel.domain) {
                sel.steps.push_back(Step::Srv { name, transport });
            }
            sel.steps.push_back(Step::Fallback { transport });
        } else {
            sel.steps.push_back(Step::Naptr);
        }
        Ok(sel)
    }

    /// The next query to make, the next candidate, or that it must wait or is done.
    /// Queries whose answers can be used together (A and AAAA of one host) are yielded
    /// one after the other before [`Next::Wait`].
    pub fn poll(&mut self, rng: &mut dyn WeightRng) -> Next {
        loop {
            let Some(step) = self.steps.front().cloned() else {
                return Next::Exhausted;
            };
            match step {
                Step::Emit(c) => {
                    self.steps.pop_front();
                    self.yielded += 1;
                    return Next::Target(c);
                }
                Step::Naptr => {
                    let q = Query::new(&self.domain, RecordType::Naptr);
                    match self.lookup(&q) {
                        Lookup::Ask => return Next::Query(q),
                        Lookup::Pending => return Next::Wait,
                        Lookup::Done(ans) => {
                            self.steps.pop_front();
                            self.after_naptr(ans);
                        }
                    }
                }
                Step::Srv { name, transport } => {
                    let q = Query::new(&name, RecordType::Srv);
                    match self.lookup(&q) {
                        Lookup::Ask => return Next::Query(q),
                        Lookup::Pending => return Next::Wait,
                        Lookup::Done(ans) => {
                            self.steps.pop_front();
                            let records = match ans {
                                Answer::Srv(v) => v,
                                _ => Vec::new(),
                            };
                            // Any record, even a lone "." (RFC 2782: decidedly not
                            // offered), means the domain uses SRV: no A fallback.
                            self.srv_found |= !records.is_empty();
                            let ordered = order_srv(records, rng);
                            for srv in ordered.into_iter().rev() {
                                self.steps.push_front(Step::Host {
                                    name: normalise(&srv.target),
                                    port: srv.port,
                                    transport,
                                    srv: Some((srv.priority, srv.weight)),
                                });
                            }
                        }
                    }
                }
                Step::Fallback { transport } => {
                    self.steps.pop_front();
                    if !self.srv_found {
                        self.steps.push_front(Step::Host {
                            name: self.domain.clone(),
                            port: default_port(transport),
                            transport,
                            srv: None,
                        });
                    }
                }
                Step::Host {
                    name,
                    port,
                    transport,
                    srv,
                } => {
                    let mut addrs = Vec::new();
                    let mut pending = false;
                    for family in self.prefs.families.clone() {
                        let rtype = match family {
                            Family::V4 => RecordType::A,
                            Family::V6 => RecordType::Aaaa,
                        };
                        let q = Query::new(&name, rtype);
                        match self.lookup(&q) {
                            Lookup::Ask => return Next::Query(q),
                            Lookup::Pending => pending = true,
                            Lookup::Done(Answer::A(v)) => {
                                addrs.extend(v.into_iter().map(IpAddr::V4))
                            }
                            Lookup::Done(Answer::Aaaa(v)) => {
                                addrs.extend(v.into_iter().map(IpAddr::V6))
                            }
                            Lookup::Done(_) => {}
                        }
                    }
                    if pending {
                        return Next::Wait;
                    }
                    self.steps.pop_front();
                    let ordered =
                        order_addresses(addrs, &self.prefs.families, self.prefs.first_family);
                    for ip in ordered.into_iter().rev() {
                        self.steps.push_front(Step::Emit(Candidate {
                            transport,
                            addr: SocketAddr::new(ip, port),
                            server_name: self.server_name.clone(),
                            resolved_from: Some(name.clone()),
                            srv,
                        }));
                    }
                }
            }
        }
    }

    /// Feeds the answer to a query [`poll`](Self::poll) yielded. Answers to queries it
    /// did not ask, second answers, and answers of the wrong record type (taken as a
    /// failed lookup) change nothing else; at most [`MAX_RECORDS`] records are kept.
    pub fn answer(&mut self, query: &Query, answer: Answer) {
        let Some(slot) = self.asked.get_mut(query) else {
            return;
        };
        if slot.is_some() {
            return;
        }
        let answer = match (query.rtype, answer) {
            (_, a @ (Answer::NoRecords | Answer::Failed)) => a,
            (RecordType::Naptr, Answer::Naptr(mut v)) => {
                v.truncate(MAX_RECORDS);
                Answer::Naptr(v)
            }
            (RecordType::Srv, Answer::Srv(mut v)) => {
                v.truncate(MAX_RECORDS);
                Answer::Srv(v)
            }
            (RecordType::A, Answer::A(mut v)) => {
                v.truncate(MAX_RECORDS);
                Answer::A(v)
            }
            (RecordType::Aaaa, Answer::Aaaa(mut v)) => {
                v.truncate(MAX_RECORDS);
                Answer::Aaaa(v)
            }
            _ => Answer::Failed,
        };
        if answer == Answer::Failed {
            self.failed = true;
        }
        *slot = Some(answer);
    }

    /// Why [`Next::Exhausted`] was reached (meaningful once it was).
    pub fn exhausted(&self) -> Exhausted {
        if self.yielded > 0 {
            Exhausted::Tried
        } else if self.failed {
            Exhausted::LookupFailed
        } else {
            Exhausted::NotFound
        }
    }

    /// The queries asked so far and not yet answered.
    pub fn outstanding(&self) -> impl Iterator<Item = &Query> {
        self.asked
            .iter()
            .filter(|(_, a)| a.is_none())
            .map(|(q, _)| q)
    }

    fn lookup(&mut self, q: &Query) -> Lookup {
        match self.asked.get(q) {
            Some(Some(a)) => Lookup::Done(a.clone()),
            Some(None) => Lookup::Pending,
            None if self.asked.len() >= MAX_QUERIES => {
                self.failed = true;
                Lookup::Done(Answer::Failed)
            }
            None => {
                self.asked.insert(q.clone(), None);
                Lookup::Ask
            }
        }
    }

    fn after_naptr(&mut self, ans: Answer) {
        let mut records = match ans {
            Answer::Naptr(v) => v,
            _ => Vec::new(),
        };
        records.sort_by_key(|r| (r.order, r.preference));
        let mut srvs: Vec<(String, TransportKind)> = Vec::new();
        for r in &records {
            if !r.flags.eq_ignore_ascii_case("s") {
                continue;
            }
            let Some(t) = naptr_service(&r.services) else {
                continue;
            };
            if !self.usable(t) {
                continue;
            }
            let name = normalise(&r.replacement);
            if name.is_empty() || srvs.iter().any(|(n, k)| *n == name && *k == t) {
                continue;
            }
            srvs.push((name, t));
        }
        if srvs.is_empty() {
            // §4.1: no (usable) NAPTR: an SRV query per supported transport.
            for &t in &self.prefs.transports {
                if self.usable(t) {
                    if let Some(name) = srv_name(t, &self.domain) {
                        srvs.push((name, t));
                    }
                }
            }
        }
        let fallback = self.default_transport().ok();
        let mut steps: Vec<Step> = srvs
            .into_iter()
            .map(|(name, transport)| Step::Srv { name, transport })
            .collect();
        if let Some(transport) = fallback {
            steps.push(Step::Fallback { transport });
        }
        for s in steps.into_iter().rev() {
            self.steps.push_front(s);
        }
    }

    /// Whether `t` is supported and fits the URI's scheme.
    fn usable(&self, t: TransportKind) -> bool {
        self.prefs.transports.contains(&t) && (!self.secure || t.is_secure())
    }

    /// §4.1 without NAPTR: UDP for SIP (else the first supported), TLS for SIPS.
    fn default_transport(&self) -> Result<TransportKind, DnsError> {
        let wanted = if self.secure {
            TransportKind::Tls
        } else {
            TransportKind::Udp
        };
        if self.prefs.transports.contains(&wanted) {
            return Ok(wanted);
        }
        self.prefs
            .transports
            .iter()
            .copied()
            .find(|&t| self.usable(t))
            .ok_or(DnsError::NoTransport)
    }
}

enum Lookup {
    Ask,
    Pending,
    Done(Answer),
}

/// The transport a `transport=` parameter names, for a SIP or SIPS URI.
fn transport_param(
    param: &str,
    secure: bool,
    prefs: &Preferences,
) -> Result<TransportKind, DnsError> {
    let kind = TransportKind::from_token(param)
        .ok_or_else(|| DnsError::UnsupportedTransport(param.to_owned()))?;
    let kind = match (secure, kind) {
        (true, TransportKind::Tcp) => TransportKind::Tls,
        (true, TransportKind::Ws) => TransportKind::Wss,
        (true, k) if !k.is_secure() => return Err(DnsError::InsecureTransport(k.as_str())),
        (_, k) => k,
    };
    if prefs.transports.contains(&kind) {
        Ok(kind)
    } else {
        Err(DnsError::UnsupportedTransport(param.to_owned()))
    }
}

/// The NAPTR service field's transport (RFC 3263 §4.1, RFC 7118 §5 for WebSocket).
fn naptr_service(services: &str) -> Option<TransportKind> {
    const MAP: [(&str, TransportKind); 6] = [
        ("SIP+D2U", TransportKind::Udp),
        ("SIP+D2T", TransportKind::Tcp),
        ("SIPS+D2T", TransportKind::Tls),
        ("SIP+D2S", TransportKind::Sctp),
        ("SIP+D2W", TransportKind::Ws),
        ("SIPS+D2W", TransportKind::Wss),
    ];
    MAP.iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(services))
        .map(|&(_, k)| k)
}

/// The SRV name for a transport (RFC 3263 §4.1); WebSocket has none.
fn srv_name(t: TransportKind, domain: &str) -> Option<String> {
    let prefix = match t {
        TransportKind::Udp => "_sip._udp.",
        TransportKind::Tcp => "_sip._tcp.",
        TransportKind::Tls => "_sips._tcp.",
        TransportKind::Sctp => "_sip._sctp.",
        TransportKind::Ws | TransportKind::Wss => return None,
    };
    Some(format!("{prefix}{domain}"))
}

/// RFC 3261 §19.1.2 default ports; 80/443 for WebSocket (RFC 7118 URIs name one).
fn default_port(t: TransportKind) -> u16 {
    match t {
        TransportKind::Tls => 5061,
        TransportKind::Ws => 80,
        TransportKind::Wss => 443,
        _ => 5060,
    }
}

//! The registrar (RFC 3261 §10.3): add, refresh and remove bindings (`Expires: 0`, the
//! `*` contact), Expires and Min-Expires (423), q-values, several contacts per address of
//! record; and the key calls are looked up by.
//!
//! The address of record is the user part of the To URI (of the Request-URI for a
//! call) when its host is one of the proxy's, `user@host` otherwise.

use std::time::{Duration, Instant};

use bytes::Bytes;
use sipcore::message::{response_to, Contacts, Request, StatusCode};
use sipcore::uri::Uri;

use crate::config::RegistrarConfig;
use crate::local::Local;
use crate::location::{Binding, Location, MemoryLocation, StoreError};

/// What a REGISTER came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200 with these bindings.
    Ok(Vec<Binding>),
    /// 423 with this Min-Expires.
    IntervalTooBrief(u32),
    /// 400 with this reason.
    BadRequest(&'static str),
    /// 503: the store is full.
    Full,
    /// 503 with Retry-After: the shared store did not acknowledge the change within
    /// its bound (`registrar.store_timeout_ms`); nothing was promised to the UA.
    Unavailable,
    /// 403: the REGISTER would leave the AOR with more contacts than allowed (nothing
    /// was changed: no binding is evicted for a new one).
    TooManyContacts(usize),
}

/// Call-IDs longer than this are kept as a digest (a binding must not pin a huge
/// header: the REGISTER's Call-ID is only compared for equality).
const CALL_ID_KEPT: usize = 64;

/// What a binding keeps of a Call-ID: the value when short, else `sha256:` and the
/// first 16 bytes of its SHA-256 in hex (the same on every node).
pub fn call_id_key(call_id: &str) -> String {
    if call_id.len() <= CALL_ID_KEPT {
        return call_id.to_string();
    }
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(call_id.as_bytes());
    format!(
        "sha256:{}",
        crate::auth::hex(d.get(..16).unwrap_or_default())
    )
}

fn failed(e: StoreError) -> Outcome {
    match e {
        StoreError::Full => Outcome::Full,
        StoreError::Unavailable(why) => {
            tracing::debug!(%why, "REGISTER not stored");
            Outcome::Unavailable
        }
    }
}

/// The registrar and its location store.
#[derive(Debug)]
pub struct Registrar {
    cfg: RegistrarConfig,
    store: Box<dyn Location>,
}

/// The address-of-record key of a URI: `user` for the proxy's own domains, else
/// `user@host`; `None` without a user part.
pub fn aor_of(uri: &[u8], local: &Local) -> Option<String> {
    match Uri::parse(uri).ok()? {
        Uri::Sip(s) => {
            let user = s.user_decoded()?;
            if local.is_local_domain(&s.host()) {
                Some(user.into_owned())
            } else {
                Some(format!("{user}@{}", s.host().as_str().to_ascii_lowercase()))
            }
        }
        Uri::Tel(t) => Some(t.number().to_string()),
        _ => None,
    }
}

impl Registrar {
    /// A registrar with an in-memory store.
    pub fn new(cfg: &RegistrarConfig) -> Registrar {
        Registrar::with_store(cfg, Box::new(MemoryLocation::new(cfg.max_aors)))
    }

    /// A registrar over any [`Location`] store.
    pub fn with_store(cfg: &RegistrarConfig, store: Box<dyn Location>) -> Registrar {
        Registrar {
            cfg: cfg.clone(),
            store,
        }
    }

    /// Current bindings of `aor`, highest q first.
    pub fn lookup(&self, aor: &str, now: Instant) -> Vec<Binding> {
        self.store.lookup(aor, now)
    }

    /// Addresses of record stored.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether none is stored.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// Applies a REGISTER for `aor`.
    pub fn register(&self, aor: &str, req: &Request, now: Instant) -> Outcome {
        let header_expires = match req.expires() {
            Ok(e) => e,
            Err(_) => return Outcome::BadRequest("malformed Expires"),
        };
        let (Ok(call_id), Ok(cseq)) = (req.call_id(), req.cseq()) else {
            return Outcome::BadRequest("malformed Call-ID or CSeq");
        };
        let cseq = cseq.seq;
        let call_id = call_id_key(call_id);
        let call_id = call_id.as_str();
        let contacts = match req.contacts() {
            Ok(c) => c,
            Err(_) => return Outcome::BadRequest("malformed Contact"),
        };
        let list = match contacts {
            Contacts::Wildcard => {
                if header_expires != Some(0) {
                    return Outcome::BadRequest("Contact: * needs Expires: 0");
                }
                return match self.store.modify(aor, now, &mut |v| v.clear()) {
                    Ok(v) => Outcome::Ok(v),
                    Err(e) => failed(e),
                };
            }
            Contacts::List(l) => l,
        };
        let mut changes: Vec<(String, u16, u32)> = Vec::new();
        for c in list {
            let Ok(c) = c else {
                return Outcome::BadRequest("malformed Contact");
            };
            let Ok(uri) = std::str::from_utf8(c.uri_bytes()) else {
                return Outcome::BadRequest("malformed Contact");
            };
            if uri.len() > self.cfg.max_contact_bytes {
                return Outcome::BadRequest("Contact URI too long");
            }
            let expires = c
                .expires()
                .or(header_expires)
                .unwrap_or(self.cfg.default_expires);
            if expires != 0 && expires < self.cfg.min_expires {
                return Outcome::IntervalTooBrief(self.cfg.min_expires);
            }
            changes.push((
                uri.to_string(),
                c.q().unwrap_or(1000),
                expires.min(self.cfg.max_expires),
            ));
        }
        if changes.is_empty() {
            // A query: the current bindings.
            return Outcome::Ok(self.store.lookup(aor, now));
        }
        let max = self.cfg.max_contacts;
        let mut too_many = false;
        let r = self.store.modify(aor, now, &mut |v| {
            let before = v.clone();
            for (uri, q, expires) in &changes {
                let existing = v.iter().position(|b| b.uri.eq_ignore_ascii_case(uri));
                if let Some(i) = existing {
                    // §10.3 step 7: an older or repeated REGISTER of the same Call-ID
                    // does not change the binding.
                    if v[i].call_id == call_id && v[i].cseq >= cseq {
                        continue;
                    }
                    v.remove(i);
                }
                if *expires > 0 {
                    v.push(Binding {
                        uri: uri.clone(),
                        q: *q,
                        expires_at: now + Duration::from_secs(u64::from(*expires)),
                        call_id: call_id.to_string(),
                        cseq,
                    });
                }
            }
            // Refused as a whole, the bindings left as they were (set on every run:
            // a shared store may run this again on newer bindings).
            too_many = v.len() > max;
            if too_many {
                *v = before;
            }
        });
        match r {
            Ok(_) if too_many => Outcome::TooManyContacts(max),
            Ok(v) => Outcome::Ok(v),
            Err(e) => failed(e),
        }
    }

    /// The store's counters as Prometheus text.
    pub fn metrics_text(&self) -> String {
        self.store.metrics_text()
    }

    /// The response bytes for `outcome` (To tagged with `tag`).
    pub fn response(&self, req: &Request, outcome: &Outcome, tag: &str, now: Instant) -> Bytes {
        match outcome {
            Outcome::Ok(bindings) => {
                let contacts: Vec<String> = bindings
                    .iter()
                    .map(|b| {
                        let secs = b.expires_at.saturating_duration_since(now).as_secs();
                        if b.q < 1000 {
                            format!("<{}>;expires={secs};q=0.{:03}", b.uri, b.q)
                        } else {
                            format!("<{}>;expires={secs}", b.uri)
                        }
                    })
                    .collect();
                let mut r = response_to(req, StatusCode::OK).to_tag(tag);
                for c in &contacts {
                    r = r.header("Contact", c.as_str());
                }
                r.build()
            }
            Outcome::IntervalTooBrief(min) => {
                let min = min.to_string();
                let b = response_to(req, StatusCode::INTERVAL_TOO_BRIEF)
                    .to_tag(tag)
                    .header("Min-Expires", min.as_str())
                    .build();
                b
            }
            Outcome::BadRequest(why) => response_to(req, StatusCode::BAD_REQUEST)
                .reason(why)
                .to_tag(tag)
                .build(),
            Outcome::Full => response_to(req, StatusCode::SERVICE_UNAVAILABLE)
                .to_tag(tag)
                .build(),
            Outcome::Unavailable => {
                let secs = self.cfg.store_retry_after.to_string();
                let b = response_to(req, StatusCode::SERVICE_UNAVAILABLE)
                    .reason("Location service unavailable")
                    .to_tag(tag)
                    .header("Retry-After", secs.as_str())
                    .build();
                b
            }
            Outcome::TooManyContacts(_) => response_to(req, StatusCode::FORBIDDEN)
                .reason("Too many contacts")
                .to_tag(tag)
                .build(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sipcore::message::Message;
    use sipcore::transport::TransportKind;

    fn local() -> Local {
        Local::new(
            &[(TransportKind::Udp, "127.0.0.1:5060".parse().unwrap())],
            &[],
        )
    }

    fn reg(call_id: &str, cseq: u32, contact: &str, expires: Option<u32>) -> Request {
        let exp = expires
            .map(|e| format!("Expires: {e}\r\n"))
            .unwrap_or_default();
        let s = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK{cseq}\r\nFrom: <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n{contact}{exp}Content-Length: 0\r\n\r\n"
        );
        match Message::parse(Bytes::from(s)).unwrap() {
            Message::Request(r) => r,
            _ => panic!(),
        }
    }

    fn registrar() -> Registrar {
        Registrar::new(&RegistrarConfig::default())
    }

    #[test]
    fn aor_keys() {
        assert_eq!(
            aor_of(b"sip:alice@127.0.0.1:5060", &local()).as_deref(),
            Some("alice")
        );
        assert_eq!(
            aor_of(b"sip:bob@Example.org", &local()).as_deref(),
            Some("bob@example.org")
        );
        assert_eq!(aor_of(b"sip:127.0.0.1", &local()), None);
    }

    #[test]
    fn add_refresh_remove() {
        let r = registrar();
        let now = Instant::now();
        let out = r.register(
            "alice",
            &reg(
                "c1",
                1,
                "Contact: <sip:alice@10.0.0.1:5090>;q=0.5, <sip:alice@10.0.0.2>\r\n",
                Some(600),
            ),
            now,
        );
        let Outcome::Ok(b) = out else {
            panic!("{out:?}")
        };
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].uri, "sip:alice@10.0.0.2");
        // A repeated CSeq does not change anything; a newer one refreshes.
        r.register(
            "alice",
            &reg("c1", 1, "Contact: <sip:alice@10.0.0.1:5090>\r\n", Some(0)),
            now,
        );
        assert_eq!(r.lookup("alice", now).len(), 2);
        r.register(
            "alice",
            &reg("c1", 2, "Contact: <sip:alice@10.0.0.1:5090>\r\n", Some(0)),
            now,
        );
        assert_eq!(r.lookup("alice", now).len(), 1);
        let out = r.register("alice", &reg("c1", 3, "Contact: *\r\n", Some(0)), now);
        assert_eq!(out, Outcome::Ok(vec![]));
        assert!(r.lookup("alice", now).is_empty());
    }

    #[test]
    fn min_expires_and_star_rules() {
        let r = registrar();
        let now = Instant::now();
        assert_eq!(
            r.register(
                "alice",
                &reg("c1", 1, "Contact: <sip:a@10.0.0.1>;expires=5\r\n", None),
                now
            ),
            Outcome::IntervalTooBrief(60)
        );
        assert!(matches!(
            r.register("alice", &reg("c1", 1, "Contact: *\r\n", Some(60)), now),
            Outcome::BadRequest(_)
        ));
        let Outcome::Ok(b) = r.register(
            "alice",
            &reg("c1", 1, "Contact: <sip:a@10.0.0.1>\r\n", Some(999_999)),
            now,
        ) else {
            panic!()
        };
        assert!(b[0].expires_at <= now + Duration::from_secs(3600));
        let resp = r.response(&reg("c1", 1, "", None), &Outcome::Ok(b), "t", now);
        let text = String::from_utf8_lossy(&resp);
        assert!(
            text.contains("Contact: <sip:a@10.0.0.1>;expires=3600"),
            "{text}"
        );
    }

    #[test]
    fn too_many_contacts_are_refused_without_evicting() {
        let r = Registrar::new(&RegistrarConfig {
            max_contacts: 2,
            ..RegistrarConfig::default()
        });
        let now = Instant::now();
        let two = "Contact: <sip:a@10.0.0.1>, <sip:a@10.0.0.2>\r\n";
        assert!(matches!(
            r.register("alice", &reg("c1", 1, two, Some(600)), now),
            Outcome::Ok(_)
        ));
        let third = "Contact: <sip:evil@10.6.6.6>\r\n";
        assert_eq!(
            r.register("alice", &reg("c2", 1, third, Some(600)), now),
            Outcome::TooManyContacts(2)
        );
        let kept: Vec<String> = r.lookup("alice", now).into_iter().map(|b| b.uri).collect();
        assert_eq!(kept.len(), 2);
        assert!(!kept.iter().any(|u| u.contains("evil")));
        // Positive control: replacing one of one's own is fine.
        let swap = "Contact: <sip:a@10.0.0.2>;expires=0, <sip:a@10.0.0.3>\r\n";
        assert!(
            matches!(r.register("alice", &reg("c1", 2, swap, Some(600)), now), Outcome::Ok(b) if b.len() == 2)
        );
    }

    #[test]
    fn bindings_are_bounded_in_bytes() {
        let r = registrar();
        let now = Instant::now();
        let long = format!("Contact: <sip:a@10.0.0.1;x={}>\r\n", "y".repeat(600));
        assert_eq!(
            r.register("alice", &reg("c1", 1, &long, Some(600)), now),
            Outcome::BadRequest("Contact URI too long")
        );
        let big_call_id = "k".repeat(60_000);
        let out = r.register(
            "alice",
            &reg(&big_call_id, 1, "Contact: <sip:a@10.0.0.1>\r\n", Some(600)),
            now,
        );
        let Outcome::Ok(b) = out else {
            panic!("{out:?}")
        };
        assert!(b[0].call_id.len() <= 64, "{}", b[0].call_id.len());
        assert_eq!(b[0].call_id, call_id_key(&big_call_id));
        assert_ne!(call_id_key(&big_call_id), call_id_key(&"k".repeat(60_001)));
        assert_eq!(call_id_key("short@host"), "short@host");
    }
}

//! Digest authentication (RFC 3261 §22, RFC 7616, RFC 8760): MD5 and SHA-256 with
//! `qop=auth`, users with stored HA1 values, nonces that expire (an expired but
//! genuine nonce is answered with `stale=true`) and whose counts are tracked.
//!
//! A nonce is `<seconds since start, hex><serial, 16 hex><MAC, 16 hex>`, the MAC being
//! the first 8 bytes of `SHA-256(secret ":" seconds ":" serial)`: issuing one keeps no
//! state, every challenge gets a nonce of its own (the serial; two clients challenged
//! in the same second must not share a nonce, or the second one's `nc=00000001` would
//! be a replay of the first's), and a restart (new secret) invalidates old nonces.
//!
//! Once a nonce has authenticated a request with `qop=auth`, its nonce count is kept
//! ([`NonceCounts`], bounded by `auth.max_nonces`): a later request must carry a higher
//! `nc`, else it is a replay and is challenged again (`stale=true`: the credentials
//! were right, so the UA retries with the fresh nonce without asking its user; a
//! replayer cannot). Credentials without `qop` (RFC 2069 style, no `nc`) cannot be
//! protected that way: they are challenged again unless `auth.allow_no_qop` accepts
//! them; every challenge offers `qop="auth"`.
//!
//! Further checks: the credentials' `uri` must be the Request-URI (a response computed
//! for another request is not reused); a missing `algorithm` means MD5, refused when
//! MD5 is not configured; challenges list the strongest algorithm first; responses are
//! compared in constant time; and an unknown user is treated like a wrong password of
//! a known one (same work, same answer), so that scanners learn nothing.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};
use sipcore::message::{Credentials, Request};

use crate::config::AuthConfig;
use crate::nonces::{NonceCounts, NonceUse};

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `MD5` (RFC 2617 compatible).
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
}

impl Algorithm {
    /// The token in challenges and credentials.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn from_name(s: &str) -> Option<Algorithm> {
        if s.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// Lower-case hex of the hash of `parts` joined with `:`.
    pub fn hash(self, parts: &[&[u8]]) -> String {
        fn run<D: Digest>(parts: &[&[u8]]) -> String {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            hex(&d.finalize())
        }
        match self {
            Algorithm::Md5 => run::<Md5>(parts),
            Algorithm::Sha256 => run::<Sha256>(parts),
        }
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[derive(Debug, Clone, Default)]
struct User {
    ha1_md5: Option<String>,
    ha1_sha256: Option<String>,
}

/// The outcome of checking a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid credentials of this user.
    Authenticated(String),
    /// No (usable) credentials: challenge; `stale`: the nonce had expired.
    Challenge {
        /// Add `stale=true`.
        stale: bool,
    },
    /// Credentials for an unknown user or with a wrong response: 403.
    Forbidden,
}

/// The realm, the users and the nonce secret.
#[derive(Debug)]
pub struct Auth {
    realm: String,
    users: HashMap<String, User>,
    algorithms: Vec<Algorithm>,
    nonce_ttl: Duration,
    secret: String,
    epoch: Instant,
    /// The serial of the next nonce (starts at a random value).
    serial: AtomicU64,
    counts: NonceCounts,
    /// Challenge REGISTER.
    pub register: bool,
    /// Challenge initial requests leaving towards gateways, the next hop or other
    /// domains (from untrusted sources).
    pub outbound: bool,
    allow_no_qop: bool,
}

/// Strongest first.
fn strength(a: Algorithm) -> u8 {
    match a {
        Algorithm::Sha256 => 0,
        Algorithm::Md5 => 1,
    }
}

/// Equality whose time depends on the lengths only.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    }) == 0
}

impl Auth {
    /// From the `[auth]` section (checked); `now` is the nonce clock's epoch.
    pub fn new(cfg: &AuthConfig, now: Instant) -> Auth {
        let users = cfg
            .users
            .iter()
            .map(|u| {
                let from_pw = |a: Algorithm| {
                    u.password.as_ref().map(|p| {
                        a.hash(&[u.username.as_bytes(), cfg.realm.as_bytes(), p.as_bytes()])
                    })
                };
                let user = User {
                    ha1_md5: u
                        .ha1_md5
                        .as_ref()
                        .map(|h| h.to_ascii_lowercase())
                        .or_else(|| from_pw(Algorithm::Md5)),
                    ha1_sha256: u
                        .ha1_sha256
                        .as_ref()
                        .map(|h| h.to_ascii_lowercase())
                        .or_else(|| from_pw(Algorithm::Sha256)),
                };
                (u.username.clone(), user)
            })
            .collect();
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x006e_6f6e_6365);
        let mut h2 = std::collections::hash_map::RandomState::new().build_hasher();
        h2.write_u64(h.finish());
        let mut algorithms: Vec<Algorithm> = cfg
            .algorithms
            .iter()
            .filter_map(|a| Algorithm::from_name(a))
            .collect();
        algorithms.sort_by_key(|&a| strength(a));
        algorithms.dedup();
        Auth {
            realm: cfg.realm.clone(),
            users,
            algorithms,
            nonce_ttl: Duration::from_secs(cfg.nonce_ttl_secs),
            secret: format!("{:016x}{:016x}", h.finish(), h2.finish()),
            epoch: now,
            serial: AtomicU64::new(h2.finish().rotate_left(17) ^ h.finish()),
            counts: NonceCounts::new(cfg.max_nonces),
            register: cfg.register,
            outbound: cfg.outbound,
            allow_no_qop: cfg.allow_no_qop,
        }
    }

    /// Whether `name` is a configured user.
    pub fn is_user(&self, name: &str) -> bool {
        self.users.contains_key(name)
    }

    fn mac(&self, stamp: &str, serial: &str) -> String {
        let full =
            Algorithm::Sha256.hash(&[self.secret.as_bytes(), stamp.as_bytes(), serial.as_bytes()]);
        full.get(..16).unwrap_or_default().to_string()
    }

    /// A fresh nonce, unique to this call.
    pub fn nonce(&self, now: Instant) -> String {
        let stamp = format!("{:x}", now.saturating_duration_since(self.epoch).as_secs());
        let serial = format!("{:016x}", self.serial.fetch_add(1, Ordering::Relaxed));
        let mac = self.mac(&stamp, &serial);
        format!("{stamp}{serial}{mac}")
    }

    /// A nonce of ours: `Ok((issued, serial, fresh))`, the second it was issued at, its
    /// serial, and whether it is still fresh; `Err`: not ours.
    fn check_nonce(&self, nonce: &str, now: Instant) -> Result<(u64, u64, bool), ()> {
        let split = nonce.len().checked_sub(32).ok_or(())?;
        let stamp = nonce.get(..split).ok_or(())?;
        let serial = nonce.get(split..split + 16).ok_or(())?;
        let mac = nonce.get(split + 16..).ok_or(())?;
        if stamp.is_empty() || self.mac(stamp, serial) != mac {
            return Err(());
        }
        let secs = u64::from_str_radix(stamp, 16).map_err(|_| ())?;
        let serial = u64::from_str_radix(serial, 16).map_err(|_| ())?;
        let age = now
            .saturating_duration_since(self.epoch)
            .saturating_sub(Duration::from_secs(secs));
        Ok((secs, serial, age <= self.nonce_ttl))
    }

    /// Nonces issued before this second have expired at `now` (what
    /// [`check_nonce`](Self::check_nonce) calls stale, and a little less).
    fn expired_before(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch)
            .as_secs()
            .saturating_sub(self.nonce_ttl.as_secs())
    }

    /// Nonces whose counts are tracked now.
    pub fn tracked_nonces(&self) -> usize {
        self.counts.len()
    }

    /// The challenge header values (one per algorithm, preferred first).
    pub fn challenges(&self, now: Instant, stale: bool) -> Vec<String> {
        let nonce = self.nonce(now);
        self.algorithms
            .iter()
            .map(|a| {
                format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{}",
                    self.realm,
                    a.name(),
                    if stale { ", stale=true" } else { "" }
                )
            })
            .collect()
    }

    /// Checks the request's credentials for our realm: `Authorization` when `proxy` is
    /// false (registrar, 401), `Proxy-Authorization` when true (proxy, 407).
    pub fn check(&self, req: &Request, proxy: bool, now: Instant) -> Verdict {
        let creds: Vec<Credentials<'_>> = if proxy {
            req.proxy_authorization().filter_map(Result::ok).collect()
        } else {
            req.authorization().filter_map(Result::ok).collect()
        };
        let Some(c) = creds
            .iter()
            .find(|c| c.is_digest() && c.realm().as_deref() == Some(self.realm.as_str()))
        else {
            return Verdict::Challenge { stale: false };
        };
        self.verify(c, req.method().as_str(), req.uri_bytes(), now)
    }

    fn verify(
        &self,
        c: &Credentials<'_>,
        method: &str,
        request_uri: &[u8],
        now: Instant,
    ) -> Verdict {
        let (Some(username), Some(nonce), Some(uri), Some(response)) =
            (c.username(), c.nonce(), c.uri(), c.response())
        else {
            return Verdict::Challenge { stale: false };
        };
        // RFC 7616 §3.4.6: the digest-uri names this request's target.
        if !uri.as_bytes().eq_ignore_ascii_case(request_uri) {
            return Verdict::Forbidden;
        }
        // RFC 7616 §3.3: no algorithm is MD5.
        let algorithm = c
            .algorithm()
            .map_or(Some(Algorithm::Md5), |a| Algorithm::from_name(&a))
            .filter(|a| self.algorithms.contains(a));
        let Some(algorithm) = algorithm else {
            return Verdict::Challenge { stale: false };
        };
        if c.qop().is_none() && !self.allow_no_qop {
            return Verdict::Challenge { stale: false };
        }
        // An unknown user costs the same hashing as a known one and gets the same
        // answer as a wrong password.
        let user = self.users.get(username.as_ref());
        let known = user.is_some();
        let ha1 = user.and_then(|u| match algorithm {
            Algorithm::Md5 => u.ha1_md5.as_deref(),
            Algorithm::Sha256 => u.ha1_sha256.as_deref(),
        });
        let unknown_ha1 = algorithm.hash(&[username.as_bytes(), self.secret.as_bytes()]);
        let ha1 = ha1.unwrap_or(unknown_ha1.as_str());
        let (issued, serial) = match self.check_nonce(&nonce, now) {
            Ok((issued, serial, true)) => (issued, serial),
            Ok((_, _, false)) => return Verdict::Challenge { stale: true },
            Err(()) => return Verdict::Challenge { stale: false },
        };
        let ha2 = algorithm.hash(&[method.as_bytes(), uri.as_bytes()]);
        let mut count = None;
        let expected = match c.qop() {
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let (Some(nc), Some(cnonce)) = (c.param("nc"), c.cnonce()) else {
                    return Verdict::Challenge { stale: false };
                };
                let Some(n) = parse_nc(&nc) else {
                    return Verdict::Challenge { stale: false };
                };
                count = Some(n);
                algorithm.hash(&[
                    ha1.as_bytes(),
                    nonce.as_bytes(),
                    nc.as_bytes(),
                    cnonce.as_bytes(),
                    q.as_bytes(),
                    ha2.as_bytes(),
                ])
            }
            Some(_) => return Verdict::Challenge { stale: false },
            None => algorithm.hash(&[ha1.as_bytes(), nonce.as_bytes(), ha2.as_bytes()]),
        };
        if !ct_eq(expected.as_bytes(), response.as_bytes()) || !known {
            return Verdict::Forbidden;
        }
        if let Some(nc) = count {
            match self
                .counts
                .record(issued, serial, nc, self.expired_before(now))
            {
                NonceUse::Accepted => {}
                NonceUse::Replayed | NonceUse::Dropped => {
                    return Verdict::Challenge { stale: true }
                }
            }
        }
        Verdict::Authenticated(username.into_owned())
    }
}

/// A nonce count: 8 hex digits (RFC 7616 `nc-value`; fewer are taken too).
fn parse_nc(nc: &str) -> Option<u32> {
    if nc.is_empty() || nc.len() > 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(nc, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UserConfig;
    use bytes::Bytes;
    use sipcore::message::Message;

    fn auth() -> Auth {
        auth_with(100_000)
    }

    fn auth_with(max_nonces: usize) -> Auth {
        Auth::new(
            &AuthConfig {
                realm: "sipcore".into(),
                register: true,
                max_nonces,
                users: vec![UserConfig {
                    username: "alice".into(),
                    password: Some("secret".into()),
                    ..Default::default()
                }],
                ..Default::default()
            },
            Instant::now(),
        )
    }

    fn register(auth_header: &str) -> Request {
        let s = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK1\r\nFrom: <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: r1\r\nCSeq: 2 REGISTER\r\n{auth_header}Content-Length: 0\r\n\r\n"
        );
        match Message::parse(Bytes::from(s)).unwrap() {
            Message::Request(r) => r,
            _ => panic!(),
        }
    }

    fn answer(a: Algorithm, nonce: &str, password: &str, qop: bool) -> String {
        answer_nc(a, nonce, password, qop, 1)
    }

    fn answer_nc(a: Algorithm, nonce: &str, password: &str, qop: bool, nc: u32) -> String {
        let ha1 = a.hash(&[b"alice", b"sipcore", password.as_bytes()]);
        let ha2 = a.hash(&[b"REGISTER", b"sip:127.0.0.1"]);
        if qop {
            let nc = format!("{nc:08x}");
            let r = a.hash(&[
                ha1.as_bytes(),
                nonce.as_bytes(),
                nc.as_bytes(),
                b"cn",
                b"auth",
                ha2.as_bytes(),
            ]);
            format!("Authorization: Digest username=\"alice\", realm=\"sipcore\", nonce=\"{nonce}\", uri=\"sip:127.0.0.1\", response=\"{r}\", algorithm={}, qop=auth, nc={nc}, cnonce=\"cn\"\r\n", a.name())
        } else {
            let r = a.hash(&[ha1.as_bytes(), nonce.as_bytes(), ha2.as_bytes()]);
            format!("Authorization: Digest username=\"alice\", realm=\"sipcore\", nonce=\"{nonce}\", uri=\"sip:127.0.0.1\", response=\"{r}\", algorithm={}\r\n", a.name())
        }
    }

    #[test]
    fn md5_rfc2617_vector() {
        // RFC 2617 §3.5: HA1 for Mufasa:testrealm@host.com:Circle Of Life.
        assert_eq!(
            Algorithm::Md5.hash(&[b"Mufasa", b"testrealm@host.com", b"Circle Of Life"]),
            "939e7578ed9e3c518a452acee763bce9"
        );
    }

    #[test]
    fn challenge_then_accept() {
        let a = auth();
        let now = Instant::now();
        assert_eq!(
            a.check(&register(""), false, now),
            Verdict::Challenge { stale: false }
        );
        let ch = a.challenges(now, false);
        assert!(ch[0].contains("algorithm=SHA-256") && ch[1].contains("algorithm=MD5"));
        let nonce = a.nonce(now);
        let mut nc = 0;
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            nc += 1; // one nonce, so its count grows across the requests
            let r = register(&answer_nc(alg, &nonce, "secret", true, nc));
            assert_eq!(
                a.check(&r, false, now),
                Verdict::Authenticated("alice".into())
            );
            // Without qop: no replay protection, so challenged again by default.
            let r = register(&answer_nc(alg, &nonce, "secret", false, nc));
            assert_eq!(a.check(&r, false, now), Verdict::Challenge { stale: false });
        }
        let wrong = register(&answer(Algorithm::Md5, &nonce, "guess", true));
        assert_eq!(a.check(&wrong, false, now), Verdict::Forbidden);
        let forged = register(&answer(
            Algorithm::Md5,
            "10123456789abcdef0123456789abcdef",
            "secret",
            true,
        ));
        assert_eq!(
            a.check(&forged, false, now),
            Verdict::Challenge { stale: false }
        );
    }

    fn with_cfg(f: impl FnOnce(&mut AuthConfig)) -> Auth {
        let mut cfg = AuthConfig {
            realm: "sipcore".into(),
            register: true,
            users: vec![UserConfig {
                username: "alice".into(),
                password: Some("secret".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        f(&mut cfg);
        Auth::new(&cfg, Instant::now())
    }

    #[test]
    fn no_qop_only_when_allowed() {
        let a = with_cfg(|c| c.allow_no_qop = true);
        let now = Instant::now();
        let nonce = a.nonce(now);
        let r = register(&answer(Algorithm::Md5, &nonce, "secret", false));
        assert_eq!(
            a.check(&r, false, now),
            Verdict::Authenticated("alice".into())
        );
    }

    #[test]
    fn the_digest_uri_must_be_the_request_uri() {
        let a = auth();
        let now = Instant::now();
        let nonce = a.nonce(now);
        let good = answer(Algorithm::Sha256, &nonce, "secret", true);
        // The same (valid) credentials on a request for another URI.
        let s = format!(
            "REGISTER sip:127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK1\r\nFrom: <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: r1\r\nCSeq: 2 REGISTER\r\n{good}Content-Length: 0\r\n\r\n"
        );
        let Message::Request(other) = Message::parse(Bytes::from(s)).unwrap() else {
            panic!()
        };
        assert_eq!(a.check(&other, false, now), Verdict::Forbidden);
        // Positive control: the request it was computed for.
        assert_eq!(
            a.check(&register(&good), false, now),
            Verdict::Authenticated("alice".into())
        );
    }

    #[test]
    fn a_missing_algorithm_is_md5_and_refused_without_it() {
        let a = with_cfg(|c| c.algorithms = vec!["SHA-256".into()]);
        let now = Instant::now();
        let nonce = a.nonce(now);
        let md5 = answer(Algorithm::Md5, &nonce, "secret", true).replace(", algorithm=MD5", "");
        assert!(!md5.contains("algorithm"));
        assert_eq!(
            a.check(&register(&md5), false, now),
            Verdict::Challenge { stale: false }
        );
        let a = auth();
        let nonce = a.nonce(now);
        let md5 = answer(Algorithm::Md5, &nonce, "secret", true).replace(", algorithm=MD5", "");
        assert_eq!(
            a.check(&register(&md5), false, now),
            Verdict::Authenticated("alice".into())
        );
    }

    #[test]
    fn strongest_algorithm_first_whatever_the_configured_order() {
        let a = with_cfg(|c| c.algorithms = vec!["MD5".into(), "SHA-256".into()]);
        let ch = a.challenges(Instant::now(), false);
        assert!(ch[0].contains("SHA-256") && ch[1].contains("MD5"));
    }

    #[test]
    fn unknown_users_look_like_wrong_passwords() {
        let a = auth();
        let now = Instant::now();
        let nonce = a.nonce(now);
        let wrong = register(&answer(Algorithm::Sha256, &nonce, "guess", true));
        let unknown = register(
            &answer(Algorithm::Sha256, &nonce, "secret", true).replace("\"alice\"", "\"mallory\""),
        );
        assert_eq!(a.check(&wrong, false, now), Verdict::Forbidden);
        assert_eq!(a.check(&unknown, false, now), Verdict::Forbidden);
        assert!(ct_eq(b"abC", b"ABc") && !ct_eq(b"abc", b"abd") && !ct_eq(b"ab", b"abc"));
    }

    #[test]
    fn expired_nonce_is_stale() {
        let a = auth();
        let now = Instant::now();
        let nonce = a.nonce(now);
        let r = register(&answer(Algorithm::Sha256, &nonce, "secret", true));
        let later = now + Duration::from_secs(301);
        assert_eq!(
            a.check(&r, false, later),
            Verdict::Challenge { stale: true }
        );
        assert!(a.challenges(later, true)[0].ends_with("stale=true"));
    }

    #[test]
    fn a_reused_nonce_count_is_a_replay() {
        let a = auth();
        let now = Instant::now();
        let nonce = a.nonce(now);
        let with = |nc: u32| register(&answer_nc(Algorithm::Sha256, &nonce, "secret", true, nc));
        let ok = Verdict::Authenticated("alice".into());
        let replay = Verdict::Challenge { stale: true };
        assert_eq!(a.check(&with(1), false, now), ok);
        assert_eq!(a.check(&with(1), false, now), replay);
        assert_eq!(a.check(&with(2), false, now), ok);
        assert_eq!(a.check(&with(1), false, now), replay);
        assert_eq!(a.check(&with(2), false, now), replay);
        // A wrong answer is refused before its count is looked at, and does not use it.
        let wrong = register(&answer_nc(Algorithm::Sha256, &nonce, "guess", true, 3));
        assert_eq!(a.check(&wrong, false, now), Verdict::Forbidden);
        assert_eq!(a.check(&with(3), false, now), ok);
        // Counts may skip; the nonce is the same for either algorithm.
        let md5 = register(&answer_nc(Algorithm::Md5, &nonce, "secret", true, 9));
        assert_eq!(a.check(&md5, false, now), ok);
        assert_eq!(a.check(&with(8), false, now), replay);
        assert_eq!(a.tracked_nonces(), 1);
        // Every challenge has a nonce of its own, even within a second (two UAs
        // challenged together both start at nc=00000001), with its own count.
        let other = a.nonce(now);
        assert_ne!(other, nonce);
        let r = register(&answer_nc(Algorithm::Sha256, &other, "secret", true, 1));
        assert_eq!(a.check(&r, false, now), ok);
        assert_eq!(a.tracked_nonces(), 2);
        // Without qop there is no count to protect it: challenged again.
        let plain = register(&answer(Algorithm::Md5, &nonce, "secret", false));
        assert_eq!(
            a.check(&plain, false, now),
            Verdict::Challenge { stale: false }
        );
        assert_eq!(a.tracked_nonces(), 2);
        // A count that is not 1-8 hex digits is no answer.
        let bad = register(
            &answer_nc(Algorithm::Sha256, &nonce, "secret", true, 10)
                .replace("nc=0000000a", "nc=00000000a"),
        );
        assert_eq!(
            a.check(&bad, false, now),
            Verdict::Challenge { stale: false }
        );
    }

    #[test]
    fn expired_nonces_leave_the_count_table() {
        let a = auth();
        let now = Instant::now();
        let nonce = a.nonce(now);
        let r = register(&answer(Algorithm::Sha256, &nonce, "secret", true));
        assert_eq!(
            a.check(&r, false, now),
            Verdict::Authenticated("alice".into())
        );
        let later = now + Duration::from_secs(302);
        let fresh = a.nonce(later);
        let r = register(&answer(Algorithm::Sha256, &fresh, "secret", true));
        assert_eq!(
            a.check(&r, false, later),
            Verdict::Authenticated("alice".into())
        );
        assert_eq!(a.tracked_nonces(), 1);
    }

    #[test]
    fn a_full_count_table_challenges_the_oldest_nonces_again() {
        let a = auth_with(2);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let nonces: Vec<String> = (0..3).map(|s| a.nonce(at(s))).collect();
        let use_nonce = |i: usize, nc: u32| {
            let r = register(&answer_nc(
                Algorithm::Sha256,
                &nonces[i],
                "secret",
                true,
                nc,
            ));
            a.check(&r, false, at(3))
        };
        let ok = Verdict::Authenticated("alice".into());
        for i in 0..3 {
            assert_eq!(use_nonce(i, 1), ok);
        }
        assert_eq!(a.tracked_nonces(), 2);
        // The oldest nonce was dropped: it is challenged again, never replayable.
        assert_eq!(use_nonce(0, 1), Verdict::Challenge { stale: true });
        assert_eq!(use_nonce(0, 2), Verdict::Challenge { stale: true });
        // The others keep their counts.
        assert_eq!(use_nonce(1, 1), Verdict::Challenge { stale: true });
        assert_eq!(use_nonce(2, 2), ok);
        // A fresh nonce goes in (dropping the next oldest).
        let fresh = a.nonce(at(4));
        let r = register(&answer_nc(Algorithm::Sha256, &fresh, "secret", true, 1));
        assert_eq!(a.check(&r, false, at(4)), ok);
        assert_eq!(a.tracked_nonces(), 2);
    }
}

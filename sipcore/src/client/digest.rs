//! Answering a digest challenge (RFC 7616, RFC 8760; RFC 2617 compatible): the
//! `Authorization` / `Proxy-Authorization` value for a `WWW-Authenticate` /
//! `Proxy-Authenticate` challenge, with MD5 or SHA-256 and `qop=auth` when offered.
//!
//! ```
//! use sipcore::client::{answer_challenge, DigestCredentials};
//! use sipcore::message::Challenge;
//!
//! let ch = Challenge::parse(b"Digest realm=\"sipcore\", nonce=\"abc\", qop=\"auth\", algorithm=SHA-256")?;
//! let creds = DigestCredentials::new("alice", "secret");
//! let v = answer_challenge(&ch, &creds, "REGISTER", "sip:example.com", "0a4f113b", 1)?;
//! assert!(v.starts_with("Digest username=\"alice\", realm=\"sipcore\", nonce=\"abc\""));
//! assert!(v.contains("algorithm=SHA-256") && v.contains("qop=auth, nc=00000001"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::message::Challenge;

/// A user name and password (or its precomputed HA1 values are out of scope here).
#[derive(Clone)]
pub struct DigestCredentials {
    /// The digest `username`.
    pub username: String,
    password: String,
}

impl std::fmt::Debug for DigestCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl DigestCredentials {
    /// `username` with `password`.
    pub fn new(username: &str, password: &str) -> DigestCredentials {
        DigestCredentials {
            username: username.to_string(),
            password: password.to_string(),
        }
    }
}

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Not a Digest challenge.
    #[error("not a Digest challenge")]
    NotDigest,
    /// A parameter the answer needs is missing.
    #[error("the challenge has no {0}")]
    Missing(&'static str),
    /// An algorithm we do not implement (only MD5 and SHA-256; the `-sess` variants
    /// are not).
    #[error("unsupported digest algorithm {0:?}")]
    Algorithm(String),
    /// The challenge offers qop values but not `auth` (`auth-int` is not implemented).
    #[error("the challenge offers no qop we support")]
    Qop,
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn hash(sha256: bool, parts: &[&str]) -> String {
    fn run<D: Digest>(parts: &[&str]) -> String {
        let mut d = D::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                d.update(b":");
            }
            d.update(p.as_bytes());
        }
        hex(&d.finalize())
    }
    if sha256 {
        run::<Sha256>(parts)
    } else {
        run::<Md5>(parts)
    }
}

/// A quoted-string value: `"` and `\` escaped.
fn quoted(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// The credentials value answering `challenge` for a request `method` to `uri`, with
/// client nonce `cnonce` and nonce count `nc` (1 for the first use of a nonce).
pub fn answer_challenge(
    challenge: &Challenge<'_>,
    creds: &DigestCredentials,
    method: &str,
    uri: &str,
    cnonce: &str,
    nc: u32,
) -> Result<String, DigestError> {
    if !challenge.is_digest() {
        return Err(DigestError::NotDigest);
    }
    let realm = challenge.realm().ok_or(DigestError::Missing("realm"))?;
    let nonce = challenge.nonce().ok_or(DigestError::Missing("nonce"))?;
    let algorithm = challenge.algorithm();
    let sha256 = match algorithm.as_deref() {
        None => false,
        Some(a) if a.eq_ignore_ascii_case("MD5") => false,
        Some(a) if a.eq_ignore_ascii_case("SHA-256") => true,
        Some(a) => return Err(DigestError::Algorithm(a.to_string())),
    };
    let offers_qop = challenge.qop_options().next().is_some();
    if offers_qop && !challenge.offers_qop("auth") {
        return Err(DigestError::Qop);
    }
    let ha1 = hash(sha256, &[&creds.username, &realm, &creds.password]);
    let ha2 = hash(sha256, &[method, uri]);
    let nc = format!("{nc:08x}");
    let response = if offers_qop {
        hash(sha256, &[&ha1, &nonce, &nc, cnonce, "auth", &ha2])
    } else {
        hash(sha256, &[&ha1, &nonce, &ha2])
    };
    let mut v = format!(
        "Digest username={}, realm={}, nonce={}, uri={}, response=\"{response}\"",
        quoted(&creds.username),
        quoted(&realm),
        quoted(&nonce),
        quoted(uri)
    );
    if let Some(a) = algorithm {
        let _ = write!(v, ", algorithm={a}");
    }
    if offers_qop {
        let _ = write!(v, ", qop=auth, nc={nc}, cnonce={}", quoted(cnonce));
    }
    if let Some(o) = challenge.opaque() {
        let _ = write!(v, ", opaque={}", quoted(&o));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example_without_qop_and_rfc7616_sha256_with_it() {
        // RFC 2617 §3.5's values, qop-less form: the response is MD5(HA1:nonce:HA2).
        let ch = Challenge::parse(
            b"Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        let c = DigestCredentials::new("Mufasa", "Circle Of Life");
        let v = answer_challenge(&ch, &c, "GET", "/dir/index.html", "x", 1).unwrap();
        let ha1 = hash(false, &["Mufasa", "testrealm@host.com", "Circle Of Life"]);
        assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
        let ha2 = hash(false, &["GET", "/dir/index.html"]);
        let r = hash(false, &[&ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", &ha2]);
        assert!(v.contains(&format!("response=\"{r}\"")), "{v}");
        assert!(v.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
        assert!(!v.contains("qop"));
        // RFC 7616 §3.9.1's SHA-256 example response.
        let ch = Challenge::parse(
            b"Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
        )
        .unwrap();
        let c = DigestCredentials::new("Mufasa", "Circle of Life");
        let v = answer_challenge(
            &ch,
            &c,
            "GET",
            "/dir/index.html",
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            1,
        )
        .unwrap();
        assert!(
            v.contains(
                "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""
            ),
            "{v}"
        );
    }

    #[test]
    fn what_cannot_be_answered() {
        let c = DigestCredentials::new("a", "b");
        let basic = Challenge::parse(b"Basic realm=\"x\"").unwrap();
        assert_eq!(
            answer_challenge(&basic, &c, "R", "u", "c", 1),
            Err(DigestError::NotDigest)
        );
        let sess =
            Challenge::parse(b"Digest realm=\"x\", nonce=\"n\", algorithm=MD5-sess").unwrap();
        assert!(matches!(
            answer_challenge(&sess, &c, "R", "u", "c", 1),
            Err(DigestError::Algorithm(_))
        ));
        let int = Challenge::parse(b"Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\"").unwrap();
        assert_eq!(
            answer_challenge(&int, &c, "R", "u", "c", 1),
            Err(DigestError::Qop)
        );
        // The password never shows in Debug output.
        let c = DigestCredentials::new("alice", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}

//! Seedable generation of branches, tags and Call-IDs, and the keyed hash of the table.
//!
//! SplitMix64 over an atomic counter: lock-free from any thread, a bijection of the
//! counter (no repeats within 2^64 draws of one seed), and deterministic for a given seed
//! and call order, which the simulations rely on. It is not a cryptographic generator:
//! branches only need to be unique, and tags and Call-IDs unguessable enough that a
//! peer cannot hit them by chance. No clock is read; seed it from the caller.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::message::MAGIC_COOKIE;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: a full-avalanche 64-bit mix.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A thread-safe SplitMix64 generator.
#[derive(Debug)]
pub(crate) struct Rng {
    state: AtomicU64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: AtomicU64::new(seed),
        }
    }

    #[inline]
    pub fn next_u64(&self) -> u64 {
        let s = self
            .state
            .fetch_add(GOLDEN, Ordering::Relaxed)
            .wrapping_add(GOLDEN);
        mix64(s)
    }

    /// `prefix` followed by `len - prefix.len()` random token characters.
    pub fn token(&self, prefix: &str, len: usize) -> Token {
        let mut t = Token {
            len: 0,
            buf: [0; Token::CAP],
        };
        let len = len.min(Token::CAP);
        let p = prefix.len().min(len);
        t.buf[..p].copy_from_slice(&prefix.as_bytes()[..p]);
        let mut bits = 0u64;
        let mut left = 0u32;
        for b in &mut t.buf[p..len] {
            if left < 6 {
                bits = self.next_u64();
                left = 64;
            }
            *b = ALPHABET[(bits & 63) as usize];
            bits >>= 6;
            left -= 6;
        }
        t.len = len as u8;
        t
    }
}

/// 64 characters that are all `token` characters (RFC 3261 §25.1), so a generated value
/// is valid as a branch, a tag or a Call-ID word.
const ALPHABET: &[u8; 64] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-.";

/// A generated token: a branch (`z9hG4bK` and 22 characters, 128 bits), a tag (16
/// characters) or a Call-ID (24 characters). Stored inline; dereferences to `&str`.
///
/// ```
/// use sipcore::transaction::{Config, TransactionLayer};
/// use std::time::Instant;
/// let layer = TransactionLayer::new(Config { rng_seed: 1, ..Config::default() }, Instant::now());
/// let b = layer.new_branch();
/// assert!(b.starts_with("z9hG4bK") && b.len() == 29);
/// assert_ne!(layer.new_branch(), b);
/// assert_eq!(layer.new_tag().len(), 16);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token {
    len: u8,
    buf: [u8; Token::CAP],
}

impl Token {
    const CAP: usize = 32;

    /// The token as a string.
    pub fn as_str(&self) -> &str {
        // Only ASCII from ALPHABET and the ASCII prefixes used here is written.
        std::str::from_utf8(self.buf.get(..self.len as usize).unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Deref for Token {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Token {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({:?})", self.as_str())
    }
}

impl PartialEq<str> for Token {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

pub(crate) fn branch(rng: &Rng) -> Token {
    rng.token(MAGIC_COOKIE, MAGIC_COOKIE.len() + 22)
}

/// The keyed hash of a transaction's bucket: Call-ID octets and CSeq number. Every
/// message of a transaction (retransmissions, the ACK, the CANCEL, the responses) and
/// every request merged with it (§8.2.2.2) carries both, so all of them land in one
/// bucket of one shard.
#[inline]
pub(crate) fn bucket_hash(seed: u64, call_id: &[u8], seq: u32) -> u64 {
    let mut h = seed ^ (call_id.len() as u64).wrapping_mul(GOLDEN);
    let mut chunks = call_id.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0xA076_1D64_78BD_642F);
        h ^= h >> 32;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0xE703_7ED1_A0B4_28DB);
        h ^= h >> 32;
    }
    mix64(h ^ u64::from(seq).wrapping_mul(GOLDEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_deterministic_and_distinct() {
        let a = Rng::new(7);
        let b = Rng::new(7);
        let x = branch(&a);
        assert_eq!(x, branch(&b));
        assert!(x.starts_with(MAGIC_COOKIE));
        assert_eq!(x.len(), 29);
        assert!(x.bytes().all(crate::syntax::lex::is_token));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(branch(&a).to_string()));
        }
    }

    #[test]
    fn hash_depends_on_all_inputs() {
        let h = bucket_hash(1, b"abc@host", 1);
        assert_ne!(h, bucket_hash(2, b"abc@host", 1));
        assert_ne!(h, bucket_hash(1, b"abc@hosu", 1));
        assert_ne!(h, bucket_hash(1, b"abc@host", 2));
        assert_ne!(bucket_hash(1, b"", 0), bucket_hash(1, b"\0", 0));
    }
}

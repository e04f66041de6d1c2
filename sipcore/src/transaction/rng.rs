//! Branches, tags and Call-IDs from a cryptographically secure generator, and the keyed
//! hash of the table.
//!
//! RFC 3261 §19.3: tags and branches must be unguessable, or an off-path attacker forges
//! a CANCEL, a BYE or a response that matches a transaction or dialog it never saw. By
//! default every thread draws from its own ChaCha12 generator, seeded and periodically
//! reseeded from the operating system (`rand`'s thread generator): no lock, no system
//! call per token, a few tens of nanoseconds per branch. A layer built with
//! [`Config::rng_seed`](super::Config::rng_seed) set instead draws from one ChaCha12
//! generator seeded from that value, behind a mutex: reproducible for tests and
//! simulations (same seed and call order, same tokens), never for production.

use std::fmt;
use std::ops::Deref;

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};

use crate::message::MAGIC_COOKIE;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: a full-avalanche 64-bit mix.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Where a layer's tokens come from.
pub(crate) enum Rng {
    /// The calling thread's OS-seeded ChaCha12 generator.
    Os,
    /// One ChaCha12 generator from a fixed seed (deterministic tests).
    Seeded(Box<Mutex<StdRng>>),
}

impl fmt::Debug for Rng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never shows the generator's state.
        f.write_str(match self {
            Rng::Os => "Rng::Os",
            Rng::Seeded(_) => "Rng::Seeded",
        })
    }
}

impl Rng {
    /// The OS-seeded generator for `None`, a reproducible one for `Some(seed)`.
    pub fn new(seed: Option<u64>) -> Rng {
        match seed {
            None => Rng::Os,
            Some(s) => Rng::Seeded(Box::new(Mutex::new(StdRng::seed_from_u64(s)))),
        }
    }

    /// Fills `buf` with random bytes.
    #[inline]
    pub fn fill(&self, buf: &mut [u8]) {
        match self {
            Rng::Os => rand::rng().fill_bytes(buf),
            Rng::Seeded(g) => g.lock().fill_bytes(buf),
        }
    }

    /// 64 random bits.
    pub fn next_u64(&self) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }

    /// `prefix` followed by `len - prefix.len()` random token characters, 6 bits each
    /// (the alphabet has 64 characters, so each is uniform).
    pub fn token(&self, prefix: &str, len: usize) -> Token {
        let mut t = Token {
            len: 0,
            buf: [0; Token::CAP],
        };
        let len = len.min(Token::CAP);
        let p = prefix.len().min(len);
        t.buf[..p].copy_from_slice(&prefix.as_bytes()[..p]);
        let random = &mut t.buf[p..len];
        self.fill(random);
        for b in random {
            *b = ALPHABET[usize::from(*b & 63)];
        }
        t.len = len as u8;
        t
    }
}

/// 64 characters that are all `token` characters (RFC 3261 §25.1), so a generated value
/// is valid as a branch, a tag or a Call-ID word.
const ALPHABET: &[u8; 64] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-.";

/// A generated token: a branch (`z9hG4bK` and 22 characters, 132 random bits), a tag
/// (16 characters, 96 bits) or a Call-ID (24 characters, 144 bits). Stored inline; dereferences to `&str`.
///
/// ```
/// use sipcore::transaction::{Config, TransactionLayer};
/// use std::time::Instant;
/// let layer = TransactionLayer::new(Config::default(), Instant::now());
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

/// Random characters of a branch after the cookie (22 * 6 = 132 bits).
pub(crate) const BRANCH_CHARS: usize = 22;
/// Characters of a tag (16 * 6 = 96 bits, RFC 3261 §19.3 asks for at least 32).
pub(crate) const TAG_CHARS: usize = 16;
/// Characters of a Call-ID (24 * 6 = 144 bits).
pub(crate) const CALL_ID_CHARS: usize = 24;

pub(crate) fn branch(rng: &Rng) -> Token {
    rng.token(MAGIC_COOKIE, MAGIC_COOKIE.len() + BRANCH_CHARS)
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
    use std::collections::HashSet;

    #[test]
    fn seeded_tokens_are_reproducible_and_seed_dependent() {
        let (a, b, c) = (Rng::new(Some(7)), Rng::new(Some(7)), Rng::new(Some(8)));
        let x: Vec<Token> = (0..100).map(|_| branch(&a)).collect();
        let y: Vec<Token> = (0..100).map(|_| branch(&b)).collect();
        let z: Vec<Token> = (0..100).map(|_| branch(&c)).collect();
        assert_eq!(x, y);
        assert!(x.iter().zip(&z).all(|(x, z)| x != z));
    }

    #[test]
    fn os_tokens_are_unique_well_formed_and_differ_between_generators() {
        for rng in [Rng::new(None), Rng::new(Some(1))] {
            let mut seen = HashSet::new();
            for _ in 0..10_000 {
                let x = branch(&rng);
                assert!(x.starts_with(MAGIC_COOKIE));
                assert_eq!(x.len(), MAGIC_COOKIE.len() + BRANCH_CHARS);
                assert!(x.bytes().all(crate::syntax::lex::is_token));
                assert!(seen.insert(x.to_string()));
            }
        }
        // Each thread has its own OS-seeded generator: two threads' tags share nothing.
        let tags = || -> HashSet<String> {
            let rng = Rng::new(None);
            (0..1000)
                .map(|_| rng.token("", TAG_CHARS).to_string())
                .collect()
        };
        let other = std::thread::spawn(tags).join().unwrap();
        assert_eq!(other.len(), 1000);
        assert!(tags().is_disjoint(&other));
    }

    /// Not sequential: consecutive tokens share no structure a counter would leave
    /// (a common prefix, a constant difference). Each character position is uniform over
    /// the 64 symbols: over 64 000 tags every symbol shows at every position, and no
    /// position has a symbol far above its expected 1000.
    #[test]
    fn tokens_are_not_sequential_and_every_position_is_uniform() {
        for rng in [Rng::new(None), Rng::new(Some(3))] {
            let mut counts = [[0u32; 64]; TAG_CHARS];
            let mut prev = rng.token("", TAG_CHARS);
            let mut shared_prefix = 0usize;
            for _ in 0..64_000 {
                let t = rng.token("", TAG_CHARS);
                shared_prefix += t
                    .bytes()
                    .zip(prev.bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                for (pos, ch) in t.bytes().enumerate() {
                    let sym = ALPHABET.iter().position(|&a| a == ch).unwrap();
                    counts[pos][sym] += 1;
                }
                prev = t;
            }
            // A counter keeps ~15 of 16 characters; random tags share 1/63 on average.
            assert!(shared_prefix < 64_000 / 10, "shared prefix {shared_prefix}");
            for pos in counts {
                assert!(pos.iter().all(|&n| n > 700 && n < 1300), "{pos:?}");
            }
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

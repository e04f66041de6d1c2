//! Per-request proxy state (the "response context" of RFC 3261 §16.7): the server
//! transaction, its branches, the best final response so far, the 401/407 responses
//! whose challenges are merged into the one relayed (§16.7 step 7), and the sharded map
//! from transaction ids (server and client) to it.
//!
//! Entries are removed when their transaction terminates, so the map is bounded by the
//! transaction layer's limit; a context lives while its server or any branch does.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use sipcore::message::{HeaderId, Request, Response, StatusCode};
use sipcore::transaction::TransactionId;
use sipcore::transport::Target;
use smallvec::SmallVec;

use crate::routes::Gateway;

/// One forwarded copy of the request.
#[derive(Debug, Clone)]
pub struct Branch {
    /// Its client transaction.
    pub id: TransactionId,
    /// Where it went.
    pub target: Target,
    /// A provisional response arrived (it can be cancelled).
    pub provisional: bool,
    /// Final status, 0 while pending.
    pub status: u16,
    /// The gateway it went to (Class-4 routes).
    pub gateway: Option<usize>,
    /// A failure puts its address on the blocklist.
    pub listed: bool,
}

/// A final response candidate: a received one, or one the proxy makes itself (a
/// timeout, a transport failure) from the request.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Status.
    pub status: u16,
    /// The received response; `None`: local.
    pub response: Option<Response>,
}

impl Candidate {
    /// RFC 3261 §16.7 step 6: 6xx first, then the lowest class (3xx, 4xx, 5xx); within a
    /// class a received response before a local one (a branch the proxy failed itself
    /// must not outrank a real answer, SIPhon #142). Lower is better.
    fn rank(&self) -> (u16, u8) {
        let class = self.status / 100;
        let class = if class == 6 { 0 } else { class };
        (class, u8::from(self.response.is_none()))
    }

    /// Whether `self` should replace `best`.
    pub fn better_than(&self, best: &Candidate) -> bool {
        self.rank() < best.rank()
    }
}

/// What is known about one proxied request.
#[derive(Debug)]
pub struct Call {
    /// The server transaction.
    pub server: TransactionId,
    /// The request as received; dropped (with the best response) once the call is
    /// answered and no branch is pending: the context then only relays late 2xx
    /// retransmissions, and a parsed request (its header index) is ~600 bytes that
    /// would otherwise live as long as the transaction (32 s after a 2xx).
    pub request: Option<Request>,
    /// Where it came from (responses without a server transaction go there).
    pub upstream: Target,
    /// Whether it is an INVITE.
    pub invite: bool,
    /// The branches, in creation order.
    pub branches: SmallVec<[Branch; 2]>,
    /// Best final response of finished branches.
    pub best: Option<Candidate>,
    /// Every 401 and 407 received on a finished branch, for §16.7 step 7.
    pub challenges: Challenges,
    /// A final response went upstream.
    pub answered: bool,
    /// A CANCEL arrived.
    pub cancelled: bool,
    /// Gateways still to try (serial failover), in order.
    pub failover: Vec<Gateway>,
    /// The Request-URI user, for gateway Request-URIs.
    pub number: String,
    /// The loop hash branches carry.
    pub loop_hash: u32,
    /// When the request arrived.
    pub started: Instant,
    /// How its branches are edited (identity headers, credentials), the same for every
    /// branch, failover ones included.
    pub edits: BranchEdits,
    /// Destinations whose names are being resolved (branches to come).
    pub resolving: usize,
    /// A name could not even be looked up: too many resolutions in progress (the
    /// answer is 503 with Retry-After).
    pub dns_busy: bool,
    /// Further addresses of the destination being tried (RFC 3263 candidates), tried
    /// in order on failure before the next gateway.
    pub alternates: std::collections::VecDeque<crate::target::Dest>,
}

/// The per-request part of a forward that the routing policy decides.
#[derive(Debug, Clone, Default)]
pub struct BranchEdits {
    /// Remove Proxy-Authorization (the credentials were for us).
    pub strip_proxy_auth: bool,
    /// Remove P-Asserted-Identity and P-Preferred-Identity (an untrusted source
    /// cannot assert an identity, RFC 3325 §5).
    pub strip_identity: bool,
    /// The identity we assert (`P-Asserted-Identity`, the authenticated user's URI),
    /// towards the configured peers (gateways, next hop).
    pub assert_identity: Option<String>,
    /// `Max-Breadth` each branch carries (RFC 5393; parallel forking only).
    pub max_breadth: Option<u32>,
}

impl Call {
    /// A context for server transaction `server`.
    pub fn new(server: TransactionId, request: Request, upstream: Target, now: Instant) -> Call {
        let invite = request.method() == sipcore::message::Method::Invite;
        Call {
            server,
            request: Some(request),
            upstream,
            invite,
            branches: SmallVec::new(),
            best: None,
            challenges: Challenges::default(),
            answered: false,
            cancelled: false,
            failover: Vec::new(),
            number: String::new(),
            loop_hash: 0,
            started: now,
            edits: BranchEdits::default(),
            resolving: 0,
            dns_busy: false,
            alternates: std::collections::VecDeque::new(),
        }
    }

    /// Drops what only an unanswered call needs, once it is answered and no branch is
    /// pending.
    pub fn release_if_done(&mut self) {
        if self.answered && self.idle() {
            self.alternates = std::collections::VecDeque::new();
            self.request = None;
            self.best = None;
            self.challenges = Challenges::default();
            self.failover = Vec::new();
            self.number = String::new();
        }
    }

    /// The branch of client transaction `id`.
    pub fn branch_mut(&mut self, id: TransactionId) -> Option<&mut Branch> {
        self.branches.iter_mut().find(|b| b.id == id)
    }

    /// Branches still waiting for a final response.
    pub fn pending(&self) -> impl Iterator<Item = &Branch> + '_ {
        self.branches.iter().filter(|b| b.status == 0)
    }

    /// No branch pending and no name being resolved: the final answer can go.
    pub fn idle(&self) -> bool {
        self.resolving == 0 && self.pending().next().is_none()
    }

    /// Records a final candidate, keeping the best (and every 401/407 received).
    pub fn offer(&mut self, c: Candidate) {
        self.challenges.note(&c);
        match &self.best {
            Some(best) if !c.better_than(best) => {}
            _ => self.best = Some(c),
        }
    }

    /// The status the caller gets for the best candidate: a cancelled request whose best
    /// answer is one the proxy made itself gets 487.
    pub fn final_status(&self) -> Option<StatusCode> {
        let best = self.best.as_ref()?;
        if self.cancelled && best.response.is_none() {
            return Some(StatusCode::REQUEST_TERMINATED);
        }
        StatusCode::new(best.status)
    }
}

/// 401 and 407: the responses that carry challenges (§16.7 step 7).
fn is_challenge(status: u16) -> bool {
    matches!(status, 401 | 407)
}

/// The 401 and 407 responses of a response context's branches (at most one per
/// branch, so bounded by the branch count), kept until the call is answered.
#[derive(Debug, Clone, Default)]
pub struct Challenges(Vec<Response>);

impl Challenges {
    /// Keeps `c` if it is a received 401 or 407.
    pub fn note(&mut self, c: &Candidate) {
        if let Some(r) = c.response.as_ref().filter(|_| is_challenge(c.status)) {
            self.0.push(r.clone());
        }
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// RFC 3261 §16.7 step 7: when `best` (the response chosen to go upstream) is a 401
    /// or 407, every `WWW-Authenticate` and `Proxy-Authenticate` value of the other
    /// 401 and 407 responses received so far, in order of arrival, to add to it
    /// unchanged (header name, value). Empty otherwise.
    ///
    /// A UAC whose request forked to several UASes (or domains) with credentials of
    /// their own then answers every challenge in one retry.
    pub fn for_best(&self, best: &Response) -> Vec<(&'static str, Bytes)> {
        let mut out = Vec::new();
        if !is_challenge(best.status().as_u16()) {
            return out;
        }
        // The responses of different branches differ at least in their top Via (each
        // branch has its own), so equal bytes are the chosen response itself.
        for r in self.0.iter().filter(|r| r.as_bytes() != best.as_bytes()) {
            for (id, name) in [
                (HeaderId::WwwAuthenticate, "WWW-Authenticate"),
                (HeaderId::ProxyAuthenticate, "Proxy-Authenticate"),
            ] {
                for v in r.header_all(id) {
                    out.push((name, Bytes::copy_from_slice(v)));
                }
            }
        }
        out
    }
}

/// A shared call context.
pub type CallRef = Arc<Mutex<Call>>;

/// A hasher for transaction ids (already well spread: shard, slot, generation).
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

type IdMap<V> = HashMap<TransactionId, V, BuildHasherDefault<IdHasher>>;

const SHARDS: usize = 64;

/// Transaction id (server or client) → call context, in shards.
#[derive(Debug)]
pub struct Calls {
    shards: Box<[Mutex<IdMap<CallRef>>]>,
    entries: AtomicUsize,
}

impl Default for Calls {
    fn default() -> Self {
        Calls {
            shards: (0..SHARDS).map(|_| Mutex::new(IdMap::default())).collect(),
            entries: AtomicUsize::new(0),
        }
    }
}

impl Calls {
    fn shard(&self, id: TransactionId) -> &Mutex<IdMap<CallRef>> {
        let mut h = IdHasher::default();
        std::hash::Hash::hash(&id, &mut h);
        &self.shards[(h.finish() >> 40) as usize % SHARDS]
    }

    /// Maps `id` to `call`.
    pub fn insert(&self, id: TransactionId, call: CallRef) {
        if self.shard(id).lock().insert(id, call).is_none() {
            self.entries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The call of transaction `id`.
    pub fn get(&self, id: TransactionId) -> Option<CallRef> {
        self.shard(id).lock().get(&id).cloned()
    }

    /// Forgets transaction `id`.
    pub fn remove(&self, id: TransactionId) -> Option<CallRef> {
        let r = self.shard(id).lock().remove(&id);
        if r.is_some() {
            self.entries.fetch_sub(1, Ordering::Relaxed);
        }
        r
    }

    /// Entries (server and client ids): one per live transaction of a proxied request.
    pub fn len(&self) -> usize {
        self.entries.load(Ordering::Relaxed)
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Proxied requests not yet answered upstream or with a branch still pending (the
    /// drain before an orderly stop waits for none). Walks every entry: not for the
    /// hot path.
    pub fn in_flight(&self) -> usize {
        let mut n = 0;
        for shard in self.shards.iter() {
            // Call locks are taken after the shard lock is released (the proxy locks a
            // call, then a shard).
            let calls: Vec<(TransactionId, CallRef)> = shard
                .lock()
                .iter()
                .map(|(id, c)| (*id, c.clone()))
                .collect();
            for (id, c) in calls {
                let c = c.lock();
                if c.server == id && !(c.answered && c.pending().next().is_none()) {
                    n += 1;
                }
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, branch: u32, extra: &str) -> Response {
        let text = format!(
            "SIP/2.0 {status} X\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK{branch}\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        sipcore::transaction::stateless::parse_response(Bytes::from(text)).unwrap()
    }

    fn c(status: u16, local: bool) -> Candidate {
        let response = (!local).then(|| resp(status, 1, ""));
        Candidate { status, response }
    }

    #[test]
    fn challenges_of_other_branches_are_merged() {
        let mut kept = Challenges::default();
        let mut best: Option<Candidate> = None;
        let a = resp(
            401,
            1,
            "WWW-Authenticate: Digest realm=\"a\", nonce=\"1\"\r\n",
        );
        let b = resp(
            407,
            2,
            "Proxy-Authenticate: Digest realm=\"b\", nonce=\"2\"\r\nProxy-Authenticate: Digest realm=\"b\", nonce=\"3\", algorithm=SHA-256\r\n",
        );
        for (status, r) in [(401, &a), (486, &resp(486, 3, "")), (407, &b)] {
            let cand = Candidate {
                status,
                response: Some(r.clone()),
            };
            kept.note(&cand);
            if best.as_ref().is_none_or(|b| cand.better_than(b)) {
                best = Some(cand);
            }
        }
        kept.note(&c(503, true));
        assert_eq!(kept.len(), 2);
        // The first 4xx received stays the best: the 401, which gets the 407's two.
        let best = best.unwrap().response.unwrap();
        assert_eq!(best.status().as_u16(), 401);
        let merged = kept.for_best(&best);
        let merged: Vec<(&str, &[u8])> = merged.iter().map(|(n, v)| (*n, &v[..])).collect();
        assert_eq!(
            merged,
            vec![
                (
                    "Proxy-Authenticate",
                    &b"Digest realm=\"b\", nonce=\"2\""[..]
                ),
                (
                    "Proxy-Authenticate",
                    &b"Digest realm=\"b\", nonce=\"3\", algorithm=SHA-256"[..]
                ),
            ]
        );
        // Chosen the other way round, the 407 gets the 401's challenge.
        assert_eq!(
            kept.for_best(&b),
            vec![(
                "WWW-Authenticate",
                Bytes::from_static(b"Digest realm=\"a\", nonce=\"1\"")
            )]
        );
        // A folded challenge comes out of the parser on one line (the fold blanked),
        // so it can be added as a header line.
        let folded = resp(
            401,
            4,
            "WWW-Authenticate: Digest realm=\"d\",\r\n  nonce=\"4\"\r\n",
        );
        kept.note(&Candidate {
            status: 401,
            response: Some(folded),
        });
        let (_, last) = kept.for_best(&b).pop().unwrap();
        assert!(last.starts_with(b"Digest realm=\"d\","), "{last:?}");
        assert!(!last.iter().any(|c| matches!(c, b'\r' | b'\n')), "{last:?}");
        // Nothing is added to anything but a 401 or 407.
        assert!(kept.for_best(&resp(486, 3, "")).is_empty());
    }

    #[test]
    fn best_response_order() {
        assert!(c(486, false).better_than(&c(503, false)));
        assert!(c(603, false).better_than(&c(302, false)));
        assert!(c(302, false).better_than(&c(404, false)));
        // A real 5xx beats the proxy's own 503 (SIPhon #142); a local one does not
        // replace an equal real one.
        assert!(c(500, false).better_than(&c(503, true)));
        assert!(!c(503, true).better_than(&c(500, false)));
        assert!(!c(480, false).better_than(&c(486, false)));
    }
}

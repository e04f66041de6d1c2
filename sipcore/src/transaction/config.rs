//! Configuration of the transaction layer: RFC 3261 timer values, limits, table shape.

use std::time::Duration;

/// Transaction layer settings. Every field has the default its doc names; change them
/// with struct update syntax.
///
/// ```
/// use std::time::Duration;
/// use sipcore::transaction::Config;
/// let cfg = Config {
///     t1: Duration::from_millis(250),
///     max_transactions: 10_000,
///     rng_seed: Some(42), // deterministic branches, e.g. in tests
///     ..Config::default()
/// };
/// assert_eq!(cfg.timer_b(), Duration::from_secs(16)); // 64 * T1
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// T1, the round-trip estimate (RFC 3261 §17.1.1.1). Default 500 ms. Timers A, E and
    /// G start at T1 and B, F, H, J, L, M last 64*T1.
    pub t1: Duration,
    /// T2, the cap of non-INVITE request and INVITE response retransmission intervals.
    /// Default 4 s.
    pub t2: Duration,
    /// T4, the longest a message may stay in the network. Default 5 s: Timers I and K
    /// over unreliable transports.
    pub t4: Duration,
    /// Timer C of a client INVITE transaction in Proceeding (RFC 3261 §16.6 step 11):
    /// restarted by each provisional response; when it fires the layer reports
    /// [`Timer::C`](super::Timer::C), sends a CANCEL, and ends the transaction 64*T1
    /// later unless a final response arrives. Default 181 s ("greater than 3 minutes").
    /// It keeps a transaction whose peer stops answering from living for ever.
    pub timer_c: Duration,
    /// How long an INVITE server transaction waits in Proceeding before sending `100
    /// Trying` itself, if the transaction user has sent no provisional response
    /// (§17.2.1: within 200 ms). `None`: never. Default `Some(200 ms)`.
    pub trying_delay: Option<Duration>,
    /// How long a server transaction waits for the transaction user's final response
    /// before answering `408 Request Timeout` itself and reporting
    /// [`Timer::Tu`](super::Timer::Tu): the bound that keeps a forgotten transaction
    /// from living for ever. INVITE: default 240 s (longer than Timer C plus the CANCEL
    /// round a proxy needs after it).
    pub invite_server_timeout: Duration,
    /// As [`invite_server_timeout`](Self::invite_server_timeout), for non-INVITE server
    /// transactions. Default 40 s (the client gave up at Timer F, 64*T1 = 32 s).
    pub non_invite_server_timeout: Duration,
    /// Maximum live transactions (client and server). Beyond it, creating one fails with
    /// [`TransactionError::Overloaded`](super::TransactionError::Overloaded) so the
    /// caller can answer 503 statelessly. Default 1,000,000 (about 300 MB of
    /// transaction state, message bytes not counted).
    pub max_transactions: usize,
    /// Maximum live transactions sharing one Call-ID and CSeq number (a forking proxy
    /// has one per branch plus the server side). It bounds the hash chain a message is
    /// compared along: a peer that reuses one Call-ID and CSeq for many requests cannot
    /// make matching slow. Default 128.
    pub max_per_call_seq: usize,
    /// Number of table shards, each behind its own `parking_lot::Mutex`; rounded up to a
    /// power of two. Default 64: with a few dozen worker threads, two rarely meet.
    pub shards: usize,
    /// Timer wheel slot width. The layer fires timers at their exact deadline (as
    /// [`handle_timeout`](crate::transaction::TransactionLayer::handle_timeout) is
    /// called); the endpoint's timer thread wakes at most once per granularity, so there
    /// a timer fires up to one granularity late. Default 10 ms.
    pub timer_granularity: Duration,
    /// Slots per wheel (one wheel per shard). Timers further than `slots *
    /// timer_granularity` ahead wait in their slot for later rounds. Default 1024
    /// (10.24 s at 10 ms).
    pub timer_slots: usize,
    /// Answer UDP requests at their source port even without `rport` (like Kamailio's
    /// `force_rport`). Default `false`: RFC 3261 §18.2.2 and RFC 3581, i.e. the source
    /// address with the Via sent-by port, or the source port when `rport` is present.
    pub symmetric_responses: bool,
    /// Seed of the generator for branches, tags and Call-IDs, and of the table hash.
    /// Default `None`: each thread draws from its own ChaCha12 generator seeded from the
    /// operating system, and the table hash key comes from it too (RFC 3261 §19.3:
    /// tokens an attacker cannot predict). `Some(seed)` makes every token reproducible
    /// from the seed and call order: for tests and simulations only, since anyone who
    /// knows or guesses the seed predicts every branch and tag.
    pub rng_seed: Option<u64>,
    /// A client transaction that received no response at all for this long times out
    /// (Timer B of an INVITE in Calling, Timer F of a non-INVITE before its first
    /// provisional response; a provisional response gives the non-INVITE the rest of
    /// its 64*T1). Shorter than 64*T1, it makes a dead UDP destination cost seconds
    /// rather than 32 s, so a proxy fails over sooner (Kamailio's `fr_timer`). Default
    /// `None`: 64*T1.
    pub no_response_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_c: Duration::from_secs(181),
            trying_delay: Some(Duration::from_millis(200)),
            invite_server_timeout: Duration::from_secs(240),
            non_invite_server_timeout: Duration::from_secs(40),
            max_transactions: 1_000_000,
            max_per_call_seq: 128,
            shards: 64,
            timer_granularity: Duration::from_millis(10),
            timer_slots: 1024,
            symmetric_responses: false,
            rng_seed: None,
            no_response_timeout: None,
        }
    }
}

impl Config {
    /// 64*T1: Timers B, F, H, J (unreliable), L and M.
    pub fn timer_b(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D over unreliable transports: at least 32 s and at least 64*T1.
    pub fn timer_d(&self) -> Duration {
        self.timer_b().max(Duration::from_secs(32))
    }
}

/// Durations converted once to microseconds, the unit of the timer wheel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timings {
    pub t1: u64,
    pub t2: u64,
    pub t4: u64,
    pub b: u64,
    /// Timer B / F before any response: `b`, or the shorter no-response timeout.
    pub fr: u64,
    pub c: u64,
    pub d: u64,
    pub trying: Option<u64>,
    pub ist_tu: u64,
    pub nist_tu: u64,
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 4)
}

impl Timings {
    pub fn new(c: &Config) -> Timings {
        Timings {
            t1: us(c.t1).max(1),
            t2: us(c.t2).max(1),
            t4: us(c.t4),
            b: us(c.timer_b()),
            fr: us(c
                .no_response_timeout
                .map_or(c.timer_b(), |d| d.min(c.timer_b()))),
            c: us(c.timer_c),
            d: us(c.timer_d()),
            trying: c.trying_delay.map(us),
            ist_tu: us(c.invite_server_timeout),
            nist_tu: us(c.non_invite_server_timeout),
        }
    }

    /// The retransmission interval after `n` retransmissions: T1 doubled `n` times,
    /// capped at T2 when `capped` (Timers E and G; Timer A is not capped).
    pub fn backoff(&self, n: u8, capped: bool) -> u64 {
        let v = self.t1.saturating_mul(1u64 << n.min(40));
        if capped {
            v.min(self.t2)
        } else {
            v
        }
    }
}

//! The Redis store's wire side: connections with reconnection backoff, the
//! compare-and-set script, the encoding of bindings in a hash, the subscription to
//! change notifications, and the `sipcore_location_*` metrics.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use redis::{Connection, ErrorKind, RedisResult, Value};

use crate::location::{Binding, Unavailable};
use crate::location_cache::WallClock;
use crate::location_redis::Shared;

/// First reconnection delay after a failure; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Longest delay between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Bindings read from one hash at most (the registrar writes `max_contacts`).
const MAX_READ: usize = 1024;
/// How often the subscriber looks at the stop flag.
const POLL: Duration = Duration::from_millis(250);

/// Compare-and-set of one address of record. KEYS: the hash, the version counter.
/// ARGV: the expected version (-1: unknown), the key's expiry (Unix ms), the change
/// channel, the AOR, then field/value pairs (none: remove). Publishes
/// `<new version> <AOR>` (version 0: removed). Returns `{1, version}` when stored,
/// `{0, version, HGETALL}` when the version was not the expected one.
pub(crate) const SCRIPT: &str = r"
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if cur ~= tonumber(ARGV[1]) then
  return {0, cur, redis.call('HGETALL', KEYS[1])}
end
redis.call('DEL', KEYS[1])
local v = 0
if #ARGV > 4 then
  v = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[1], 'v', v, unpack(ARGV, 5))
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
redis.call('PUBLISH', ARGV[3], v .. ' ' .. ARGV[4])
return {1, v}
";

/// What a compare-and-set came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WriteResult {
    /// Stored at this version (0: removed).
    Stored(u64),
    /// Not stored: the current version and bindings.
    Conflict(u64, Vec<Binding>),
}

/// One connection to Redis, re-established on use after a failure, no sooner than
/// its backoff allows.
pub(crate) struct Link {
    client: redis::Client,
    conn: Option<Connection>,
    timeout: Duration,
    retry_at: Option<Instant>,
    delay: Duration,
}

impl Link {
    pub(crate) fn new(client: redis::Client, timeout: Duration) -> Link {
        Link {
            client,
            conn: None,
            timeout,
            retry_at: None,
            delay: MIN_BACKOFF,
        }
    }

    /// Time until the next connection attempt is allowed.
    fn backing_off(&self) -> Option<Duration> {
        self.retry_at
            .and_then(|t| t.checked_duration_since(Instant::now()))
    }

    fn failed(&mut self, shared: &Shared) {
        shared.stats.redis_errors.fetch_add(1, Ordering::Relaxed);
        if self.conn.take().is_some() || self.retry_at.is_none() {
            tracing::warn!("Redis unreachable, reconnecting with backoff");
        }
        self.retry_at = Some(Instant::now() + self.delay);
        self.delay = (self.delay * 2).min(MAX_BACKOFF);
    }

    pub(crate) fn connect(&mut self, shared: &Shared) -> Result<&mut Connection, Unavailable> {
        if self.conn.is_none() {
            if self.backing_off().is_some() {
                return Err(Unavailable::Down);
            }
            let opened = self
                .client
                .get_connection_with_timeout(self.timeout)
                .and_then(|c| {
                    c.set_read_timeout(Some(self.timeout))?;
                    c.set_write_timeout(Some(self.timeout))?;
                    Ok(c)
                });
            match opened {
                Ok(c) => {
                    if self.retry_at.is_some() {
                        tracing::info!("Redis connection re-established");
                    }
                    shared.stats.connects.fetch_add(1, Ordering::Relaxed);
                    self.conn = Some(c);
                    self.retry_at = None;
                    self.delay = MIN_BACKOFF;
                }
                Err(_) => {
                    self.failed(shared);
                    return Err(Unavailable::Down);
                }
            }
        }
        self.conn.as_mut().ok_or(Unavailable::Down)
    }

    /// Runs `f` on the connection (connecting first when needed). A failure other than
    /// an error answer from the server drops the connection.
    pub(crate) fn run<T>(
        &mut self,
        shared: &Shared,
        f: impl FnOnce(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, Unavailable> {
        let c = self.connect(shared)?;
        match f(c) {
            Ok(v) => Ok(v),
            Err(e) if matches!(e.kind(), ErrorKind::Server(_) | ErrorKind::Extension) => {
                shared.stats.redis_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "Redis refused a command");
                Err(Unavailable::Down)
            }
            Err(e) => {
                let why = if e.is_timeout() {
                    Unavailable::Timeout
                } else {
                    Unavailable::Down
                };
                self.failed(shared);
                Err(why)
            }
        }
    }
}

/// The hash fields of `bindings` and the key's expiry (the latest binding's).
pub(crate) fn encode(bindings: &[Binding], clock: &WallClock) -> (u64, Vec<(String, String)>) {
    let mut last = 0;
    let pairs = bindings
        .iter()
        .map(|b| {
            let ms = clock.to_ms(b.expires_at);
            last = last.max(ms);
            (
                format!("c:{}", b.uri),
                format!("{ms} {} {} {}", b.q, b.cseq, b.call_id),
            )
        })
        .collect();
    (last, pairs)
}

fn text(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        other => std::str::from_utf8(text(other)?).ok()?.parse().ok(),
    }
}

fn binding(field: &[u8], value: &[u8], clock: &WallClock) -> Option<Binding> {
    let uri = std::str::from_utf8(field.strip_prefix(b"c:")?).ok()?;
    let mut parts = std::str::from_utf8(value).ok()?.splitn(4, ' ');
    let ms: u64 = parts.next()?.parse().ok()?;
    let q: u16 = parts.next()?.parse().ok()?;
    let cseq: u32 = parts.next()?.parse().ok()?;
    let call_id = parts.next()?;
    Some(Binding {
        uri: uri.to_string(),
        q,
        expires_at: clock.to_instant(ms),
        call_id: call_id.to_string(),
        cseq,
    })
}

/// The version and bindings of an `HGETALL` answer (RESP2 array or RESP3 map);
/// malformed fields are skipped, an absent key is version 0 without bindings.
pub(crate) fn decode_hash(v: Value, clock: &WallClock) -> (u64, Vec<Binding>) {
    let pairs: Vec<(Value, Value)> = match v {
        Value::Array(items) => {
            let mut it = items.into_iter();
            let mut out = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            out
        }
        Value::Map(m) => m,
        _ => Vec::new(),
    };
    let mut version = 0;
    let mut bindings = Vec::new();
    for (k, v) in &pairs {
        let (Some(k), Some(val)) = (text(k), text(v)) else {
            continue;
        };
        if k == b"v" {
            version = number(v).unwrap_or(0);
        } else if bindings.len() < MAX_READ {
            if let Some(b) = binding(k, val, clock) {
                bindings.push(b);
            }
        }
    }
    (version, bindings)
}

/// The script's answer; `None` when it is not one.
pub(crate) fn decode_write(v: Value, clock: &WallClock) -> Option<WriteResult> {
    let Value::Array(items) = v else { return None };
    let mut it = items.into_iter();
    let stored = number(&it.next()?)?;
    let version = number(&it.next()?)?;
    if stored == 1 {
        return Some(WriteResult::Stored(version));
    }
    let (_, bindings) = decode_hash(it.next()?, clock);
    Some(WriteResult::Conflict(version, bindings))
}

/// A change notification: the AOR's new version (0: removed) and the AOR.
pub(crate) fn parse_change(payload: &[u8]) -> Option<(u64, &str)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (v, aor) = text.split_once(' ')?;
    Some((v.parse().ok()?, aor))
}

/// The subscription thread: every change notification goes to `changed` (new version,
/// AOR); after the subscription was (re)established, every cached entry is marked
/// stale.
pub(crate) fn subscriber(shared: &Shared, mut link: Link, changed: &dyn Fn(u64, &str)) {
    while !shared.stop.load(Ordering::Relaxed) {
        if let Some(d) = link.backing_off() {
            std::thread::sleep(d.min(POLL));
            continue;
        }
        let Ok(conn) = link.connect(shared) else {
            continue;
        };
        let mut ps = conn.as_pubsub();
        let ok = ps.subscribe(&shared.channel).is_ok() && ps.set_read_timeout(Some(POLL)).is_ok();
        if ok {
            shared.cache.new_epoch();
            shared.subscribed.store(true, Ordering::Relaxed);
        }
        while ok && !shared.stop.load(Ordering::Relaxed) {
            match ps.get_message() {
                Ok(msg) => {
                    shared.stats.invalidations.fetch_add(1, Ordering::Relaxed);
                    if let Some((version, aor)) = parse_change(msg.get_payload_bytes()) {
                        changed(version, aor);
                    }
                }
                Err(e) if e.is_timeout() => {}
                Err(_) => break,
            }
        }
        drop(ps);
        shared.subscribed.store(false, Ordering::Relaxed);
        if !shared.stop.load(Ordering::Relaxed) {
            link.failed(shared);
        }
    }
}

/// The counters as Prometheus text.
pub(crate) fn metrics_text(shared: &Shared) -> String {
    let s = &shared.stats;
    let mut out = String::new();
    for (name, help, v) in [
        (
            "redis_errors",
            "Failed Redis connections and commands.",
            &s.redis_errors,
        ),
        (
            "cache_hits",
            "Lookups answered from the local cache.",
            &s.cache_hits,
        ),
        (
            "cache_misses",
            "Lookups that fetched from Redis.",
            &s.cache_misses,
        ),
        (
            "invalidations",
            "Change notifications received.",
            &s.invalidations,
        ),
        (
            "register_503",
            "REGISTERs answered 503: Redis did not acknowledge in time.",
            &s.register_503,
        ),
        ("writes", "Changes acknowledged by Redis.", &s.writes),
        (
            "conflicts",
            "Changes run again on newer bindings.",
            &s.conflicts,
        ),
        (
            "fetches",
            "Addresses of record fetched from Redis.",
            &s.fetches,
        ),
        ("connects", "Redis connections established.", &s.connects),
    ] {
        let _ = writeln!(
            out,
            "# HELP sipcore_location_{name}_total {help}\n# TYPE sipcore_location_{name}_total counter\nsipcore_location_{name}_total {}",
            v.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# TYPE sipcore_location_cache_entries gauge\nsipcore_location_cache_entries {}\n# TYPE sipcore_location_subscribed gauge\nsipcore_location_subscribed {}",
        shared.cache.entries(),
        u8::from(shared.subscribed.load(Ordering::Relaxed))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_round_trip_through_the_hash_encoding() {
        let clock = WallClock::at(Instant::now(), 1_700_000_000_000);
        let at = clock.to_instant(1_700_000_600_000);
        let b = Binding {
            uri: "sip:alice@10.0.0.1:5060;transport=udp".into(),
            q: 500,
            expires_at: at,
            call_id: "abc def@host".into(),
            cseq: 7,
        };
        let (last, pairs) = encode(std::slice::from_ref(&b), &clock);
        assert_eq!(last, 1_700_000_600_000);
        let mut items = vec![
            Value::BulkString(b"v".to_vec()),
            Value::BulkString(b"42".to_vec()),
        ];
        for (f, v) in pairs {
            items.push(Value::BulkString(f.into_bytes()));
            items.push(Value::BulkString(v.into_bytes()));
        }
        // Garbage is skipped, not trusted.
        items.push(Value::BulkString(b"c:sip:x".to_vec()));
        items.push(Value::BulkString(b"not a binding".to_vec()));
        let (version, got) = decode_hash(Value::Array(items.clone()), &clock);
        assert_eq!(version, 42);
        assert_eq!(got, vec![b.clone()]);
        let conflict = Value::Array(vec![Value::Int(0), Value::Int(42), Value::Array(items)]);
        assert_eq!(
            decode_write(conflict, &clock),
            Some(WriteResult::Conflict(42, vec![b]))
        );
        assert_eq!(
            decode_write(Value::Array(vec![Value::Int(1), Value::Int(43)]), &clock),
            Some(WriteResult::Stored(43))
        );
        assert_eq!(decode_write(Value::Nil, &clock), None);
        assert_eq!(decode_hash(Value::Nil, &clock), (0, vec![]));
    }

    #[test]
    fn change_notifications() {
        assert_eq!(parse_change(b"42 alice"), Some((42, "alice")));
        assert_eq!(
            parse_change(b"0 a b@example.org"),
            Some((0, "a b@example.org"))
        );
        assert_eq!(parse_change(b"alice"), None);
        assert_eq!(parse_change(b"x alice"), None);
    }
}

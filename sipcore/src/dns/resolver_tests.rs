//! CachingResolver on a fake upstream that answers when the test says so.
#![allow(clippy::disallowed_methods)] // a base instant for the fake clock

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::*;
use crate::dns::RecordType;

/// Holds every query it is asked until the test answers it.
#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Vec<(Query, Done)>>>);

impl Resolver for Fake {
    fn lookup(&self, query: Query, done: Done) {
        self.0.lock().push((query, done));
    }
}

impl Fake {
    fn asked(&self) -> Vec<Query> {
        self.0.lock().iter().map(|(q, _)| q.clone()).collect()
    }
    /// Answers the oldest pending `query` (called outside the fake's lock).
    fn reply(&self, query: &Query, result: Result<Resolved, ResolveError>) {
        let done = {
            let mut v = self.0.lock();
            let i = v.iter().position(|(q, _)| q == query).expect("not asked");
            v.remove(i).1
        };
        done(result);
    }
    fn drop_all(&self) {
        let all: Vec<_> = self.0.lock().drain(..).collect();
        drop(all);
    }
}

/// Answers every query at once, inside `lookup`.
struct Inline(Answer);

impl Resolver for Inline {
    fn lookup(&self, _query: Query, done: Done) {
        done(Ok(Resolved {
            answer: self.0.clone(),
            ttl: Duration::from_secs(60),
        }));
    }
}

#[derive(Clone)]
struct TestClock(Arc<Mutex<Instant>>);

impl Clock for TestClock {
    fn now(&self) -> Instant {
        *self.0.lock()
    }
}

impl TestClock {
    fn advance(&self, d: Duration) {
        *self.0.lock() += d;
    }
}

type Results = Arc<Mutex<Vec<Result<Resolved, ResolveError>>>>;

fn collector() -> (Results, impl Fn() -> Done) {
    let results: Results = Arc::default();
    let r = Arc::clone(&results);
    (results, move || {
        let r = Arc::clone(&r);
        Box::new(move |res| r.lock().push(res))
    })
}

fn setup(config: CachingConfig) -> (Fake, TestClock, CachingResolver<Fake>) {
    let fake = Fake::default();
    let clock = TestClock(Arc::new(Mutex::new(Instant::now())));
    let res = CachingResolver::with_clock(fake.clone(), config, Box::new(clock.clone()));
    (fake, clock, res)
}

fn qa(name: &str) -> Query {
    Query::new(name, RecordType::A)
}

fn addr(ttl: u64) -> Resolved {
    Resolved {
        answer: Answer::A(vec!["192.0.2.1".parse().unwrap()]),
        ttl: Duration::from_secs(ttl),
    }
}

#[test]
fn answers_from_the_cache_until_the_ttl_runs_out() {
    let (fake, clock, res) = setup(CachingConfig::default());
    let (results, done) = collector();
    res.lookup(qa("h.example"), done());
    assert_eq!(fake.asked(), vec![qa("h.example")]);
    assert!(
        results.lock().is_empty(),
        "the caller is not answered before upstream"
    );
    fake.reply(&qa("h.example"), Ok(addr(60)));
    assert_eq!(results.lock().as_slice(), &[Ok(addr(60))]);

    // again, 20 s later: from the cache, with the TTL left, upstream not asked
    clock.advance(Duration::from_secs(20));
    res.lookup(qa("h.example"), done());
    assert!(fake.asked().is_empty());
    assert_eq!(results.lock()[1], Ok(addr(40)));

    // after the TTL: upstream again
    clock.advance(Duration::from_secs(40));
    res.lookup(qa("h.example"), done());
    assert_eq!(fake.asked(), vec![qa("h.example")]);
    let s = res.stats();
    assert_eq!((s.lookups, s.upstream_queries, s.cache.hits), (3, 2, 1));
}

#[test]
fn negative_answers_are_cached_for_the_negative_ttl() {
    let (fake, clock, res) = setup(CachingConfig::default());
    let (results, done) = collector();
    let q = Query::new("_sip._udp.nx.example", RecordType::Srv);
    let neg = Resolved {
        answer: Answer::NoRecords,
        ttl: Duration::from_secs(30),
    };
    res.lookup(q.clone(), done());
    fake.reply(&q, Ok(neg.clone()));
    clock.advance(Duration::from_secs(29));
    res.lookup(q.clone(), done());
    assert!(
        fake.asked().is_empty(),
        "negative answer served from the cache"
    );
    assert_eq!(
        results.lock()[1].as_ref().unwrap().answer,
        Answer::NoRecords
    );
    clock.advance(Duration::from_secs(1));
    res.lookup(q.clone(), done());
    assert_eq!(fake.asked(), vec![q]);
    assert_eq!(res.stats().cache.negative_hits, 1);
}

#[test]
fn concurrent_lookups_of_one_query_share_one_upstream_query() {
    let (fake, _clock, res) = setup(CachingConfig::default());
    let (results, done) = collector();
    for _ in 0..3 {
        res.lookup(qa("h.example"), done());
    }
    // a different query is its own upstream query
    res.lookup(Query::new("h.example", RecordType::Aaaa), done());
    assert_eq!(
        fake.asked(),
        vec![qa("h.example"), Query::new("h.example", RecordType::Aaaa)]
    );
    let s = res.stats();
    assert_eq!((s.coalesced, s.in_flight, s.waiting), (2, 2, 4));
    fake.reply(&qa("h.example"), Ok(addr(60)));
    assert_eq!(
        results.lock().as_slice(),
        &[Ok(addr(60)), Ok(addr(60)), Ok(addr(60))]
    );
    let s = res.stats();
    assert_eq!((s.in_flight, s.waiting), (1, 1));
}

#[test]
fn errors_reach_every_waiter_and_are_not_cached() {
    let (fake, _clock, res) = setup(CachingConfig::default());
    let (results, done) = collector();
    res.lookup(qa("h.example"), done());
    res.lookup(qa("h.example"), done());
    fake.reply(&qa("h.example"), Err(ResolveError::Timeout));
    assert_eq!(
        results.lock().as_slice(),
        &[Err(ResolveError::Timeout), Err(ResolveError::Timeout)]
    );
    res.lookup(qa("h.example"), done());
    assert_eq!(fake.asked(), vec![qa("h.example")], "asked again");
    assert_eq!(res.stats().upstream_errors, 1);
    // an Ok(Failed) is passed on and not cached either
    fake.reply(
        &qa("h.example"),
        Ok(Resolved {
            answer: Answer::Failed,
            ttl: Duration::from_secs(60),
        }),
    );
    res.lookup(qa("h.example"), done());
    assert_eq!(fake.asked(), vec![qa("h.example")]);
}

#[test]
fn over_the_in_flight_bound_lookups_are_refused_at_once() {
    let (fake, _clock, res) = setup(CachingConfig {
        max_in_flight: 2,
        ..CachingConfig::default()
    });
    let (results, done) = collector();
    res.lookup(qa("a.example"), done());
    res.lookup(qa("b.example"), done());
    res.lookup(qa("c.example"), done());
    assert_eq!(results.lock().as_slice(), &[Err(ResolveError::Busy)]);
    assert_eq!(fake.asked().len(), 2);
    // joining a query in flight is not a new query: accepted
    res.lookup(qa("a.example"), done());
    assert_eq!(results.lock().len(), 1);
    // once one is answered, a new query is accepted again (positive control)
    fake.reply(&qa("a.example"), Ok(addr(60)));
    res.lookup(qa("c.example"), done());
    assert_eq!(fake.asked(), vec![qa("b.example"), qa("c.example")]);
    let s = res.stats();
    assert_eq!((s.busy, s.in_flight), (1, 2));
}

#[test]
fn waiting_callers_are_bounded() {
    let (fake, _clock, res) = setup(CachingConfig {
        max_waiting: 3,
        ..CachingConfig::default()
    });
    let (results, done) = collector();
    for _ in 0..4 {
        res.lookup(qa("a.example"), done());
    }
    res.lookup(qa("b.example"), done());
    assert_eq!(
        results.lock().as_slice(),
        &[Err(ResolveError::Busy), Err(ResolveError::Busy)]
    );
    assert_eq!(fake.asked(), vec![qa("a.example")]);
    fake.reply(&qa("a.example"), Ok(addr(60)));
    assert_eq!(results.lock().len(), 5);
    // room again
    res.lookup(qa("b.example"), done());
    assert_eq!(fake.asked(), vec![qa("b.example")]);
}

#[test]
fn a_dropped_upstream_query_completes_with_shutdown() {
    let (fake, _clock, res) = setup(CachingConfig {
        max_in_flight: 1,
        ..CachingConfig::default()
    });
    let (results, done) = collector();
    res.lookup(qa("a.example"), done());
    res.lookup(qa("a.example"), done());
    fake.drop_all();
    assert_eq!(
        results.lock().as_slice(),
        &[Err(ResolveError::Shutdown), Err(ResolveError::Shutdown)]
    );
    // the slot is free again
    res.lookup(qa("b.example"), done());
    assert_eq!(fake.asked(), vec![qa("b.example")]);
    assert_eq!(res.stats().in_flight, 1);
}

#[test]
fn an_upstream_that_answers_inline_works() {
    let answer = Answer::A(vec!["192.0.2.9".parse().unwrap()]);
    let res = CachingResolver::new(Inline(answer.clone()), CachingConfig::default());
    let (results, done) = collector();
    res.lookup(qa("h.example"), done());
    res.lookup(qa("h.example"), done());
    let r = results.lock();
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|r| r.as_ref().unwrap().answer == answer));
    let s = res.stats();
    assert_eq!((s.upstream_queries, s.cache.hits, s.in_flight), (1, 1, 0));
}

#[test]
fn reply_sends_once_and_shutdown_when_dropped() {
    let (results, done) = collector();
    Reply::new(done()).send(Ok(addr(5)));
    drop(Reply::new(done()));
    assert_eq!(
        results.lock().as_slice(),
        &[Ok(addr(5)), Err(ResolveError::Shutdown)]
    );
}

#[test]
fn selector_answer_maps_errors_to_failed() {
    assert_eq!(selector_answer(&Ok(addr(5))), addr(5).answer);
    assert_eq!(selector_answer(&Err(ResolveError::Busy)), Answer::Failed);
}

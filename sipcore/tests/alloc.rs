//! Heap allocations on the hot path, counted with a counting global allocator.
//!
//! The target (DESIGN.md): zero allocations to parse the INVITE that sipp sends
//! (`benches/data/sipp-invite.sip`) and read its top Via branch, CSeq number and
//! method, From tag and Call-ID. The stream framer taking that INVITE off a buffer
//! must not allocate either.
//!
//! One `#[test]` only: the counter is global, and a second test running on another
//! thread would be counted too.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::alloc::System;
use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use sipcore::message::Method;
use sipcore::parse::{parse_datagram, StreamFramer, StreamItem};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

static SIPP_INVITE: &[u8] = include_bytes!("../../benches/data/sipp-invite.sip");
static SIPP_200: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-5894-1-0\r\n\
Record-Route: <sip:127.0.0.1:5060;lr>\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=5894SIPpTag001\r\n\
To: service <sip:service@127.0.0.1:5060>;tag=7120SIPpTag011\r\n\
Call-ID: 1-5894@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:127.0.0.1:5070;transport=UDP>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 0\r\n\r\n";

/// The work a proxy does per message: parse, then read the fields it routes on.
fn parse_and_read(buf: Bytes) -> usize {
    let msg = parse_datagram(buf).unwrap();
    let via = msg.top_via().unwrap();
    let cseq = msg.cseq().unwrap();
    let from = msg.from_().unwrap();
    let call_id = msg.call_id().unwrap();
    assert!(matches!(cseq.method, Method::Invite));
    via.branch().unwrap().len() + cseq.seq as usize + from.tag().unwrap().len() + call_id.len()
}

fn allocations(f: impl FnOnce()) -> (usize, usize) {
    let region = Region::new(GLOBAL);
    f();
    let s = region.change();
    (s.allocations + s.reallocations, s.bytes_allocated)
}

#[test]
fn hot_path_does_not_allocate() {
    // A shared buffer, as a receive loop hands it over (made, and shared once, before
    // counting: the first clone of a `Bytes` made from a Vec promotes it to shared).
    let shared = Bytes::copy_from_slice(SIPP_INVITE);
    drop(black_box(shared.clone()));
    // Warm-up: anything lazily initialised (memchr's CPU feature detection) happens once.
    black_box(parse_and_read(Bytes::from_static(SIPP_INVITE)));

    let (n, bytes) = allocations(|| {
        for _ in 0..100 {
            black_box(parse_and_read(Bytes::from_static(black_box(SIPP_INVITE))));
        }
    });
    assert_eq!(
        (n, bytes),
        (0, 0),
        "parse + read of the sipp INVITE (static buffer)"
    );

    let (n, bytes) = allocations(|| {
        for _ in 0..100 {
            black_box(parse_and_read(black_box(&shared).clone()));
        }
    });
    assert_eq!(
        (n, bytes),
        (0, 0),
        "parse + read of the sipp INVITE (shared buffer)"
    );

    // The 200 OK and every Via of it.
    let (n, _) = allocations(|| {
        let m = parse_datagram(Bytes::from_static(SIPP_200)).unwrap();
        black_box(m.vias().count());
        black_box(m.to().unwrap().tag());
        black_box(m.max_forwards().unwrap());
        black_box(m.content_length().unwrap());
    });
    assert_eq!(n, 0, "parse + read of a 200 OK");

    // Stream framer: a buffer with room for the messages, as a connection reader keeps.
    // The first message split off a fresh `BytesMut` allocates once: `bytes` promotes
    // the buffer to shared storage (one small header per buffer, not per message).
    let mut buf = BytesMut::with_capacity(4 * SIPP_INVITE.len());
    let mut framer = StreamFramer::default();
    buf.extend_from_slice(SIPP_INVITE);
    let first = framer.next_item(&mut buf).unwrap();
    assert!(matches!(first, Some(StreamItem::Message(_))));
    let (n, _) = allocations(|| {
        buf.extend_from_slice(b"\r\n\r\n");
        buf.extend_from_slice(&SIPP_INVITE[..100]);
        assert!(framer.next_item(&mut buf).unwrap().is_some()); // the ping
        assert!(framer.next_item(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&SIPP_INVITE[100..]);
        match framer.next_item(&mut buf).unwrap() {
            Some(StreamItem::Message(m)) => {
                black_box(m.top_via().unwrap().branch());
            }
            other => panic!("expected the INVITE, got {other:?}"),
        }
    });
    assert_eq!(n, 0, "stream framing of the sipp INVITE");
}

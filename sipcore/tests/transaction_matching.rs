//! Matching (RFC 3261 §17.1.3, §17.2.3, §9.1, §9.2, §8.2.2.2), CANCEL, the RFC 2543
//! fallback, limits, and the table under several threads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod transaction_util;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sipcore::message::{HeaderId, Message, Method};
use sipcore::transaction::{stateless, Config, Event, Outputs, TransactionError, TransactionLayer};
use sipcore::transport::TransportKind::{Tcp, Udp};
use transaction_util::*;

const B1: &str = "z9hG4bKmatch1";

#[test]
fn cancel_before_a_provisional_waits_for_it() {
    let mut sim = Sim::new(config());
    let invite = Req::new("INVITE", B1);
    let id = sim.send_request(&invite, bob(Udp)).unwrap();
    sim.advance_to(100);
    let cancel_id = sim.cancel(id).unwrap();
    assert_eq!(sim.cancel(id).unwrap(), cancel_id, "idempotent");
    sim.advance_to(600);
    assert_eq!(
        sim.take_sent(),
        vec![(0, "INVITE".to_owned()), (500, "INVITE".to_owned())]
    );
    sim.recv(bob(Udp), answer(&invite.bytes(), 180, Some("t")))
        .unwrap();
    let sent = std::mem::take(&mut sim.sent);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 600);
    assert_eq!(sent[0].1.transaction, cancel_id);
    assert_eq!(sent[0].1.target, bob(Udp));
    let c = Message::parse(sent[0].1.payload.clone()).unwrap();
    assert_eq!(c.as_request().unwrap().method(), Method::Cancel);
    assert_eq!(c.as_request().unwrap().uri_bytes(), b"sip:bob@192.0.2.2");
    assert_eq!(c.top_via().unwrap().branch(), Some(B1));
    assert_eq!(c.cseq().unwrap().seq, 1);
    assert_eq!(c.cseq().unwrap().method, Method::Cancel);
    assert_eq!(c.to().unwrap().tag(), None);
    assert_eq!(c.count(HeaderId::Via), 1);
    // 200 to the CANCEL, 487 to the INVITE (which the layer ACKs).
    sim.recv(bob(Udp), answer(&sent[0].1.payload, 200, Some("t")))
        .unwrap();
    sim.recv(bob(Udp), answer(&invite.bytes(), 487, Some("t")))
        .unwrap();
    assert_eq!(sim.take_sent(), vec![(600, "ACK".to_owned())]);
    sim.run_out();
    assert_eq!(
        sim.event_names(),
        ev(&[
            (600, "Response 180"),
            (600, "Response 200"),
            (600, "Response 487"),
            (5600, "Terminated"),
            (32600, "Terminated")
        ])
    );
    assert!(sim.layer.is_empty());
}

#[test]
fn cancel_after_a_provisional_goes_at_once() {
    let mut sim = Sim::new(config());
    let invite = Req::new("INVITE", B1);
    let id = sim.send_request(&invite, bob(Udp)).unwrap();
    sim.recv(bob(Udp), answer(&invite.bytes(), 183, Some("t")))
        .unwrap();
    sim.advance_to(2000);
    sim.sent.clear();
    sim.cancel(id).unwrap();
    sim.run_out();
    // The CANCEL runs its own non-INVITE schedule (E capped at T2, then F).
    assert_eq!(
        sim.sent_times(),
        vec![2000, 2500, 3500, 5500, 9500, 13500, 17500, 21500, 25500, 29500, 33500]
    );
}

#[test]
fn a_held_cancel_is_dropped_when_the_final_response_comes_first() {
    let mut sim = Sim::new(config());
    let invite = Req::new("INVITE", B1);
    let id = sim.send_request(&invite, bob(Udp)).unwrap();
    let cancel_id = sim.cancel(id).unwrap();
    sim.recv(bob(Udp), answer(&invite.bytes(), 486, Some("t")))
        .unwrap();
    assert_eq!(
        sim.take_sent(),
        vec![(0, "INVITE".to_owned()), (0, "ACK".to_owned())]
    );
    let events = sim.take_events();
    assert!(matches!(&events[1].1, Event::Terminated { id } if *id == cancel_id));
    assert!(matches!(
        sim.cancel(id),
        Err(TransactionError::InvalidState { .. })
    ));
    sim.run_out();
    assert!(sim.layer.is_empty());
}

#[test]
fn server_cancel_matches_its_invite() {
    let mut sim = Sim::new(config());
    let invite = Req::new("INVITE", B1);
    sim.recv(alice(Udp), invite.bytes()).unwrap();
    let (invite_id, _) = sim.last_request();
    let cancel = invite.clone().method("CANCEL");
    sim.recv(alice(Udp), cancel.bytes()).unwrap();
    let events = sim.take_events();
    let (cancel_id, cancel_req) = match &events[1].1 {
        Event::Cancel {
            id,
            invite,
            request,
            ..
        } => {
            assert_eq!(*invite, Some(invite_id));
            (*id, request.bytes())
        }
        e => panic!("{e:?}"),
    };
    // A retransmitted CANCEL matches the CANCEL's own transaction.
    sim.respond(cancel_id, &cancel_req, 200, Some("t")).unwrap();
    sim.recv(alice(Udp), cancel.bytes()).unwrap();
    assert_eq!(
        sim.take_sent(),
        vec![(0, "200".to_owned()), (0, "200".to_owned())]
    );
    assert!(sim.events.is_empty());
    // A CANCEL for an unknown INVITE: `invite` is None (answer 481).
    sim.recv(alice(Udp), Req::new("CANCEL", "z9hG4bKnone").bytes())
        .unwrap();
    assert_eq!(sim.event_names(), ev(&[(0, "Cancel")]));
}

#[test]
fn rfc2543_fallback_without_magic_cookie() {
    let mut sim = Sim::new(config());
    let mut old = Req::new("INVITE", "");
    old.branch = None;
    sim.recv(alice(Udp), old.bytes()).unwrap();
    let (id, req) = sim.last_request();
    sim.recv(alice(Udp), old.bytes()).unwrap(); // retransmission: matched, absorbed
    assert_eq!(sim.event_names(), ev(&[(0, "Request")]));
    // Another From tag is another transaction.
    let mut other = old.clone();
    other.from_tag = "zz".into();
    sim.recv(alice(Udp), other.bytes()).unwrap();
    assert_eq!(sim.event_names(), ev(&[(0, "Request")]));
    sim.respond(id, &req, 486, Some("t5")).unwrap();
    sim.recv(alice(Udp), old.bytes()).unwrap();
    assert_eq!(
        sim.take_sent(),
        vec![(0, "486".to_owned()), (0, "486".to_owned())]
    );
    // The ACK must carry the To tag of the response (§17.2.3).
    let mut ack = old.clone().method("ACK");
    ack.to_tag = Some("wrong".into());
    sim.recv(alice(Udp), ack.bytes()).unwrap();
    assert_eq!(sim.event_names(), ev(&[(0, "Ack")]));
    ack.to_tag = Some("t5".into());
    sim.recv(alice(Udp), ack.bytes()).unwrap();
    assert!(sim.events.is_empty());
    sim.advance_to(10_000);
    assert!(
        sim.sent.is_empty(),
        "Confirmed: no more 486 retransmissions"
    );
    // A branch without the cookie is also RFC 2543.
    let mut odd = Req::new("OPTIONS", "1234");
    odd.call_id = "c2".into();
    sim.recv(alice(Udp), odd.bytes()).unwrap();
    sim.recv(alice(Udp), odd.bytes()).unwrap();
    // (Timer I ended the INVITE transaction at T4.)
    assert_eq!(
        sim.event_names(),
        ev(&[(5_000, "Terminated"), (10_000, "Request")])
    );
}

#[test]
fn merged_requests_are_flagged() {
    let mut sim = Sim::new(config());
    sim.recv(alice(Udp), Req::new("INVITE", B1).bytes())
        .unwrap();
    // Same From tag, Call-ID and CSeq, no To tag, another branch: forked upstream.
    sim.recv(alice(Udp), Req::new("INVITE", "z9hG4bKother").bytes())
        .unwrap();
    // A request inside a dialog (To tag) is never merged.
    let mut in_dialog = Req::new("INVITE", "z9hG4bKthird");
    in_dialog.to_tag = Some("x".into());
    sim.recv(alice(Udp), in_dialog.bytes()).unwrap();
    assert_eq!(
        sim.event_names(),
        ev(&[(0, "Request"), (0, "Request merged"), (0, "Request")])
    );
}

#[test]
fn sent_by_is_part_of_the_server_key() {
    let mut sim = Sim::new(config());
    let mut first = Req::new("OPTIONS", B1);
    first.sent_by = "pc33.atlanta.example.com:5060".into();
    sim.recv(alice(Udp), first.bytes()).unwrap();
    let mut other = Req::new("OPTIONS", B1);
    other.sent_by = "192.0.2.77:5060".into();
    sim.recv(alice(Udp), other.bytes()).unwrap();
    let mut case = Req::new("OPTIONS", B1);
    case.sent_by = "PC33.Atlanta.example.COM:5060".into(); // hosts compare case-insensitively
    sim.recv(alice(Udp), case.bytes()).unwrap();
    let mut port = Req::new("OPTIONS", B1);
    port.sent_by = "pc33.atlanta.example.com:5070".into();
    sim.recv(alice(Udp), port.bytes()).unwrap();
    assert_eq!(
        sim.event_names(),
        ev(&[(0, "Request"), (0, "Request merged"), (0, "Request merged")])
    );
}

#[test]
fn overload_refuses_with_the_request_for_a_stateless_503() {
    let mut sim = Sim::new(Config {
        max_transactions: 2,
        ..config()
    });
    sim.recv(
        alice(Udp),
        Req::new("OPTIONS", "z9hG4bK1").call("a").bytes(),
    )
    .unwrap();
    sim.recv(
        alice(Udp),
        Req::new("OPTIONS", "z9hG4bK2").call("b").bytes(),
    )
    .unwrap();
    let err = sim
        .recv(
            alice(Udp),
            Req::new("OPTIONS", "z9hG4bK3").call("c").bytes(),
        )
        .unwrap_err();
    let TransactionError::Overloaded(req) = err else {
        panic!("{err:?}")
    };
    let answer = Message::parse(stateless::overloaded(&req, Some(10))).unwrap();
    assert_eq!(answer.as_response().unwrap().status().as_u16(), 503);
    assert_eq!(answer.call_id().unwrap(), "c");
    // Retransmissions and ACKs still work at the limit; client requests are refused.
    sim.recv(
        alice(Udp),
        Req::new("OPTIONS", "z9hG4bK1").call("a").bytes(),
    )
    .unwrap();
    assert!(matches!(
        sim.send_request(&Req::new("OPTIONS", "z9hG4bK9").call("d"), bob(Udp)),
        Err(TransactionError::Overloaded(_))
    ));
    assert_eq!(sim.layer.len(), 2);
}

#[test]
fn one_call_id_and_cseq_cannot_grow_a_chain_without_bound() {
    let mut sim = Sim::new(Config {
        max_per_call_seq: 3,
        ..config()
    });
    for i in 0..3 {
        sim.recv(
            alice(Udp),
            Req::new("OPTIONS", &format!("z9hG4bK{i}")).bytes(),
        )
        .unwrap();
    }
    assert!(matches!(
        sim.recv(alice(Udp), Req::new("OPTIONS", "z9hG4bK4").bytes()),
        Err(TransactionError::Overloaded(_))
    ));
    sim.recv(
        alice(Udp),
        Req::new("OPTIONS", "z9hG4bK4").call("other").bytes(),
    )
    .unwrap();
}

#[test]
fn malformed_keys_are_refused() {
    let mut sim = Sim::new(config());
    let no_via = Bytes::from_static(
        b"OPTIONS sip:b@h SIP/2.0\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
    );
    assert!(matches!(
        sim.recv(alice(Udp), no_via),
        Err(TransactionError::Malformed(_))
    ));
    let wrong_cseq = Bytes::from_static(
        b"OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\n\
Call-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
    );
    let Err(TransactionError::Malformed(e)) = sim.recv(alice(Udp), wrong_cseq.clone()) else {
        panic!()
    };
    let r = request(wrong_cseq);
    let answer = Message::parse(stateless::malformed(&r, e).unwrap()).unwrap();
    assert_eq!(answer.as_response().unwrap().status().as_u16(), 400);
    assert!(sim.layer.is_empty());
}

#[test]
fn stale_handles_never_reach_a_new_transaction() {
    let mut sim = Sim::new(Config {
        shards: 1,
        ..config()
    });
    sim.recv(alice(Tcp), Req::new("BYE", B1).tcp().bytes())
        .unwrap();
    let (old, req) = sim.last_request();
    sim.respond(old, &req, 200, Some("t")).unwrap(); // TCP: terminated at once
    sim.recv(alice(Tcp), Req::new("BYE", "z9hG4bKnew").tcp().bytes())
        .unwrap();
    let (new, _) = sim.last_request();
    assert_ne!(old, new);
    assert!(matches!(
        sim.respond(old, &req, 200, None),
        Err(TransactionError::UnknownTransaction(_))
    ));
    assert_eq!(sim.layer.len(), 1);
}

#[test]
fn transport_error_by_target_hits_only_that_target() {
    let mut sim = Sim::new(config());
    let carol = sipcore::transport::Target::udp("192.0.2.3:5060".parse().unwrap());
    for i in 0..5 {
        sim.send_request(
            &Req::new("OPTIONS", &format!("z9hG4bKb{i}")).call(&format!("b{i}")),
            bob(Udp),
        )
        .unwrap();
        sim.send_request(
            &Req::new("OPTIONS", &format!("z9hG4bKc{i}")).call(&format!("c{i}")),
            carol,
        )
        .unwrap();
    }
    assert_eq!(sim.target_error(carol), 5);
    assert_eq!(sim.layer.len(), 5);
}

#[test]
fn many_threads_share_the_table() {
    let layer = Arc::new(TransactionLayer::new(
        Config {
            shards: 8,
            ..config()
        },
        epoch(),
    ));
    let start = epoch();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let layer = Arc::clone(&layer);
            std::thread::spawn(move || {
                let mut out = Outputs::new();
                for i in 0..500 {
                    let req =
                        Req::new("OPTIONS", &format!("z9hG4bK{w}x{i}")).call(&format!("{w}-{i}"));
                    layer
                        .handle_message(
                            start,
                            alice(Udp),
                            Message::parse(req.bytes()).unwrap(),
                            &mut out,
                        )
                        .unwrap();
                    while let Some(e) = out.poll_event() {
                        if let Event::Request { id, request, .. } = e {
                            let ok = stateless::response(
                                &request,
                                sipcore::message::StatusCode::OK,
                                Some("t"),
                            )
                            .unwrap();
                            layer.send_response(start, id, ok, &mut out).unwrap();
                        }
                    }
                    // A retransmission, answered from the table.
                    layer
                        .handle_message(
                            start,
                            alice(Udp),
                            Message::parse(req.bytes()).unwrap(),
                            &mut out,
                        )
                        .unwrap();
                    while out.poll_transmit().is_some() {}
                }
            })
        })
        .collect();
    let timer = {
        let layer = Arc::clone(&layer);
        std::thread::spawn(move || {
            let mut out = Outputs::new();
            for _ in 0..100 {
                layer.handle_timeout(start + Duration::from_secs(1), &mut out);
                std::thread::yield_now();
            }
        })
    };
    for w in workers {
        w.join().unwrap();
    }
    timer.join().unwrap();
    assert_eq!(layer.len(), 2000);
    let mut out = Outputs::new();
    layer.handle_timeout(start + Duration::from_secs(33), &mut out);
    assert!(layer.is_empty());
    assert_eq!(layer.memory_usage().timers, 0);
}

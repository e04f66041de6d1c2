//! Server transactions (RFC 3261 §17.2, RFC 6026 §7.1) under a simulated clock: every
//! state and transition, over UDP and TCP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod transaction_util;

use std::time::Duration;

use bytes::Bytes;
use sipcore::message::{Message, StatusCode};
use sipcore::transaction::{Event, TransactionError, TransactionId};
use sipcore::transport::TransportKind::{self, Tcp, Udp};
use transaction_util::*;

const B1: &str = "z9hG4bKserver1";

/// A UAS layer that has received `method` from alice.
fn incoming(kind: TransportKind, method: &str) -> (Sim, TransactionId, Bytes) {
    let mut sim = Sim::new(config());
    let req = if kind == Udp {
        Req::new(method, B1)
    } else {
        Req::new(method, B1).tcp()
    };
    sim.recv(alice(kind), req.bytes()).unwrap();
    let (id, bytes) = sim.last_request();
    assert_eq!(sim.event_names(), ev(&[(0, "Request")]));
    (sim, id, bytes)
}

fn ack_for(req: &Bytes, to_tag: &str) -> Bytes {
    let r = request(req.clone());
    let via = r.top_via().unwrap();
    let mut a = Req::new("ACK", via.branch().unwrap());
    if via.transport == "TCP" {
        a = a.tcp();
    }
    a.to_tag = Some(to_tag.to_owned());
    a.bytes()
}

#[test]
fn ist_absorbs_retransmissions_and_repeats_the_last_provisional() {
    let (mut sim, id, req) = incoming(Udp, "INVITE");
    sim.advance_to(300);
    sim.recv(alice(Udp), req.clone()).unwrap();
    assert!(sim.sent.is_empty() && sim.events.is_empty());
    sim.respond(id, &req, 180, Some("b1")).unwrap();
    sim.advance_to(900);
    sim.recv(alice(Udp), req.clone()).unwrap();
    assert_eq!(
        sim.take_sent(),
        vec![(300, "180".to_owned()), (900, "180".to_owned())]
    );
    assert!(sim.events.is_empty());
    // Responses go to the source address at the sent-by port (no rport).
    assert_eq!(sim.layer.len(), 1);
}

#[test]
fn ist_sends_100_trying_when_the_tu_is_silent() {
    let mut sim = Sim::new(sipcore::transaction::Config {
        trying_delay: Some(Duration::from_millis(200)),
        ..config()
    });
    sim.recv(alice(Udp), Req::new("INVITE", B1).bytes())
        .unwrap();
    sim.advance_to(1000);
    let sent = std::mem::take(&mut sim.sent);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 200);
    let trying = Message::parse(sent[0].1.payload.clone()).unwrap();
    assert_eq!(trying.as_response().unwrap().status(), StatusCode::TRYING);
    assert_eq!(trying.to().unwrap().tag(), None);
    // A TU that answers in time gets no 100 on its behalf.
    let mut sim2 = Sim::new(sipcore::transaction::Config {
        trying_delay: Some(Duration::from_millis(200)),
        ..config()
    });
    sim2.recv(alice(Udp), Req::new("INVITE", B1).bytes())
        .unwrap();
    let (id, req) = sim2.last_request();
    sim2.advance_to(150);
    sim2.respond(id, &req, 180, Some("t")).unwrap();
    sim2.advance_to(1000);
    assert_eq!(sim2.take_sent(), vec![(150, "180".to_owned())]);
}

#[test]
fn ist_non_2xx_timer_g_capped_until_timer_h() {
    let (mut sim, id, req) = incoming(Udp, "INVITE");
    sim.respond(id, &req, 486, Some("b1")).unwrap();
    // An INVITE retransmission is answered from the transaction too.
    sim.advance_to(100);
    sim.recv(alice(Udp), req.clone()).unwrap();
    sim.run_out();
    assert_eq!(
        sim.sent_times(),
        vec![0, 100, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    let events = sim.take_events();
    assert!(matches!(
        events[0],
        (
            32000,
            Event::Timeout {
                timer: sipcore::transaction::Timer::H,
                ..
            }
        )
    ));
    assert!(matches!(events[1], (32000, Event::Terminated { .. })));
}

#[test]
fn ist_ack_confirms_then_timer_i_and_a_late_ack() {
    let (mut sim, id, req) = incoming(Udp, "INVITE");
    sim.respond(id, &req, 486, Some("b1")).unwrap();
    sim.advance_to(1000);
    let ack = ack_for(&req, "b1");
    sim.recv(alice(Udp), ack.clone()).unwrap();
    sim.advance_to(2000);
    sim.recv(alice(Udp), ack.clone()).unwrap(); // absorbed in Confirmed
    sim.run_out();
    // G fired at 500 only; the ACK stopped it.
    assert_eq!(sim.sent_times(), vec![0, 500]);
    assert_eq!(sim.event_names(), ev(&[(6000, "Terminated")]));
    // A late ACK, after Timer I: it matches nothing and goes to the TU.
    sim.recv(alice(Udp), ack).unwrap();
    assert_eq!(sim.event_names(), ev(&[(6000, "Ack")]));
}

#[test]
fn ist_reliable_no_g_and_zero_i() {
    let (mut sim, id, req) = incoming(Tcp, "INVITE");
    sim.respond(id, &req, 404, Some("b1")).unwrap();
    sim.advance_to(10_000);
    assert_eq!(sim.sent_times(), vec![0]);
    sim.recv(alice(Tcp), ack_for(&req, "b1")).unwrap();
    assert_eq!(sim.event_names(), ev(&[(10_000, "Terminated")]));
    assert!(sim.layer.is_empty());
    // Over TCP responses go back to the source connection.
    let (mut sim, id, req) = incoming(Tcp, "INVITE");
    sim.respond(id, &req, 500, Some("b1")).unwrap();
    assert_eq!(sim.sent[0].1.target, alice(Tcp));
}

#[test]
fn ist_2xx_accepted_absorbs_invites_and_passes_acks() {
    let (mut sim, id, req) = incoming(Udp, "INVITE");
    sim.respond(id, &req, 200, Some("b1")).unwrap();
    sim.advance_to(500);
    sim.recv(alice(Udp), req.clone()).unwrap(); // absorbed (RFC 6026)
    sim.respond(id, &req, 200, Some("b1")).unwrap(); // TU's 2xx retransmission passes
    sim.advance_to(700);
    // An ACK for the 2xx carrying the INVITE's branch reaches the TU, never absorbed.
    sim.recv(alice(Udp), ack_for(&req, "b1")).unwrap();
    // The usual ACK for a 2xx has a branch of its own: it matches no transaction.
    let mut ack = Req::new("ACK", "z9hG4bKack2xx");
    ack.to_tag = Some("b1".into());
    sim.recv(alice(Udp), ack.bytes()).unwrap();
    sim.run_out();
    assert_eq!(
        sim.take_sent(),
        vec![(0, "200".to_owned()), (500, "200".to_owned())]
    );
    assert_eq!(
        sim.event_names(),
        ev(&[(700, "Ack matched"), (700, "Ack"), (32000, "Terminated")])
    );
    // After Timer L the handle is dead.
    assert!(matches!(
        sim.respond(id, &req, 200, Some("b1")),
        Err(TransactionError::UnknownTransaction(_))
    ));
}

/// Accepted never retransmits the 2xx (the TU does), so the transaction lets it go: a
/// call's 2xx would otherwise live until Timer L (32 s).
#[test]
fn ist_accepted_does_not_keep_its_2xx() {
    let (mut sim, id, req) = incoming(Udp, "INVITE");
    sim.respond(id, &req, 200, Some("b1")).unwrap();
    let (_, sent) = sim.sent.pop().unwrap();
    assert!(
        sent.payload.is_unique(),
        "the Accepted transaction holds its 2xx"
    );
    // The TU's retransmissions still go out, and are not kept either.
    sim.respond(id, &req, 200, Some("b1")).unwrap();
    let (_, again) = sim.sent.pop().unwrap();
    assert!(again.payload.starts_with(b"SIP/2.0 200"));
    assert!(again.payload.is_unique());
}

#[test]
fn ist_refuses_a_second_final_response() {
    let (mut sim, id, req) = incoming(Udp, "INVITE");
    sim.respond(id, &req, 486, Some("b1")).unwrap();
    assert!(matches!(
        sim.respond(id, &req, 200, Some("b1")),
        Err(TransactionError::InvalidState { .. })
    ));
    assert!(matches!(
        sim.respond(id, &req, 180, Some("b1")),
        Err(TransactionError::InvalidState { .. })
    ));
    assert!(matches!(
        sim.cancel(id),
        Err(TransactionError::InvalidState { .. })
    ));
}

#[test]
fn ist_answers_408_when_the_tu_never_does() {
    let mut sim = Sim::new(sipcore::transaction::Config {
        invite_server_timeout: Duration::from_secs(10),
        ..config()
    });
    let req = Req::new("INVITE", B1);
    sim.recv(alice(Udp), req.bytes()).unwrap();
    sim.take_events();
    sim.advance_to(10_000);
    let sent = sim.take_sent();
    assert_eq!(sent, vec![(10_000, "408".to_owned())]);
    assert_eq!(sim.event_names(), ev(&[(10_000, "Timeout Tu")]));
    // Then the usual Completed: G retransmits the 408 until H.
    sim.run_out();
    assert_eq!(sim.take_sent().len(), 10);
    assert_eq!(
        sim.event_names(),
        ev(&[(42_000, "Timeout H"), (42_000, "Terminated")])
    );
    assert!(sim.layer.is_empty());
}

#[test]
fn ist_transport_error_in_every_state() {
    for state in ["Proceeding", "Completed", "Confirmed", "Accepted"] {
        let (mut sim, id, req) = incoming(Udp, "INVITE");
        match state {
            "Completed" => sim.respond(id, &req, 486, Some("t")).unwrap(),
            "Confirmed" => {
                sim.respond(id, &req, 486, Some("t")).unwrap();
                sim.recv(alice(Udp), ack_for(&req, "t")).unwrap();
            }
            "Accepted" => sim.respond(id, &req, 200, Some("t")).unwrap(),
            _ => {}
        }
        sim.take_events();
        sim.send_error(id);
        assert_eq!(
            sim.event_names(),
            ev(&[(0, "TransportError"), (0, "Terminated")]),
            "{state}"
        );
        assert!(sim.layer.is_empty(), "{state}");
        assert_eq!(sim.layer.memory_usage().timers, 0, "{state}");
    }
}

#[test]
fn nist_trying_proceeding_completed_and_timer_j() {
    let (mut sim, id, req) = incoming(Udp, "OPTIONS");
    sim.advance_to(100);
    sim.recv(alice(Udp), req.clone()).unwrap(); // Trying: absorbed
    assert!(sim.sent.is_empty());
    sim.respond(id, &req, 100, None).unwrap();
    sim.advance_to(200);
    sim.recv(alice(Udp), req.clone()).unwrap(); // Proceeding: the provisional again
    sim.respond(id, &req, 200, Some("b1")).unwrap();
    sim.advance_to(300);
    sim.recv(alice(Udp), req.clone()).unwrap(); // Completed: the final again
    assert!(matches!(
        sim.respond(id, &req, 500, Some("b1")),
        Err(TransactionError::InvalidState { .. })
    ));
    sim.run_out();
    assert_eq!(
        sim.take_sent(),
        vec![
            (100, "100".to_owned()),
            (200, "100".to_owned()),
            (200, "200".to_owned()),
            (300, "200".to_owned())
        ]
    );
    assert_eq!(sim.event_names(), ev(&[(32200, "Terminated")]));
}

#[test]
fn nist_reliable_final_terminates_at_once() {
    let (mut sim, id, req) = incoming(Tcp, "BYE");
    sim.respond(id, &req, 200, Some("b1")).unwrap();
    assert_eq!(sim.event_names(), ev(&[(0, "Terminated")]));
    assert!(sim.layer.is_empty());
}

#[test]
fn nist_answers_408_when_the_tu_never_does() {
    let (mut sim, _, _) = incoming(Udp, "MESSAGE");
    sim.run_out();
    assert_eq!(sim.take_sent(), vec![(40_000, "408".to_owned())]);
    assert_eq!(
        sim.event_names(),
        ev(&[(40_000, "Timeout Tu"), (72_000, "Terminated")])
    );
}

#[test]
fn nist_transport_error_in_every_state() {
    for state in ["Trying", "Proceeding", "Completed"] {
        let (mut sim, id, req) = incoming(Udp, "OPTIONS");
        match state {
            "Proceeding" => sim.respond(id, &req, 100, None).unwrap(),
            "Completed" => sim.respond(id, &req, 200, Some("t")).unwrap(),
            _ => {}
        }
        let target = sim.sent.first().map_or(alice(Udp), |s| s.1.target);
        assert_eq!(target, alice(Udp));
        assert_eq!(sim.target_error(alice(Udp)), 1, "{state}");
        assert_eq!(
            sim.event_names(),
            ev(&[(0, "TransportError"), (0, "Terminated")]),
            "{state}"
        );
        assert!(sim.layer.is_empty(), "{state}");
    }
}

#[test]
fn udp_responses_follow_rport_and_sent_by() {
    let mut sim = Sim::new(config());
    let from_nat = sipcore::transport::Target::udp("198.51.100.9:40000".parse().unwrap());
    let mut r = Req::new("OPTIONS", B1);
    r.sent_by = "10.0.0.5:5070".into();
    sim.recv(from_nat, r.bytes()).unwrap();
    let (id, req) = sim.last_request();
    sim.respond(id, &req, 200, Some("t")).unwrap();
    assert_eq!(
        sim.sent[0].1.target.addr,
        "198.51.100.9:5070".parse().unwrap()
    );
    let mut r = Req::new("OPTIONS", "z9hG4bKrport");
    r.sent_by = "10.0.0.5:5070;rport".into();
    sim.recv(from_nat, r.bytes()).unwrap();
    let (id, req) = sim.last_request();
    sim.respond(id, &req, 200, Some("t")).unwrap();
    assert_eq!(sim.sent[1].1.target, from_nat);
}

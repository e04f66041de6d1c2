//! Client transactions (RFC 3261 §17.1, RFC 6026 §7.2) under a simulated clock: every
//! state and transition, over UDP and TCP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod transaction_util;

use sipcore::message::{Message, Method};
use sipcore::transaction::{Event, Timer, TransactionError};
use sipcore::transport::TransportKind::{Tcp, Udp};
use transaction_util::*;

const B1: &str = "z9hG4bKclient1";

fn ict(kind: sipcore::transport::TransportKind) -> (Sim, sipcore::transaction::TransactionId, Req) {
    let mut sim = Sim::new(config());
    let req = if kind == Udp {
        Req::new("INVITE", B1)
    } else {
        Req::new("INVITE", B1).tcp()
    };
    let id = sim.send_request(&req, bob(kind)).unwrap();
    (sim, id, req)
}

#[test]
fn ict_timer_a_doubles_from_t1_until_timer_b() {
    let (mut sim, _, _) = ict(Udp);
    sim.run_out();
    assert_eq!(
        sim.sent_times(),
        vec![0, 500, 1500, 3500, 7500, 15500, 31500]
    );
    assert_eq!(
        sim.event_names(),
        ev(&[(32000, "Timeout B"), (32000, "Terminated")])
    );
    assert!(sim.layer.is_empty());
    assert_eq!(sim.layer.memory_usage().timers, 0);
}

#[test]
fn ict_reliable_sends_once_and_times_out_with_b() {
    let (mut sim, id, _) = ict(Tcp);
    sim.run_out();
    assert_eq!(sim.sent_times(), vec![0]);
    let events = sim.take_events();
    assert!(matches!(events[0], (32000, Event::Timeout { id: i, timer: Timer::B }) if i == id));
    assert_eq!(events[0].1.failure_status().map(|s| s.as_u16()), Some(408));
}

#[test]
fn ict_provisional_stops_a_and_b() {
    let (mut sim, _, req) = ict(Udp);
    sim.advance_to(700);
    sim.recv(bob(Udp), answer(&req.bytes(), 180, Some("b1")))
        .unwrap();
    sim.advance_to(100_000);
    assert_eq!(sim.sent_times(), vec![0, 500]);
    // No Timer B in Proceeding (the sipgo PR #254 pitfall): only the response.
    assert_eq!(sim.event_names(), ev(&[(700, "Response 180")]));
    assert_eq!(sim.layer.len(), 1);
}

#[test]
fn ict_timer_c_cancels_and_ends_the_transaction() {
    let (mut sim, _, req) = ict(Udp);
    sim.recv(bob(Udp), answer(&req.bytes(), 180, Some("b1")))
        .unwrap();
    sim.advance_to(60_000);
    sim.recv(bob(Udp), answer(&req.bytes(), 183, Some("b1")))
        .unwrap(); // restarts C
    sim.take_events();
    sim.sent.clear();
    sim.advance_to(60_000 + 181_000);
    assert_eq!(sim.event_names(), ev(&[(241_000, "Timeout C")]));
    assert_eq!(sim.take_sent(), vec![(241_000, "CANCEL".to_owned())]);
    sim.run_out();
    let names = sim.event_names();
    // The CANCEL times out (F) unanswered; the INVITE ends 64*T1 after Timer C.
    assert!(names.contains(&(273_000, "Timeout F".to_owned())));
    assert_eq!(names.iter().filter(|n| n.1 == "Terminated").count(), 2);
    assert!(sim.layer.is_empty());
}

#[test]
fn ict_non_2xx_is_acked_and_timer_d_absorbs_retransmissions() {
    let (mut sim, _, req) = ict(Udp);
    sim.advance_to(100);
    let busy = answer(&req.bytes(), 486, Some("b7"));
    sim.recv(bob(Udp), busy.clone()).unwrap();
    let sent = std::mem::take(&mut sim.sent);
    assert_eq!(sent.len(), 2);
    let ack = Message::parse(sent[1].1.payload.clone()).unwrap();
    assert_eq!(sent[1].0, 100);
    assert_eq!(ack.as_request().unwrap().method(), Method::Ack);
    assert_eq!(ack.to().unwrap().tag(), Some("b7"));
    assert_eq!(ack.cseq().unwrap().seq, 1);
    assert_eq!(ack.cseq().unwrap().method, Method::Ack);
    assert_eq!(ack.top_via().unwrap().branch(), Some(B1));
    assert_eq!(ack.as_request().unwrap().uri_bytes(), b"sip:bob@192.0.2.2");
    // A retransmitted 486: the ACK again, nothing to the TU.
    sim.advance_to(1000);
    sim.recv(bob(Udp), busy).unwrap();
    assert_eq!(sim.take_sent(), vec![(1000, "ACK".to_owned())]);
    sim.run_out();
    assert_eq!(
        sim.event_names(),
        ev(&[(100, "Response 486"), (32100, "Terminated")])
    );
}

#[test]
fn ict_reliable_non_2xx_terminates_at_once() {
    let (mut sim, _, req) = ict(Tcp);
    sim.recv(bob(Tcp), answer(&req.bytes(), 603, Some("b7")))
        .unwrap();
    assert_eq!(
        sim.take_sent(),
        vec![(0, "INVITE".to_owned()), (0, "ACK".to_owned())]
    );
    assert_eq!(
        sim.event_names(),
        ev(&[(0, "Response 603"), (0, "Terminated")])
    );
    assert!(sim.layer.is_empty());
}

#[test]
fn ict_2xx_retransmissions_and_forks_reach_the_tu_in_accepted() {
    let (mut sim, _, req) = ict(Udp);
    sim.advance_to(100);
    let ok = answer(&req.bytes(), 200, Some("fork1"));
    sim.recv(bob(Udp), ok.clone()).unwrap();
    sim.advance_to(600);
    sim.recv(bob(Udp), ok.clone()).unwrap(); // retransmission
    sim.advance_to(800);
    sim.recv(bob(Udp), answer(&req.bytes(), 200, Some("fork2")))
        .unwrap(); // another fork
    sim.recv(bob(Udp), answer(&req.bytes(), 486, Some("fork3")))
        .unwrap(); // ignored
    sim.run_out();
    // The layer never ACKs a 2xx; Timer M ends Accepted after 64*T1.
    assert_eq!(sim.take_sent(), vec![(0, "INVITE".to_owned())]);
    assert_eq!(
        sim.event_names(),
        ev(&[
            (100, "Response 200"),
            (600, "Response 200"),
            (800, "Response 200"),
            (32100, "Terminated")
        ])
    );
    // After Timer M a 2xx is a stray, still handed to the TU.
    sim.recv(bob(Udp), ok).unwrap();
    assert_eq!(sim.event_names(), ev(&[(32100, "Stray 200")]));
}

#[test]
fn ict_transport_error_in_every_state() {
    for state in ["Calling", "Proceeding", "Completed", "Accepted"] {
        let (mut sim, id, req) = ict(Udp);
        match state {
            "Proceeding" => sim
                .recv(bob(Udp), answer(&req.bytes(), 180, Some("t")))
                .unwrap(),
            "Completed" => sim
                .recv(bob(Udp), answer(&req.bytes(), 480, Some("t")))
                .unwrap(),
            "Accepted" => sim
                .recv(bob(Udp), answer(&req.bytes(), 200, Some("t")))
                .unwrap(),
            _ => {}
        }
        sim.take_events();
        sim.advance_to(50);
        sim.send_error(id);
        let events = sim.take_events();
        assert!(
            matches!(&events[..], [(50, e @ Event::TransportError { .. }), (50, Event::Terminated { .. })]
                if e.failure_status().map(|s| s.as_u16()) == Some(503)),
            "{state}: {events:?}"
        );
        assert!(sim.layer.is_empty(), "{state}");
        assert_eq!(sim.layer.memory_usage().timers, 0, "{state}");
        // The handle is dead now.
        assert!(matches!(
            sim.cancel(id),
            Err(TransactionError::UnknownTransaction(_))
        ));
    }
}

#[test]
fn nict_timer_e_is_capped_at_t2_until_timer_f() {
    let mut sim = Sim::new(config());
    sim.send_request(&Req::new("OPTIONS", B1), bob(Udp))
        .unwrap();
    sim.run_out();
    assert_eq!(
        sim.sent_times(),
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(
        sim.event_names(),
        ev(&[(32000, "Timeout F"), (32000, "Terminated")])
    );
}

#[test]
fn nict_proceeding_retransmits_every_t2() {
    let mut sim = Sim::new(config());
    let req = Req::new("REGISTER", B1);
    sim.send_request(&req, bob(Udp)).unwrap();
    sim.advance_to(200);
    sim.recv(bob(Udp), answer(&req.bytes(), 100, None)).unwrap();
    sim.run_out();
    assert_eq!(
        sim.sent_times(),
        vec![0, 500, 4500, 8500, 12500, 16500, 20500, 24500, 28500]
    );
    assert_eq!(
        sim.event_names(),
        ev(&[
            (200, "Response 100"),
            (32000, "Timeout F"),
            (32000, "Terminated")
        ])
    );
}

#[test]
fn nict_final_response_then_timer_k() {
    let mut sim = Sim::new(config());
    let req = Req::new("BYE", B1);
    sim.send_request(&req, bob(Udp)).unwrap();
    sim.advance_to(300);
    let ok = answer(&req.bytes(), 200, None);
    sim.recv(bob(Udp), ok.clone()).unwrap();
    sim.advance_to(1000);
    sim.recv(bob(Udp), ok).unwrap(); // absorbed
    sim.run_out();
    assert_eq!(sim.sent_times(), vec![0]);
    assert_eq!(
        sim.event_names(),
        ev(&[(300, "Response 200"), (5300, "Terminated")])
    );
}

#[test]
fn nict_reliable_no_retransmissions_and_zero_k() {
    let mut sim = Sim::new(config());
    let req = Req::new("MESSAGE", B1).tcp();
    sim.send_request(&req, bob(Tcp)).unwrap();
    sim.advance_to(10_000);
    assert_eq!(sim.sent_times(), vec![0]);
    sim.recv(bob(Tcp), answer(&req.bytes(), 202, None)).unwrap();
    assert_eq!(
        sim.event_names(),
        ev(&[(10_000, "Response 202"), (10_000, "Terminated")])
    );
    assert!(sim.layer.is_empty());
    // And F over TCP.
    sim.send_request(&Req::new("MESSAGE", "z9hG4bKother").tcp(), bob(Tcp))
        .unwrap();
    sim.run_out();
    assert_eq!(
        sim.event_names(),
        ev(&[(42_000, "Timeout F"), (42_000, "Terminated")])
    );
}

#[test]
fn nict_transport_error_in_every_state() {
    for state in ["Trying", "Proceeding", "Completed"] {
        let mut sim = Sim::new(config());
        let req = Req::new("OPTIONS", B1);
        let id = sim.send_request(&req, bob(Udp)).unwrap();
        match state {
            "Proceeding" => sim.recv(bob(Udp), answer(&req.bytes(), 100, None)).unwrap(),
            "Completed" => sim.recv(bob(Udp), answer(&req.bytes(), 404, None)).unwrap(),
            _ => {}
        }
        sim.take_events();
        // By target this time: every transaction sending to bob fails.
        assert_eq!(sim.target_error(bob(Udp)), 1, "{state}");
        assert_eq!(
            sim.event_names(),
            ev(&[(0, "TransportError"), (0, "Terminated")]),
            "{state}"
        );
        assert!(sim.layer.is_empty());
        assert!(matches!(
            sim.layer.handle_send_error(
                sim.now,
                id,
                sipcore::transaction::TransportFailure::Other,
                &mut sipcore::transaction::Outputs::new()
            ),
            Err(TransactionError::UnknownTransaction(_))
        ));
    }
}

#[test]
fn send_request_refuses_ack_bad_branch_and_duplicates() {
    let mut sim = Sim::new(config());
    assert!(matches!(
        sim.send_request(&Req::new("ACK", B1), bob(Udp)),
        Err(TransactionError::InvalidRequest(_))
    ));
    assert!(matches!(
        sim.send_request(&Req::new("INVITE", "nocookie"), bob(Udp)),
        Err(TransactionError::InvalidRequest(_))
    ));
    sim.send_request(&Req::new("INVITE", B1), bob(Udp)).unwrap();
    assert!(matches!(
        sim.send_request(&Req::new("INVITE", B1), bob(Udp)),
        Err(TransactionError::DuplicateBranch)
    ));
    // The same branch with another method is another transaction (§17.1.3).
    sim.send_request(&Req::new("INVITE", B1).method("INFO"), bob(Udp))
        .unwrap();
    assert_eq!(sim.layer.len(), 2);
}

#[test]
fn responses_match_by_branch_and_cseq_method() {
    let mut sim = Sim::new(config());
    let invite = Req::new("INVITE", B1);
    let id = sim.send_request(&invite, bob(Udp)).unwrap();
    sim.recv(bob(Udp), answer(&invite.bytes(), 180, Some("t")))
        .unwrap();
    let cancel_id = sim.cancel(id).unwrap();
    sim.take_events();
    // 200 for the CANCEL carries the INVITE's branch: CSeq method decides.
    let cancel_bytes = sim.sent.last().unwrap().1.payload.clone();
    sim.recv(bob(Udp), answer(&cancel_bytes, 200, Some("t")))
        .unwrap();
    let events = sim.take_events();
    assert!(matches!(&events[0].1, Event::Response { id, .. } if *id == cancel_id));
    // Another branch, or another Call-ID: no match.
    let mut other = invite.clone();
    other.branch = Some("z9hG4bKelse".into());
    sim.recv(bob(Udp), answer(&other.bytes(), 180, Some("t")))
        .unwrap();
    assert_eq!(sim.event_names(), ev(&[(0, "Stray 180")]));
}

fn fr_config() -> sipcore::transaction::Config {
    sipcore::transaction::Config {
        no_response_timeout: Some(std::time::Duration::from_secs(4)),
        ..config()
    }
}

#[test]
fn no_response_timeout_ends_a_silent_invite_early() {
    let mut sim = Sim::new(fr_config());
    sim.send_request(&Req::new("INVITE", B1), bob(Udp)).unwrap();
    sim.run_out();
    assert_eq!(sim.sent_times(), vec![0, 500, 1500, 3500]);
    assert_eq!(
        sim.event_names(),
        ev(&[(4000, "Timeout B"), (4000, "Terminated")])
    );
}

#[test]
fn no_response_timeout_does_not_cut_an_answering_invite() {
    let mut sim = Sim::new(fr_config());
    let req = Req::new("INVITE", B1);
    sim.send_request(&req, bob(Udp)).unwrap();
    sim.advance_to(3000);
    sim.recv(bob(Udp), answer(&req.bytes(), 180, Some("b1")))
        .unwrap();
    sim.advance_to(60_000);
    // Ringing: no timeout before Timer C.
    assert_eq!(sim.event_names(), ev(&[(3000, "Response 180")]));
}

#[test]
fn no_response_timeout_then_the_rest_of_timer_f_after_a_provisional() {
    let mut sim = Sim::new(fr_config());
    let req = Req::new("OPTIONS", B1);
    sim.send_request(&req, bob(Udp)).unwrap();
    sim.run_out();
    assert_eq!(
        sim.event_names(),
        ev(&[(4000, "Timeout F"), (4000, "Terminated")])
    );
    let mut sim = Sim::new(fr_config());
    let req = Req::new("REGISTER", B1);
    sim.send_request(&req, bob(Udp)).unwrap();
    sim.advance_to(1000);
    sim.recv(bob(Udp), answer(&req.bytes(), 100, None)).unwrap();
    sim.run_out();
    // 1 s + (32 s - 4 s): the provisional lifted the short bound.
    assert_eq!(
        sim.event_names(),
        ev(&[
            (1000, "Response 100"),
            (29000, "Timeout F"),
            (29000, "Terminated")
        ])
    );
}

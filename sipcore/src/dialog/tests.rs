#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;

use super::*;
use crate::message::Message;

fn req(s: &str) -> Request {
    match Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap() {
        Message::Request(r) => r,
        _ => panic!("not a request"),
    }
}

fn resp(s: &str) -> Response {
    match Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap() {
        Message::Response(r) => r,
        _ => panic!("not a response"),
    }
}

const INVITE: &str = "INVITE sip:bob@biloxi.example SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\nFrom: \"Alice\" <sip:alice@atlanta.example>;tag=a1\nTo: <sip:bob@biloxi.example>\nCall-ID: c1\nCSeq: 7 INVITE\nContact: <sip:alice@192.0.2.1>\nRecord-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\nMax-Forwards: 70\nContent-Length: 0\n\n";

fn answer(status: &str, tag: &str, contact: &str, rr: &str) -> Response {
    resp(&format!(
        "SIP/2.0 {status}\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\n{rr}From: \"Alice\" <sip:alice@atlanta.example>;tag=a1\nTo: <sip:bob@biloxi.example>;tag={tag}\nCall-ID: c1\nCSeq: 7 INVITE\nContact: <{contact}>\nContent-Length: 0\n\n"
    ))
}

fn text(b: &Bytes) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

#[test]
fn uac_from_a_2xx_then_bye_along_the_reversed_record_route() {
    let ok = answer(
        "200 OK",
        "b1",
        "sip:bob@192.0.2.4",
        "Record-Route: <sip:p2.example;lr>\nRecord-Route: <sip:p1.example;lr>\n",
    );
    let mut d = Dialog::uac(&req(INVITE), &ok).unwrap();
    assert_eq!(d.state(), State::Confirmed);
    assert_eq!(d.role(), Role::Uac);
    assert_eq!(d.id().local_tag, "a1");
    assert_eq!(d.id().remote_tag, "b1");
    assert_eq!(
        d.route_set(),
        ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
    );
    let bye = text(
        &d.request(Method::Bye, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKbye")
            .unwrap(),
    );
    assert!(
        bye.starts_with("BYE sip:bob@192.0.2.4 SIP/2.0\r\n"),
        "{bye}"
    );
    assert!(
        bye.contains("From: \"Alice\" <sip:alice@atlanta.example>;tag=a1\r\n"),
        "{bye}"
    );
    assert!(
        bye.contains("To: <sip:bob@biloxi.example>;tag=b1\r\n"),
        "{bye}"
    );
    assert!(bye.contains("CSeq: 8 BYE\r\n"), "{bye}");
    // The built request parses, and the ACK keeps the INVITE's CSeq.
    let ack = text(&d.ack(7, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKack").unwrap());
    assert!(ack.contains("CSeq: 7 ACK\r\n"), "{ack}");
    assert!(Message::parse(Bytes::from(ack)).is_ok());
    assert!(matches!(
        d.request(Method::Ack, "x"),
        Err(DialogError::Method("ACK"))
    ));
}

#[test]
fn a_strict_router_gets_the_request_uri_and_the_target_goes_last() {
    let ok = answer(
        "200 OK",
        "b1",
        "sip:bob@192.0.2.4",
        "Record-Route: <sip:p2.example>, <sip:p1.example;lr>\n",
    );
    let mut d = Dialog::uac(&req(INVITE), &ok).unwrap();
    // Reversed: p1 (loose) first; make the first strict to check §12.2.1.1.
    assert_eq!(d.route_set()[0], "<sip:p1.example;lr>");
    let ok = answer(
        "200 OK",
        "b2",
        "sip:bob@192.0.2.4",
        "Record-Route: <sip:p1.example;lr>, <sip:p2.example>\n",
    );
    let mut strict = Dialog::uac(&req(INVITE), &ok).unwrap();
    let (uri, routes) = strict.next_hop();
    assert_eq!(uri, "sip:p2.example");
    assert_eq!(routes, ["<sip:p1.example;lr>", "<sip:bob@192.0.2.4>"]);
    let bye = text(
        &strict
            .request(Method::Bye, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKs")
            .unwrap(),
    );
    assert!(bye.starts_with("BYE sip:p2.example SIP/2.0\r\n"), "{bye}");
    let _ = d
        .request(Method::Info, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKi")
        .unwrap();
}

#[test]
fn uas_dialog_cseq_order_target_refresh_and_bye() {
    let mut d = Dialog::uas(&req(INVITE), "b9", Some("sip:bob@192.0.2.4")).unwrap();
    assert_eq!(d.state(), State::Early);
    assert_eq!(
        d.route_set(),
        ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
    );
    d.confirm();
    let in_dialog = |method: &str, seq: u32, contact: &str| {
        req(&format!(
            "{method} sip:bob@192.0.2.4 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{seq}\nFrom: <sip:alice@atlanta.example>;tag=a1\nTo: <sip:bob@biloxi.example>;tag=b9\nCall-ID: c1\nCSeq: {seq} {method}\n{contact}Max-Forwards: 70\nContent-Length: 0\n\n"
        ))
    };
    // A re-INVITE with a new Contact: the target follows.
    d.on_request(&in_dialog(
        "INVITE",
        8,
        "Contact: <sip:alice@198.51.100.7>\n",
    ))
    .unwrap();
    assert_eq!(d.remote_target(), "sip:alice@198.51.100.7");
    // Going back in CSeq is refused (500), the dialog unchanged.
    assert!(matches!(
        d.on_request(&in_dialog("INFO", 5, "")),
        Err(DialogError::OutOfOrder { got: 5, last: 8 })
    ));
    // A request of another dialog is not taken.
    let other = req("INFO sip:bob@192.0.2.4 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKo\nFrom: <sip:alice@atlanta.example>;tag=a1\nTo: <sip:bob@biloxi.example>;tag=zz\nCall-ID: c1\nCSeq: 9 INFO\nMax-Forwards: 70\nContent-Length: 0\n\n");
    assert!(matches!(
        d.on_request(&other),
        Err(DialogError::NotInDialog)
    ));
    // The UAS's own requests: From is its local URI with its tag, CSeq from 1.
    let info = text(
        &d.request(Method::Info, "SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKu")
            .unwrap(),
    );
    assert!(
        info.starts_with("INFO sip:alice@198.51.100.7 SIP/2.0\r\n"),
        "{info}"
    );
    assert!(
        info.contains("From: <sip:bob@biloxi.example>;tag=b9\r\n"),
        "{info}"
    );
    assert!(
        info.contains("To: \"Alice\" <sip:alice@atlanta.example>;tag=a1\r\n"),
        "{info}"
    );
    assert!(info.contains("CSeq: 1 INFO\r\n"), "{info}");
    d.on_request(&in_dialog("BYE", 9, "")).unwrap();
    assert_eq!(d.state(), State::Terminated);
    assert!(matches!(
        d.request(Method::Info, "x"),
        Err(DialogError::Terminated)
    ));
}

#[test]
fn a_481_or_408_ends_the_dialog() {
    let ok = answer("200 OK", "b1", "sip:bob@192.0.2.4", "");
    let mut d = Dialog::uac(&req(INVITE), &ok).unwrap();
    let r = resp("SIP/2.0 481 Call/Transaction Does Not Exist\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\nFrom: <sip:alice@atlanta.example>;tag=a1\nTo: <sip:bob@biloxi.example>;tag=b1\nCall-ID: c1\nCSeq: 8 INFO\nContent-Length: 0\n\n");
    d.on_response(&r).unwrap();
    assert_eq!(d.state(), State::Terminated);
}

#[test]
fn a_forked_invite_makes_one_dialog_per_tag_and_a_failure_ends_the_early_ones() {
    let mut set = DialogSet::new(req(INVITE));
    let ringing = |tag: &str, contact: &str| answer("180 Ringing", tag, contact, "");
    assert!(set
        .on_response(&ringing("x1", "sip:bob@192.0.2.11"))
        .unwrap()
        .is_some());
    assert!(set
        .on_response(&ringing("x2", "sip:bob@192.0.2.12"))
        .unwrap()
        .is_some());
    // The same early dialog again: no new one.
    set.on_response(&ringing("x1", "sip:bob@192.0.2.11"))
        .unwrap();
    assert_eq!(set.dialogs().len(), 2);
    assert!(set.dialogs().iter().all(|d| d.state() == State::Early));
    // x2 answers: confirmed, with the 2xx's target; x1 stays early.
    let d = set
        .on_response(&answer("200 OK", "x2", "sip:bob@192.0.2.22", ""))
        .unwrap()
        .unwrap();
    assert_eq!(d.state(), State::Confirmed);
    assert_eq!(d.remote_target(), "sip:bob@192.0.2.22");
    assert_eq!(set.get_mut("x1").unwrap().state(), State::Early);
    // A final failure (say a 487 on the other branch's end) ends the early ones only.
    set.on_response(&answer(
        "487 Request Terminated",
        "x1",
        "sip:bob@192.0.2.11",
        "",
    ))
    .unwrap();
    assert_eq!(set.get_mut("x1").unwrap().state(), State::Terminated);
    assert_eq!(set.get_mut("x2").unwrap().state(), State::Confirmed);
}

#[test]
fn responses_that_make_no_dialog_are_refused() {
    let trying = resp("SIP/2.0 100 Trying\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\nFrom: <sip:alice@atlanta.example>;tag=a1\nTo: <sip:bob@biloxi.example>\nCall-ID: c1\nCSeq: 7 INVITE\nContent-Length: 0\n\n");
    assert!(Dialog::uac(&req(INVITE), &trying).is_err());
    let no_contact = resp("SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\nFrom: <sip:alice@atlanta.example>;tag=a1\nTo: <sip:bob@biloxi.example>;tag=b1\nCall-ID: c1\nCSeq: 7 INVITE\nContent-Length: 0\n\n");
    assert!(matches!(
        Dialog::uac(&req(INVITE), &no_contact),
        Err(DialogError::Header {
            header: "Contact",
            ..
        })
    ));
    let mut set = DialogSet::new(req(INVITE));
    for i in 0..DialogSet::MAX {
        set.on_response(&answer(
            "180 Ringing",
            &format!("t{i}"),
            "sip:b@192.0.2.9",
            "",
        ))
        .unwrap();
    }
    assert!(set
        .on_response(&answer(
            "180 Ringing",
            "one-too-many",
            "sip:b@192.0.2.9",
            ""
        ))
        .is_err());
}

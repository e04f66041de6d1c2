//! Shared pieces of the sipcore benches: the parse bench's inputs and the work both
//! sides do, so the criterion bench (`benches/parse.rs`) and the instruction-count loop
//! (`examples/parse_loop.rs`) measure exactly the same thing.

// The inputs are fixed files, not network input.
#![allow(clippy::expect_used)]

use bytes::Bytes;

/// The INVITE `shared/bench/scenarios/uac.xml` sends, captured from sipp.
pub const SIPP_INVITE: &[u8] = include_bytes!("../data/sipp-invite.sip");

/// The parse bench's inputs, by name (`benches/data/<name>.sip`).
pub const INPUTS: &[(&str, &[u8])] = &[
    ("sipp-invite", SIPP_INVITE),
    ("invite-2k-sdp", include_bytes!("../data/invite-2k-sdp.sip")),
    ("ok-200", include_bytes!("../data/ok-200.sip")),
    (
        "register-digest",
        include_bytes!("../data/register-digest.sip"),
    ),
    (
        "compact-indialog",
        include_bytes!("../data/compact-indialog.sip"),
    ),
    (
        "ok-200-2via-rr",
        include_bytes!("../data/ok-200-2via-rr.sip"),
    ),
    ("bye-indialog", include_bytes!("../data/bye-indialog.sip")),
    ("invite-3k", include_bytes!("../data/invite-3k.sip")),
];

/// sipcore: parse, then read the routing fields. Returns something of each so nothing
/// is optimised away.
pub fn sipcore_work(buf: Bytes) -> usize {
    let m = sipcore::parse::parse_datagram(buf).expect("parses");
    let via = m.top_via().expect("Via");
    let branch = via.branch().expect("branch");
    let cseq = m.cseq().expect("CSeq");
    let from = m.from_().expect("From");
    let tag = from.tag().expect("tag");
    let call_id = m.call_id().expect("Call-ID");
    branch.len() + cseq.seq as usize + cseq.method.as_str().len() + tag.len() + call_id.len()
}

/// rsip: the same work through its typed headers. rsip knows no compact forms (it
/// keeps `v:`, `f:` and `i:` as other headers), so a missing header is looked up by its
/// compact name and its value read through the same typed header: what sipcore's
/// header ids do while parsing.
pub fn rsip_work(buf: &[u8]) -> usize {
    use rsip::prelude::*;
    let m = rsip::SipMessage::try_from(buf).expect("parses");
    let compact = |name: &str| {
        m.headers()
            .iter()
            .find_map(|h| match h {
                rsip::Header::Other(n, v) if n.eq_ignore_ascii_case(name) => Some(v.clone()),
                _ => None,
            })
            .expect("header")
    };
    let via = match m.via_header() {
        Ok(v) => v.typed(),
        Err(_) => rsip::headers::Via::new(compact("v")).typed(),
    }
    .expect("typed Via");
    let branch = via.branch().expect("branch").value().len();
    let cseq = m.cseq_header().expect("CSeq").typed().expect("typed CSeq");
    let tag = match m.from_header() {
        Ok(f) => f.tag(),
        Err(_) => rsip::headers::From::new(compact("f")).tag(),
    }
    .expect("From parses");
    let tag = tag.expect("tag").value().len();
    let call_id = match m.call_id_header() {
        Ok(c) => c.value().len(),
        Err(_) => rsip::headers::CallId::new(compact("i")).value().len(),
    };
    branch + cseq.seq as usize + cseq.method.to_string().len() + tag + call_id
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both sides read the same values from every input (the criterion bench checks it
    /// too, but only when it runs).
    #[test]
    fn both_sides_do_the_same_work() {
        for &(name, data) in INPUTS {
            assert_eq!(
                sipcore_work(Bytes::from_static(data)),
                rsip_work(data),
                "{name}"
            );
        }
    }
}

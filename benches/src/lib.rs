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

/// rsip: the same work through its typed headers.
pub fn rsip_work(buf: &[u8]) -> usize {
    use rsip::prelude::*;
    let m = rsip::SipMessage::try_from(buf).expect("parses");
    let via = m.via_header().expect("Via").typed().expect("typed Via");
    let branch = via.branch().expect("branch").value().len();
    let cseq = m.cseq_header().expect("CSeq").typed().expect("typed CSeq");
    let tag = m.from_header().expect("From").tag().expect("From parses");
    let tag = tag.expect("tag").value().len();
    let call_id = m.call_id_header().expect("Call-ID").value().len();
    branch + cseq.seq as usize + cseq.method.to_string().len() + tag + call_id
}

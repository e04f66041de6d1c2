//! The bench work in a plain loop, for instruction counts under valgrind: a figure that,
//! unlike time, does not move with the load of a shared machine.
//!
//! ```text
//! cargo build --release -p sipcore-benches --example parse_loop
//! benches/insn.sh            # instructions per iteration, sipcore and rsip, every input
//! ```
//!
//! `parse_loop WORK INPUT N` runs WORK N times on INPUT (a `benches/data` name without
//! `.sip`). WORK: `sipcore` / `rsip` (parse + top Via branch, CSeq, From tag, Call-ID,
//! as in the criterion bench), `parse` (sipcore's parse alone), or one view of sipcore on
//! a message parsed once: `via`, `from`, `cseq`, `callid`.

#![allow(clippy::expect_used)] // fixed inputs

use std::hint::black_box;

use bytes::Bytes;

static INPUTS: &[(&str, &[u8])] = &[
    ("sipp-invite", include_bytes!("../data/sipp-invite.sip")),
    ("invite-2k-sdp", include_bytes!("../data/invite-2k-sdp.sip")),
    ("ok-200", include_bytes!("../data/ok-200.sip")),
    (
        "register-digest",
        include_bytes!("../data/register-digest.sip"),
    ),
];

fn sipcore_work(buf: Bytes) -> usize {
    let m = sipcore::parse::parse_datagram(buf).expect("parses");
    let via = m.top_via().expect("Via");
    let branch = via.branch().expect("branch");
    let cseq = m.cseq().expect("CSeq");
    let from = m.from_().expect("From");
    let tag = from.tag().expect("tag");
    let call_id = m.call_id().expect("Call-ID");
    branch.len() + cseq.seq as usize + cseq.method.as_str().len() + tag.len() + call_id.len()
}

fn rsip_work(buf: &[u8]) -> usize {
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, work, input, n] = &args[..] else {
        eprintln!("usage: parse_loop WORK INPUT N");
        std::process::exit(2);
    };
    let input = INPUTS
        .iter()
        .find(|(name, _)| name == input)
        .expect("an input of benches/data")
        .1;
    let n: usize = n.parse().expect("a count");
    let pre = sipcore::parse::parse_datagram(Bytes::from_static(input)).expect("parses");
    let mut sum = 0;
    for _ in 0..n {
        sum += match work.as_str() {
            "sipcore" => sipcore_work(Bytes::from_static(black_box(input))),
            "rsip" => rsip_work(black_box(input)),
            "parse" => sipcore::parse::parse_datagram(Bytes::from_static(black_box(input)))
                .expect("parses")
                .headers()
                .len(),
            "via" => black_box(&pre)
                .top_via()
                .expect("Via")
                .branch()
                .map_or(0, str::len),
            "from" => black_box(&pre)
                .from_()
                .expect("From")
                .tag()
                .map_or(0, str::len),
            "cseq" => black_box(&pre).cseq().expect("CSeq").seq as usize,
            "callid" => black_box(&pre).call_id().expect("Call-ID").len(),
            other => panic!("unknown work {other}"),
        };
    }
    println!("{sum}");
}

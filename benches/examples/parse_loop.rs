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

use sipcore_benches::{rsip_work, sipcore_work, INPUTS};

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

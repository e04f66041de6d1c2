//! URI parsing and the header-value grammars (Via, CSeq, name-addr, Call-ID) on
//! arbitrary bytes: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipcore::message::{parse_call_id, parse_decimal, CSeq, NameAddr, Via};
use sipcore::uri::Uri;

fuzz_target!(|data: &[u8]| {
    let _ = Uri::parse(data);
    if let Ok(v) = Via::parse(data) {
        let _ = (v.branch(), v.received(), v.rport(), v.maddr(), v.ttl(), v.alias());
        let _ = v.params.into_iter().count();
    }
    let _ = CSeq::parse(data);
    if let Ok(n) = NameAddr::parse(data) {
        sipcore_fuzz::poke_name_addr(&n);
    }
    let _ = parse_call_id(data);
    let _ = parse_decimal(data, u64::from(u32::MAX));
});

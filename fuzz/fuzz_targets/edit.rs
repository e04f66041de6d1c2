//! Edits (parse, edit, re-parse): a proxy-style forward of whatever parses, then a
//! re-parse of the output, which must succeed and carry the edits.
//!
//! Needs `sipcore::edit` (branch `edit`); listed in `fuzz/Cargo.toml` once merged.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sipcore::edit::Edits;
use sipcore::message::Message;
use sipcore::parse::parse_datagram;

const VIA: &str = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfuzz.1";
const RR: &str = "<sip:192.0.2.1;lr>";

fuzz_target!(|data: &[u8]| {
    let Ok(m) = parse_datagram(Bytes::copy_from_slice(data)) else { return };
    // Only messages whose routing views parse are forwarded, as a proxy would.
    if m.top_via().is_err() || m.cseq().is_err() {
        return;
    }
    let mut e = Edits::new(&m);
    let out = match &m {
        Message::Request(_) => {
            if e.decrement_max_forwards().is_err() {
                return;
            }
            let _ = e.remove_top_route();
            e.prepend_via(VIA).expect("a valid Via");
            e.insert_record_route(RR).expect("a valid Record-Route");
            let _ = e.set_request_uri("sip:next-hop@192.0.2.2:5070");
            e.apply()
        }
        Message::Response(_) => {
            e.remove_top_via().expect("a top Via");
            e.apply()
        }
    };
    let Ok(out) = out else { return };
    let again = parse_datagram(out.clone()).unwrap_or_else(|err| {
        panic!("edited message does not parse: {err}\n{:?}", String::from_utf8_lossy(&out))
    });
    assert_eq!(again.body(), m.body(), "the body is kept");
    if m.is_request() {
        assert_eq!(again.top_via().expect("our Via").branch(), Some("z9hG4bKfuzz.1"));
    }
});

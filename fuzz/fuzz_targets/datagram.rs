//! The datagram parser and every typed view on arbitrary bytes: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = sipcore::parse::parse_datagram(bytes::Bytes::copy_from_slice(data)) {
        sipcore_fuzz::poke_views(&m);
        // What was framed is a message on its own: it parses again to the same head.
        let again = sipcore::parse::parse_datagram(m.bytes()).expect("re-parse of a parsed message");
        assert_eq!(again.headers().len(), m.headers().len());
        assert_eq!(again.body(), m.body());
    }
});

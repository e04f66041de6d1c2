//! The stream framer on arbitrary bytes: no panic, and the same messages (and the same
//! error kind, and the same left-over bytes) whether the stream arrives in one piece or
//! in chunks. The first two input bytes choose the chunk sizes.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use sipcore::parse::{ParseErrorKind, StreamFramer, StreamItem};

/// Small enough that the fuzzer reaches the too-large paths.
const MAX: usize = 2048;

fn frame(chunks: &mut dyn Iterator<Item = &[u8]>) -> (Vec<Bytes>, Option<ParseErrorKind>, usize) {
    let mut f = StreamFramer::new(MAX);
    let mut buf = BytesMut::new();
    let mut msgs = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match f.next_item(&mut buf) {
                Ok(Some(StreamItem::Message(m))) => {
                    sipcore_fuzz::poke_views(&m);
                    assert!(m.as_bytes().len() <= MAX);
                    msgs.push(m.bytes());
                }
                Ok(Some(StreamItem::Ping | StreamItem::Pong)) => {}
                Ok(None) => break,
                Err(e) => return (msgs, Some(e.kind()), buf.len()),
            }
        }
    }
    (msgs, None, buf.len())
}

fuzz_target!(|data: &[u8]| {
    let [a, b, stream @ ..] = data else { return };
    let sizes = [usize::from(*a % 64) + 1, usize::from(*b % 64) + 1];
    let whole = frame(&mut std::iter::once(stream));
    let mut pos = 0;
    let mut k = 0;
    let mut chunked = std::iter::from_fn(|| {
        if pos >= stream.len() {
            return None;
        }
        let end = (pos + sizes[k % 2]).min(stream.len());
        k += 1;
        let c = &stream[pos..end];
        pos = end;
        Some(c)
    });
    let split = frame(&mut chunked);
    assert_eq!(whole.0, split.0, "same messages");
    assert_eq!(whole.1, split.1, "same error");
    if whole.1.is_none() {
        assert_eq!(whole.2, split.2, "same bytes left over");
    }
});

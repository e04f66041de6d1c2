//! Test helper: the one-byte edits of a sample, for tests that hold a fast path to the
//! general one on every near-miss of a typical input.

/// Every copy of `seed` with one byte of `bytes` written over, or inserted at, position
/// `at` in `0..=max_at`, and with the byte at `at` removed (the edits that fall outside
/// the seed are skipped).
pub(crate) fn one_byte_edits<'a>(
    seed: &'a [u8],
    max_at: usize,
    bytes: &'a [u8],
) -> impl Iterator<Item = Vec<u8>> + 'a {
    (0..=max_at).flat_map(move |at| {
        let removed = (at < seed.len()).then(|| {
            let mut v = seed.to_vec();
            v.remove(at);
            v
        });
        bytes
            .iter()
            .flat_map(move |&c| {
                let over = (at < seed.len()).then(|| {
                    let mut v = seed.to_vec();
                    v[at] = c;
                    v
                });
                let inserted = (at <= seed.len()).then(|| {
                    let mut v = seed.to_vec();
                    v.insert(at, c);
                    v
                });
                over.into_iter().chain(inserted)
            })
            .chain(removed)
    })
}

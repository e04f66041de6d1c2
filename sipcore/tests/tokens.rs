//! Branches, tags and Call-IDs through the public API: unique, unpredictable by default,
//! reproducible only when a seed is given explicitly.

use std::collections::HashSet;
use std::time::Instant;

use sipcore::transaction::{Config, TransactionLayer};

// The layer's epoch; no timer runs in these tests.
#[allow(clippy::disallowed_methods)]
fn layer(seed: Option<u64>) -> TransactionLayer {
    TransactionLayer::new(
        Config {
            rng_seed: seed,
            ..Config::default()
        },
        Instant::now(),
    )
}

fn draw(l: &TransactionLayer, n: usize) -> Vec<String> {
    (0..n)
        .flat_map(|_| {
            [
                l.new_branch().to_string(),
                l.new_tag().to_string(),
                l.new_call_id().to_string(),
            ]
        })
        .collect()
}

#[test]
fn default_layers_draw_unique_tokens_unrelated_to_each_other() {
    let (a, b) = (layer(None), layer(None));
    let mut seen = HashSet::new();
    for t in draw(&a, 5000).into_iter().chain(draw(&b, 5000)) {
        assert!(seen.insert(t.clone()), "repeated {t}");
    }
    // Default config: no seed; two default layers are not reproducible from each other.
    assert_eq!(Config::default().rng_seed, None);
}

#[test]
fn seeded_layers_are_reproducible() {
    assert_eq!(draw(&layer(Some(9)), 100), draw(&layer(Some(9)), 100));
    assert_ne!(draw(&layer(Some(9)), 100), draw(&layer(Some(10)), 100));
}

/// Entropy in the sizes: 22, 16 and 24 characters of a 64-symbol alphabet.
#[test]
fn token_lengths_carry_at_least_96_bits() {
    let l = layer(None);
    assert_eq!(l.new_branch().len() - "z9hG4bK".len(), 22);
    assert_eq!(l.new_tag().len(), 16);
    assert_eq!(l.new_call_id().len(), 24);
}

/// Not sequential: the branches of one layer do not differ from their predecessor in
/// the last characters only, as a counter's would.
#[test]
fn consecutive_branches_differ_throughout() {
    let l = layer(None);
    let mut prev = l.new_branch();
    let mut same_half = 0;
    for _ in 0..10_000 {
        let b = l.new_branch();
        if b[..18] == prev[..18] {
            same_half += 1;
        }
        prev = b;
    }
    assert_eq!(same_half, 0);
}

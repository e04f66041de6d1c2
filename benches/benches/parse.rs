//! Placeholder replaced by the parse bench.
fn main() {}

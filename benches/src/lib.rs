//! Benches for sipcore live in `benches/`; this crate has no library code.

//! RFC 2782 ordering of SRV records: priority, then a weighted random choice.

use super::records::Srv;

/// The random source of the weighted choice: a number in `0..=bound`.
///
/// Closures `FnMut(u32) -> u32` implement it, so tests pass a fixed sequence and a
/// driver passes its generator (`|b| rng.random_range(0..=b)`). Out-of-range results
/// are reduced modulo `bound + 1`.
pub trait WeightRng {
    /// A number in `0..=bound`.
    fn pick(&mut self, bound: u32) -> u32;
}

impl<F: FnMut(u32) -> u32> WeightRng for F {
    fn pick(&mut self, bound: u32) -> u32 {
        self(bound)
    }
}

/// Orders SRV records for trying, RFC 2782: lower priority first; within a priority, a
/// weighted random order (each record's chance to come next is its weight over the sum
/// of the weights left; weight-0 records come first in the running sum, so they are
/// chosen only when the draw is 0 or when they are all that is left). A lone record
/// whose target is `.` means "not offered" and yields nothing.
///
/// ```
/// use sipcore::dns::{order_srv, Srv};
/// let srvs = vec![Srv::new(20, 0, 5060, "b"), Srv::new(10, 0, 5060, "a")];
/// let ordered = order_srv(srvs, &mut |_| 0);
/// assert_eq!(ordered[0].target, "a");
/// ```
pub fn order_srv(mut records: Vec<Srv>, rng: &mut dyn WeightRng) -> Vec<Srv> {
    if records.len() == 1 && records[0].target.trim_end_matches('.').is_empty() {
        return Vec::new();
    }
    records.retain(|r| !r.target.trim_end_matches('.').is_empty());
    // Stable: equal records keep the answer's order before the draws.
    records.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.as_slice();
    while let Some(first) = rest.first() {
        let end = rest
            .iter()
            .position(|r| r.priority != first.priority)
            .unwrap_or(rest.len());
        let (group, tail) = rest.split_at(end);
        weighted(group, rng, &mut out);
        rest = tail;
    }
    out
}

/// Appends one priority group in RFC 2782's weighted order.
fn weighted(group: &[Srv], rng: &mut dyn WeightRng, out: &mut Vec<Srv>) {
    // weight-0 records first, the others in answer order
    let mut left: Vec<&Srv> = group.iter().filter(|r| r.weight == 0).collect();
    left.extend(group.iter().filter(|r| r.weight != 0));
    while !left.is_empty() {
        let sum: u32 = left.iter().map(|r| u32::from(r.weight)).sum();
        let draw = match sum.checked_add(1) {
            Some(m) => rng.pick(sum) % m,
            None => 0,
        };
        let mut running = 0u32;
        let mut chosen = left.len() - 1;
        for (i, r) in left.iter().enumerate() {
            running += u32::from(r.weight);
            if running >= draw {
                chosen = i;
                break;
            }
        }
        out.push(left.remove(chosen).clone());
    }
}

//! Lab 6, yield batch size: the reference solution (statement: `docs/labs/06-yield-batch.md`).
//!
//! One item costs about 60 ns here (the checker's baseline: a million items in about 60 ms of
//! CPU), and one `yield_now` (a trip through the ready queue and a cycle of the loop) some
//! 100 ns in a release build. Yielding every 2,000 items makes batches of about 0.12 ms: the
//! heartbeat waits at most that long (slide 9's "a few milliseconds" with room to spare, even
//! in a debug build), and the yields add 100 ns per 120 µs, about 0.1% of the CPU time.

use crate::labs::lab06::work;

/// Yield to the event loop after this many items.
pub const YIELD_EVERY: usize = 2_000;

/// Why you chose `YIELD_EVERY`, in one line (the checker prints it back).
pub const WHY: &str = "2,000 items of ~60 ns make 0.12 ms batches: the heartbeat waits at most \
                       0.12 ms and one ~100 ns yield per batch costs about 0.1% of the time";

/// Folds every item with `work::mix`, in order, and returns the checksum.
pub async fn checksum(items: &[u64]) -> f64 {
    let mut acc = 0.0;
    for (i, &item) in items.iter().enumerate() {
        acc = work::mix(acc, item);
        if (i + 1) % YIELD_EVERY == 0 {
            evloop::yield_now().await;
        }
    }
    acc
}

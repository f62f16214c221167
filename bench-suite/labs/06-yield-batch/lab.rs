//! Lab 6, yield batch size (statement: `docs/labs/06-yield-batch.md`).
//!
//! `checksum` folds a million items, each costing some tens of nanoseconds, while a heartbeat
//! task should tick every millisecond. As written, the loop never gives the event loop back
//! until it is done. Make it call `evloop::yield_now().await` every `YIELD_EVERY` items, pick
//! `YIELD_EVERY` so that the heartbeat stays within a few milliseconds while the loop loses
//! little throughput, and explain your choice in `WHY`. Check with
//! `cargo run --release -p evloop-bench -- lab check 6`.

use crate::labs::lab06::work;

/// Yield to the event loop after this many items.
pub const YIELD_EVERY: usize = 0;

/// Why you chose `YIELD_EVERY`, in one line (the checker prints it back).
pub const WHY: &str = "";

/// Folds every item with `work::mix`, in order, and returns the checksum.
pub async fn checksum(items: &[u64]) -> f64 {
    let mut acc = 0.0;
    for &item in items {
        acc = work::mix(acc, item);
    }
    acc
}

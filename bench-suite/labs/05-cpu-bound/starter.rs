//! Lab 5, CPU-bound work (statement: `docs/labs/05-cpu-bound.md`).
//!
//! `count_all` counts the primes below each limit it is given. The counting is pure CPU work
//! (`count_primes`, about 100 ms per limit) and runs right here, on the loop thread, so the
//! heartbeat next to it stops ticking until it is all done. Move the work to the process pool
//! you are given, so that the loop stays free and the machine's cores share the work; keep the
//! results in the order of the limits. Check with
//! `cargo run --release -p evloop-bench -- lab check 5`.

use evloop::{ExecError, ProcessPool};

use crate::labs::lab05::count_primes;

/// The number of primes below each of `limits`, in order.
pub async fn count_all(pool: &ProcessPool, limits: Vec<u64>) -> Result<Vec<u64>, ExecError> {
    let _ = pool; // not used yet
    let mut counts = Vec::with_capacity(limits.len());
    for limit in limits {
        counts.push(count_primes(limit));
    }
    Ok(counts)
}

//! Lab 5, CPU-bound work: the reference solution (statement: `docs/labs/05-cpu-bound.md`).
//!
//! Counting primes is CPU work with no `.await` in it: on the loop thread it freezes every
//! task for as long as it computes (slide 7). Each limit goes to the process pool instead,
//! through `run_in_process` and the registered `COUNT_PRIMES` (slide 8: `run_in_executor` with
//! a `ProcessPoolExecutor`). All the calls are submitted first and awaited afterwards, so the
//! pool's workers compute in parallel, on every core, while the loop keeps serving the
//! heartbeat; awaiting the handles in the order of the limits keeps the results in order.

use evloop::{ExecError, ProcessPool};

use crate::labs::lab05::COUNT_PRIMES;

/// The number of primes below each of `limits`, in order.
pub async fn count_all(pool: &ProcessPool, limits: Vec<u64>) -> Result<Vec<u64>, ExecError> {
    let handles: Vec<_> = limits
        .into_iter()
        .map(|limit| evloop::run_in_process(pool, &COUNT_PRIMES, limit))
        .collect();
    let mut counts = Vec::with_capacity(handles.len());
    for handle in handles {
        counts.push(handle.await?);
    }
    Ok(counts)
}

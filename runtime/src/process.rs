//! `run_in_process`: CPU-bound functions on a process pool, awaited without blocking the loop
//! (the lecture's `ProcessPoolExecutor`, slide 8).
//!
//! The pool, its registered functions and its [`Handle`]s come from `evloop-bridge`
//! ([`evloop_bridge::process`]); this module only gives the loop the spelling of the Python.

use serde::de::DeserializeOwned;
use serde::Serialize;

use evloop_bridge::process::ProcessFn;
use evloop_bridge::Handle;
pub use evloop_bridge::{ProcessPool, ProcessPoolBuilder};

/// Runs the registered function `func` on `args` in a worker process of `pool` and returns a
/// handle that resolves to its result: the
/// `await loop.run_in_executor(process_pool, func, args)` equivalent, the sibling of
/// [`run_in_executor`](crate::run_in_executor) for CPU-bound work.
///
/// The loop keeps running every other task meanwhile; unlike a thread-pool job, the job can be
/// stopped while it runs ([`Handle::cancel`], a per-job timeout), which kills its worker.
/// Submitting never blocks the loop (unless the pool was built with a blocking bound on jobs in
/// flight, which a loop should not use).
///
/// # Errors
///
/// The handle resolves to an [`ExecError`](crate::ExecError) if the job panicked, its worker
/// died, it was cancelled or timed out, or the pool refused it; see
/// [`ProcessPool::submit`].
///
/// # Examples
///
/// ```
/// use evloop_bridge::process::{self, ProcessFn, Registry};
/// use evloop_bridge::ProcessPool;
///
/// fn count_primes(below: u64) -> usize {
///     (2..below).filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0)).count()
/// }
/// const COUNT_PRIMES: ProcessFn<u64, usize> = ProcessFn::new("count_primes", count_primes);
/// fn functions() -> Registry {
///     Registry::new().register(COUNT_PRIMES)
/// }
///
/// fn main() {
///     process::init(functions); // workers stop here
///     let procs = ProcessPool::builder(functions()).build().unwrap();
///     evloop::run(async {
///         let primes = evloop::run_in_process(&procs, &COUNT_PRIMES, 100_000).await;
///         assert_eq!(primes, Ok(9_592));
///     });
/// }
/// ```
pub fn run_in_process<A, R>(pool: &ProcessPool, func: &ProcessFn<A, R>, args: A) -> Handle<R>
where
    A: Serialize,
    R: DeserializeOwned + Send + 'static,
{
    pool.submit(func, args)
}

//! [`Outcome`]: what a [`Handle`](crate::Handle) needs from the cell of the job it stands for.
//!
//! Each pool keeps its jobs in its own kind of cell (the thread pool's holds the closure, the
//! process pool's the encoded call); both implement this trait, so one `Handle<T>` type serves
//! them all. Neither the handle nor the cells know each other: the pools put them together.

use std::task::Waker;

use std::task::Poll;

use crate::error::ExecError;

/// The handle's view of a job, erased over how and where the job runs.
pub(crate) trait Outcome<T>: Send + Sync {
    /// Takes the outcome if there is one, otherwise registers `waker` to be woken when there is.
    ///
    /// # Panics
    ///
    /// Panics if the outcome was already taken.
    fn poll_outcome(&self, waker: &Waker) -> Poll<Result<T, ExecError>>;

    /// Cancels the job if the pool can still stop it; whether it is (now) cancelled.
    fn cancel(&self) -> bool;

    /// Whether the job has an outcome (or had one, since taken).
    fn is_done(&self) -> bool;

    /// Gives the job the outcome `error` if it has not started; whether it had not.
    fn settle_unstarted(&self, error: ExecError) -> bool;

    /// The handle was dropped (whether or not it took the outcome). By default the job is
    /// detached and goes on; a pool configured to cancel on drop stops it here.
    fn handle_dropped(&self) {}
}

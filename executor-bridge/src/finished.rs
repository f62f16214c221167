//! [`Finished`]: the future that resolves once a pool, of threads or of processes, has
//! finished. Each pool's shared state implements [`FinishSignal`]; neither knows the other.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// What a [`Finished`] future asks of a pool's shared state.
pub(crate) trait FinishSignal: Send + Sync {
    /// `Ready` once the pool has finished; otherwise registers `waker`, woken when it does.
    fn poll_finished(&self, waker: &Waker) -> Poll<()>;
}

/// The future returned by [`ThreadPool::finished`](crate::ThreadPool::finished) and
/// [`ProcessPool::finished`](crate::ProcessPool::finished): resolves once the pool is shut
/// down and all its workers (threads, or processes reaped) have exited. It does not keep the
/// pool alive, and it may be awaited on any executor or with `block_on`.
#[must_use = "a future does nothing unless polled"]
pub struct Finished {
    /// The pool's shared state, which records when it has finished.
    pool: Arc<dyn FinishSignal>,
}

impl Finished {
    /// The future for the pool whose shared state is `pool`.
    pub(crate) fn new(pool: Arc<dyn FinishSignal>) -> Self {
        Finished { pool }
    }
}

impl Future for Finished {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.pool.poll_finished(cx.waker())
    }
}

impl fmt::Debug for Finished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finished").finish_non_exhaustive()
    }
}

//! [`EvloopExecutor`]: hyper's executor, spawning on the loop.

use std::future::Future;

/// Runs the background tasks hyper asks for (HTTP/2 streams and connection drivers) as evloop
/// tasks on the loop of the calling thread.
///
/// The futures need not be `Send`: they run on the loop thread, like every evloop task, so a
/// connection over an evloop socket and a service holding `Rc` state work as they are. Each
/// task is detached; a panic in one is reported on stderr as for any detached task.
///
/// # Panics
///
/// `execute` panics if no event loop runs on the calling thread (hyper calls it from the
/// connection's task, which is on the loop).
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use std::cell::Cell;
/// use hyper::rt::Executor;
/// use evloop::hyper::EvloopExecutor;
///
/// evloop::run(async {
///     let done = Rc::new(Cell::new(false)); // not `Send`, and that is fine
///     let flag = done.clone();
///     EvloopExecutor::new().execute(async move { flag.set(true) });
///     evloop::yield_now().await;
///     assert!(done.get());
/// });
/// ```
#[derive(Debug, Default, Clone, Copy)]
#[non_exhaustive]
pub struct EvloopExecutor;

impl EvloopExecutor {
    /// The executor; it holds nothing and is `Send + Sync`, as hyper's builders require.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = evloop::hyper::EvloopExecutor::new();
    /// let _builder = hyper::server::conn::http2::Builder::new(exec);
    /// ```
    pub fn new() -> Self {
        EvloopExecutor
    }
}

impl<F> ::hyper::rt::Executor<F> for EvloopExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    #[track_caller]
    fn execute(&self, future: F) {
        drop(crate::task::spawn::spawn(future));
    }
}

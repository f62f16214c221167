//! The loop running on this thread (a thread-local), and how wakers reach their loop.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Weak;

use crate::scheduler::shared::Shared;
use crate::scheduler::Core;
use crate::task::meta::Runnable;

thread_local! {
    /// The loop running on this thread, if any: set by `Runtime::block_on` (and while a runtime
    /// is being dropped), reset by [`Enter`] and [`RestoreContext`] even when the loop unwinds.
    static CONTEXT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// Whether an event loop is running on this thread.
pub(crate) fn in_loop() -> bool {
    CONTEXT.with(|c| c.borrow().is_some())
}

/// Runs `f` with the loop running on this thread.
///
/// # Panics
///
/// Panics with an explanation when no loop runs on this thread, which is what happens when a
/// runtime future is polled by another executor.
#[track_caller]
pub(crate) fn with_core<R>(what: &str, f: impl FnOnce(&Rc<Core>) -> R) -> R {
    CONTEXT.with(|c| match &*c.borrow() {
        Some(core) => f(core),
        None => panic!(
            "{what} must be used inside an evloop event loop (evloop::run or Runtime::block_on), \
             but no loop is running on this thread; a runtime future polled by another executor \
             ends up here"
        ),
    })
}

/// Whether `shared` belongs to the loop running on this thread.
pub(crate) fn is_current(shared: &Weak<Shared>) -> bool {
    CONTEXT
        .try_with(|c| c.borrow().as_ref().is_some_and(|core| core.owns(shared)))
        .unwrap_or(false)
}

/// Pushes a woken task to its loop: straight into the ready queue when woken on the loop's own
/// thread, otherwise into the injection queue followed by a poller notification.
pub(crate) fn schedule(shared: &Weak<Shared>, runnable: Runnable) {
    let mut runnable = Some(runnable);
    let _ = CONTEXT.try_with(|c| {
        if let Some(core) = &*c.borrow() {
            if core.owns(shared) {
                if let Some(runnable) = runnable.take() {
                    core.push_ready(runnable);
                }
            }
        }
    });
    if let Some(runnable) = runnable {
        remote_schedule(shared, runnable);
    }
}

/// Pushes a task woken on another thread (or during thread teardown) to its loop.
fn remote_schedule(shared: &Weak<Shared>, runnable: Runnable) {
    match shared.upgrade() {
        Some(shared) => {
            // An unbounded queue only refuses a push once closed, and it is never closed.
            let _ = shared.injected.push(runnable);
            // Notification failures only happen when the poller is gone, i.e. the loop closed.
            let _ = shared.poller.notify();
        }
        // The loop is gone: every task was cancelled when it closed, so no live task can be
        // scheduled any more. Never drop a runnable here: its future is not `Send`.
        None => std::mem::forget(runnable),
    }
}

/// Wakes the loop of `shared` from another thread, if it still exists.
pub(crate) fn notify(shared: &Weak<Shared>) {
    if let Some(shared) = shared.upgrade() {
        let _ = shared.poller.notify();
    }
}

/// Makes `core` the loop of this thread until dropped (also during unwinding); `None` if a loop
/// already runs here.
#[derive(Debug)]
pub(crate) struct Enter {
    /// Clears the context when dropped.
    _restore: RestoreContext,
}

impl Enter {
    pub(crate) fn new(core: &Rc<Core>) -> Option<Enter> {
        CONTEXT.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_some() {
                return None;
            }
            *c = Some(core.clone());
            Some(Enter {
                _restore: RestoreContext(None),
            })
        })
    }
}

/// Makes `core` the loop of this thread even if another loop runs here (for destructors that
/// run while a runtime is dropped), until the returned guard puts the previous one back.
pub(crate) fn replace(core: &Rc<Core>) -> RestoreContext {
    let previous = CONTEXT.with(|c| c.borrow_mut().replace(core.clone()));
    RestoreContext(previous)
}

/// Puts back the loop that was current before, also during unwinding.
#[derive(Debug)]
pub(crate) struct RestoreContext(
    /// The loop to put back, if any.
    Option<Rc<Core>>,
);

impl Drop for RestoreContext {
    fn drop(&mut self) {
        let previous = self.0.take();
        let _ = CONTEXT.try_with(|c| *c.borrow_mut() = previous);
    }
}

//! The harness around every task's future: panic capture and the loop's bookkeeping.

use std::any::Any;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::observe::report;
use crate::scheduler::Core;
use crate::task::meta::{TaskLabel, TaskMeta};

/// What a task produces: its future's output, or the panic that ended it.
pub(crate) type TaskOutput<T> = Result<T, Box<TaskPanic>>;

/// A panic caught in a task. If it is dropped without having been delivered to a
/// [`JoinHandle`], nobody will ever see it, so it reports itself on stderr.
pub(crate) struct TaskPanic {
    /// The task that panicked.
    pub(crate) label: TaskLabel,
    /// Taken when the panic is delivered to the task's `JoinHandle`.
    pub(crate) payload: Option<Box<dyn Any + Send>>,
}

impl Drop for TaskPanic {
    fn drop(&mut self) {
        if let Some(payload) = &self.payload {
            report::warn(format_args!(
                "{} panicked and nobody awaited its JoinHandle: {}",
                self.label,
                panic_message(payload.as_ref())
            ));
        }
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<panic payload that is not a string>".to_owned()
    }
}

pin_project! {
    /// The future that `async_task` owns: the user's future plus the loop's bookkeeping.
    ///
    /// Catches panics so that a panicking task completes with the panic instead of unwinding
    /// through the loop. The first time the task waits, it enters its waker in the loop's
    /// registry of waiting tasks (so shutdown and `abort` can reach it); it leaves it when
    /// dropped (on completion, abort or cancellation, always on the loop thread). A task that
    /// completes at its first poll never touches the registry.
    pub(crate) struct TaskFuture<'a, F> {
        // The loop that owns the registry.
        core: Rc<Core>,
        // This task's metadata, in the same allocation as this future.
        meta: &'a TaskMeta,
        // The user's future, dropped in place by this harness's destructor (not an
        // `Option`, whose tag would add 8 bytes to most tasks).
        #[pin]
        future: ManuallyDrop<F>,
    }

    impl<'a, F> PinnedDrop for TaskFuture<'a, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let core = &*this.core;
            let meta = *this.meta;
            // Drop the future in place, reporting (rather than propagating) a panic in its
            // destructor: it would otherwise unwind through the loop.
            // SAFETY: the future is not moved: it is dropped in place, which the pinning
            // guarantee allows.
            let future = unsafe { this.future.get_unchecked_mut() };
            // SAFETY: the future is dropped here only, once, as the harness itself is dropped;
            // nothing uses it afterwards.
            let dropped = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
                ManuallyDrop::drop(future)
            }));
            if let Err(payload) = dropped {
                report::warn(format_args!(
                    "{} panicked while being dropped: {}",
                    TaskLabel::new(meta, core.task_name(meta.id)),
                    panic_message(payload.as_ref())
                ));
            }
            core.task_dropped(meta);
        }
    }
}

impl<'a, F> TaskFuture<'a, F> {
    /// The harness of `future`, a task of `core` whose metadata is `meta`.
    pub(crate) fn new(core: Rc<Core>, meta: &'a TaskMeta, future: F) -> Self {
        TaskFuture {
            core,
            meta,
            future: ManuallyDrop::new(future),
        }
    }
}

impl<F: Future> Future for TaskFuture<'_, F> {
    type Output = TaskOutput<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let meta = *this.meta;
        // SAFETY: a structural projection: `ManuallyDrop` holds its value inline, and it is
        // never moved out (only dropped in place, by the harness's destructor).
        let future = unsafe { this.future.map_unchecked_mut(|f| &mut **f) };
        match panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => {
                if !meta.state().is_waiting() {
                    // `cx.waker()` is this task's own waker: `async_task` polls with it.
                    this.core.task_waits(meta, cx.waker().clone());
                }
                Poll::Pending
            }
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(Box::new(TaskPanic {
                label: TaskLabel::new(meta, this.core.task_name(meta.id)),
                payload: Some(payload),
            }))),
        }
    }
}

//! [`JoinHandle`] and [`JoinError`]: awaiting a task's output.

use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Weak;
use std::task::{ready, Context, Poll, Waker};

use async_task::Task;

use crate::scheduler::{budget, Core};
use crate::task::harness::{panic_message, TaskOutput};
use crate::task::meta::{TaskId, TaskMeta};

/// An owned permission to await a task's output, returned by [`spawn`](crate::spawn).
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] telling whether the task panicked (with the
/// panic message) or was cancelled. Dropping it detaches the task, which keeps running; a
/// detached task that panics is reported on stderr. [`abort`](Self::abort) cancels the task.
///
/// A `JoinHandle` is `!Send`, like the loop-local task it points to.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evloop::JoinError;
///
/// evloop::run(async {
///     // Await the output.
///     let answer = evloop::spawn(async { 6 * 7 });
///     assert_eq!(answer.await, Ok(42));
///
///     // A panic is caught and handed to whoever awaits the handle.
///     let failing = evloop::spawn(async { panic!("bad input") });
///     let err = failing.await.unwrap_err();
///     assert_eq!(err.panic_message(), Some("bad input"));
///
///     // Abort: the task's future is dropped, the handle reports it.
///     let forever = evloop::spawn(evloop::sleep(Duration::from_secs(3600)));
///     forever.abort();
///     assert!(matches!(forever.await, Err(JoinError::Cancelled { .. })));
/// });
/// ```
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<evloop::JoinHandle<()>>();
/// ```
pub struct JoinHandle<T> {
    /// The loop, to reach the task's registry entry for `abort`.
    core: Weak<Core>,
    /// `None` only after the output was taken or inside `drop`.
    task: Option<Task<TaskOutput<T>, TaskMeta>>,
    /// The task's id, kept for [`id`](Self::id) once `task` is gone.
    id: TaskId,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(core: Weak<Core>, task: Task<TaskOutput<T>, TaskMeta>, id: TaskId) -> Self {
        JoinHandle {
            core,
            task: Some(task),
            id,
        }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Whether the task has completed, panicked or been cancelled.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Cancels the task.
    ///
    /// The task's future is dropped (running its destructors) the next time the loop runs it,
    /// and awaiting this handle then gives [`JoinError::Cancelled`]. A task that already
    /// completed is unaffected: awaiting still gives its output.
    pub fn abort(&self) {
        let Some(task) = &self.task else {
            return; // the output was already taken
        };
        let meta = task.metadata();
        meta.set_state(meta.state().aborted());
        // A waiting task is woken so the loop drops it; a task not waiting yet is already in a
        // ready queue, where the loop will find the flag.
        let Some(core) = self.core.upgrade() else {
            return; // the loop is gone, and with it every task
        };
        if let Some(waker) = core.waker_of(meta) {
            waker.wake();
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = self.id;
        let task = self
            .task
            .as_mut()
            .expect("JoinHandle polled after it returned its result");
        let output = if task.is_finished() {
            // An outcome ready at once spends a unit of the cooperative budget.
            ready!(budget::poll_proceed(cx));
            budget::spend();
            // Completed, panicked or cancelled: read which without `Task::poll`, which panics
            // on a cancelled task. A finished task's outcome is there at the first poll.
            let finished = self.task.take().unwrap().fallible();
            match pin!(finished).poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(output) => output,
                Poll::Pending => unreachable!("a finished task has its outcome"),
            }
        } else {
            // Registers the waker. Tasks only run (and so finish) on the loop thread, which is
            // the thread polling this `!Send` handle, so the task cannot finish meanwhile.
            match Pin::new(task).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(output) => {
                    self.task = None;
                    Some(output)
                }
            }
        };
        Poll::Ready(match output {
            Some(Ok(value)) => Ok(value),
            None => Err(JoinError::Cancelled { task: id }),
            Some(Err(mut panic)) => {
                let payload = panic.payload.take().expect("panic delivered twice");
                Err(JoinError::Panicked {
                    task: id,
                    name: panic.label.name.as_deref().map(str::to_owned),
                    spawned_at: panic.label.location.to_string(),
                    message: panic_message(payload.as_ref()),
                })
            }
        })
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why awaiting a [`JoinHandle`] gave no output.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// The task was aborted with [`JoinHandle::abort`], or its event loop shut down, before it
    /// completed. Its future has been dropped.
    Cancelled {
        /// The task's id.
        task: TaskId,
    },
    /// The task panicked. The panic was caught: the loop and the other tasks kept running.
    Panicked {
        /// The task's id.
        task: TaskId,
        /// The task's name, if it was given one.
        name: Option<String>,
        /// Where the task was spawned, as `file:line:column`.
        spawned_at: String,
        /// The panic message (the argument of `panic!`).
        message: String,
    },
}

impl JoinError {
    /// Whether the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled { .. })
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked { .. })
    }

    /// The panic message, if the task panicked.
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            JoinError::Panicked { message, .. } => Some(message),
            JoinError::Cancelled { .. } => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled { task } => write!(
                f,
                "task {task} was cancelled before it completed (aborted, or its event loop shut down)"
            ),
            JoinError::Panicked {
                task,
                name,
                spawned_at,
                message,
            } => {
                write!(f, "task {task}")?;
                if let Some(name) = name {
                    write!(f, " {name:?}")?;
                }
                write!(f, " (spawned at {spawned_at}) panicked: {message}")
            }
        }
    }
}

impl std::error::Error for JoinError {}

/// For `?` in functions returning `io::Result`, as tokio's `JoinError` converts: kind `Other`,
/// with the `JoinError` inside (`get_ref` and `downcast` give it back) and its message.
impl From<JoinError> for std::io::Error {
    fn from(error: JoinError) -> Self {
        std::io::Error::other(error)
    }
}

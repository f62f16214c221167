//! Errors: [`ExecError`] (why a job gave no result) and [`BuildError`] (why a pool could not be
//! configured).

use std::any::Any;
use std::fmt;

/// Why a [`Handle`](crate::Handle) gave no result.
///
/// Every variant except [`Panicked`](Self::Panicked) means the job's closure never ran.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecError {
    /// The job was cancelled with [`Handle::cancel`](crate::Handle::cancel) before a worker
    /// started it. Its closure was dropped without running.
    Cancelled,
    /// The job panicked; the string is the panic message (the argument of `panic!`). The panic
    /// was caught on the worker, which went on serving other jobs: the pool lost no capacity.
    Panicked(String),
    /// The pool was shut down before the job started, so it never ran: either the job was
    /// submitted after [`ThreadPool::shutdown`](crate::ThreadPool::shutdown), or it was still
    /// queued when `shutdown` was called with `cancel_pending = true`.
    ShutDown,
    /// The pool's bounded queue was full and its policy is
    /// [`FullQueuePolicy::Reject`](crate::FullQueuePolicy::Reject); the job never ran.
    QueueFull {
        /// The queue's bound: how many jobs were already waiting.
        capacity: usize,
    },
    /// The pool had no worker thread and the operating system refused to start one (the
    /// process may be at its thread limit or out of memory); the job never ran. The string is
    /// the operating system's error.
    SpawnFailed(String),
    /// The worker process running the job died before sending a result back.
    ///
    /// Reserved for the process pool: a [`ThreadPool`](crate::ThreadPool) never returns it
    /// (a panicking job is [`Panicked`](Self::Panicked), and its thread survives).
    #[non_exhaustive]
    WorkerDied {
        /// What is known of the death, e.g. the exit status or the signal.
        reason: String,
    },
}

impl ExecError {
    /// Whether the job was cancelled with [`Handle::cancel`](crate::Handle::cancel).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, ExecError::Cancelled)
    }

    /// Whether the job panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, ExecError::Panicked(_))
    }

    /// The panic message, if the job panicked.
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            ExecError::Panicked(message) => Some(message),
            _ => None,
        }
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::Cancelled => f.write_str(
                "the job was cancelled (Handle::cancel) before a worker started it; it never ran",
            ),
            ExecError::Panicked(message) => write!(f, "the job panicked: {message}"),
            ExecError::ShutDown => f.write_str(
                "the thread pool was shut down before the job started, so it never ran \
                 (submit jobs before ThreadPool::shutdown, or shut down with cancel_pending = \
                 false to let queued jobs finish)",
            ),
            ExecError::QueueFull { capacity } => write!(
                f,
                "the thread pool's queue is full ({capacity} jobs waiting) and it rejects jobs \
                 when full; the job never ran (retry later, raise queue_bound, or submit from a \
                 thread that may block with FullQueuePolicy::Block)"
            ),
            ExecError::SpawnFailed(error) => write!(
                f,
                "the thread pool has no worker thread and could not start one ({error}); the \
                 job never ran (the process may be at its thread limit or out of memory)"
            ),
            ExecError::WorkerDied { reason } => write!(
                f,
                "the worker process running the job died before sending its result: {reason}"
            ),
        }
    }
}

impl std::error::Error for ExecError {}

/// Why [`ThreadPoolBuilder::build`](crate::ThreadPoolBuilder::build) refused a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// `max_workers(0)`: a pool without workers could never run a job.
    ZeroWorkers,
    /// `queue_bound(Some(0))`: a queue that holds no job would reject or block every submission.
    ZeroQueueBound,
    /// The thread name prefix contains a NUL byte, which thread names cannot hold.
    NulInThreadName,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BuildError::ZeroWorkers => {
                "max_workers must be at least 1: a pool without workers could never run a job"
            }
            BuildError::ZeroQueueBound => {
                "queue_bound must be at least 1 (or None for an unbounded queue): a queue that \
                 holds no job would refuse every submission"
            }
            BuildError::NulInThreadName => {
                "thread_name_prefix must not contain a NUL byte: thread names cannot hold one"
            }
        })
    }
}

impl std::error::Error for BuildError {}

/// The message of a caught panic: the `&str` or `String` given to `panic!`, or a placeholder
/// for other payloads.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "<a panic payload that is not a string>".to_owned()
    }
}

//! Errors: [`ExecError`] (why a job gave no result) and [`BuildError`] (why a pool could not be
//! configured).

use std::any::Any;
use std::fmt;
use std::io;
use std::time::Duration;

/// Why a [`Handle`](crate::Handle) gave no result.
///
/// On a [`ThreadPool`](crate::ThreadPool), every variant except
/// [`Panicked`](Self::Panicked) means the job's closure never ran: a thread pool cannot stop
/// a running job. On a [`ProcessPool`](crate::ProcessPool), a job may also have been stopped
/// while it ran, by killing its worker process: [`Cancelled`](Self::Cancelled) and
/// [`TimedOut`](Self::TimedOut) say so, and [`WorkerDied`](Self::WorkerDied) and
/// [`Protocol`](Self::Protocol) mean it may have run in part. Each variant's documentation
/// says whether the job ran.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecError {
    /// The job was cancelled with [`Handle::cancel`](crate::Handle::cancel). On a thread pool
    /// this happens only before a worker started it: its closure was dropped without running.
    /// On a process pool the job may have been running: its worker process was killed (and
    /// replaced), so it did not finish.
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
    /// The worker process running the job died before sending a result back (it was killed
    /// by a signal, exited, aborted or crashed) after it had read the job's call: the job may
    /// have run in part. Only this job fails; the pool starts a replacement worker. A job whose
    /// worker died before reading all of its call never gets this error: it runs on another
    /// worker instead (it never ran, so it runs once).
    ///
    /// Only a [`ProcessPool`](crate::ProcessPool) returns it: a thread pool's panicking job
    /// is [`Panicked`](Self::Panicked), and its thread survives.
    #[non_exhaustive]
    WorkerDied {
        /// The worker's process id.
        pid: u32,
        /// Its exit status, if it exited.
        code: Option<i32>,
        /// The signal that ended it, if a signal did.
        signal: Option<i32>,
        /// The last lines it wrote to stderr (a panic message, a sanitizer report...).
        stderr: String,
        /// The whole story in one sentence, e.g. "worker 4242 was killed by signal 9
        /// (SIGKILL)".
        reason: String,
    },
    /// The job ran longer than its timeout; its worker process was killed (and replaced), so
    /// it did not finish. Only a process pool has per-job timeouts.
    TimedOut {
        /// The job's timeout.
        after: Duration,
    },
    /// A worker process broke the pool's protocol (a corrupt or truncated frame, a frame over
    /// the size limit, a reply for another job): the job may have run. The worker was killed
    /// and replaced. The string says what was wrong.
    Protocol(String),
    /// The job's argument or result could not be (de)serialized with `postcard`, on either
    /// side; the string says which and why. If the argument failed in the parent, the job
    /// never ran.
    Serialization(String),
    /// The job's function is not registered under its name with these argument and result
    /// types (in the pool's registry, or in the worker's); it never ran. Register it in the
    /// [`Registry`](crate::process::Registry) given to both the pool and
    /// [`init`](crate::process::init).
    UnknownFunction(String),
    /// The job's call or reply frame exceeded the pool's maximum frame size; the function did
    /// not run (a call) or its result was dropped (a reply). Raise
    /// [`max_frame_bytes`](crate::ProcessPoolBuilder::max_frame_bytes) or send less.
    TooLarge {
        /// The frame's size in bytes.
        bytes: usize,
        /// The maximum frame size.
        limit: usize,
    },
    /// The process pool could not start workers (repeatedly failed starts, a worker whose
    /// function registry differs from the pool's, a failure of the pool itself) and stopped
    /// trying; the job never ran. The string says why and what to check.
    StartFailed(String),
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
                "the job was cancelled (Handle::cancel); on a thread pool it never ran, on a \
                 process pool a running job's worker was killed",
            ),
            ExecError::Panicked(message) => write!(f, "the job panicked: {message}"),
            ExecError::ShutDown => f.write_str(
                "the pool was shut down before the job started, so it never ran \
                 (submit jobs before shutdown, or shut down with cancel_pending = \
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
            ExecError::WorkerDied { reason, stderr, .. } => {
                write!(
                    f,
                    "the worker process running the job died before sending its result: \
                     {reason}; the pool replaced it"
                )?;
                if !stderr.is_empty() {
                    write!(f, "; its stderr ended with:\n{stderr}")?;
                }
                Ok(())
            }
            ExecError::TimedOut { after } => write!(
                f,
                "the job ran longer than its timeout of {after:?}; its worker process was \
                 killed and replaced"
            ),
            ExecError::Protocol(message) => write!(f, "a worker broke the protocol: {message}"),
            ExecError::Serialization(message) => write!(
                f,
                "a value did not (de)serialize: {message} (check the types' serde \
                 implementations)"
            ),
            ExecError::UnknownFunction(message) => write!(
                f,
                "{message}; register the function in the Registry given to both the pool and \
                 evloop_bridge::process::init"
            ),
            ExecError::TooLarge { bytes, limit } => write!(
                f,
                "a frame of {bytes} bytes exceeds the pool's maximum of {limit} bytes (raise \
                 max_frame_bytes, or send less per call)"
            ),
            ExecError::StartFailed(message) => {
                write!(f, "the process pool cannot start workers: {message}")
            }
        }
    }
}

impl ExecError {
    /// The variant's name, for `Debug`.
    fn name(&self) -> &'static str {
        match self {
            ExecError::Cancelled => "Cancelled",
            ExecError::Panicked(_) => "Panicked",
            ExecError::ShutDown => "ShutDown",
            ExecError::QueueFull { .. } => "QueueFull",
            ExecError::SpawnFailed(_) => "SpawnFailed",
            ExecError::WorkerDied { .. } => "WorkerDied",
            ExecError::TimedOut { .. } => "TimedOut",
            ExecError::Protocol(_) => "Protocol",
            ExecError::Serialization(_) => "Serialization",
            ExecError::UnknownFunction(_) => "UnknownFunction",
            ExecError::TooLarge { .. } => "TooLarge",
            ExecError::StartFailed(_) => "StartFailed",
        }
    }

    /// The `io::ErrorKind` that says the most about it.
    fn io_kind(&self) -> io::ErrorKind {
        match self {
            ExecError::TimedOut { .. } => io::ErrorKind::TimedOut,
            ExecError::UnknownFunction(_) | ExecError::TooLarge { .. } => {
                io::ErrorKind::InvalidInput
            }
            ExecError::Serialization(_) | ExecError::Protocol(_) => io::ErrorKind::InvalidData,
            ExecError::Cancelled => io::ErrorKind::Interrupted,
            _ => io::ErrorKind::Other,
        }
    }
}

/// The variant's name and its whole explanation: what `unwrap` and a `main` returning the error
/// print, as useful as [`Display`](fmt::Display).
impl fmt::Debug for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {self}", self.name())
    }
}

impl std::error::Error for ExecError {}

/// For `?` in functions returning `io::Result`: the kind that fits (`TimedOut`, `InvalidInput`
/// for a function or frame the pool refused, `InvalidData` for a value that did not
/// (de)serialize or a broken protocol, `Interrupted` for a cancelled job, `Other` otherwise),
/// with the `ExecError` inside (`get_ref` and `downcast` give it back) and its message.
impl From<ExecError> for io::Error {
    fn from(error: ExecError) -> Self {
        io::Error::new(error.io_kind(), error)
    }
}

/// Why [`ThreadPoolBuilder::build`](crate::ThreadPoolBuilder::build) or
/// [`ProcessPoolBuilder::build`](crate::ProcessPoolBuilder::build) refused a configuration.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// `max_workers(0)`: a pool without workers could never run a job.
    ZeroWorkers,
    /// `queue_bound(Some(0))`: a queue that holds no job would reject or block every submission.
    ZeroQueueBound,
    /// The thread name prefix contains a NUL byte, which thread names cannot hold.
    NulInThreadName,
    /// `max_tasks_per_child(Some(0))`: a worker could never run a job.
    ZeroTasksPerChild,
    /// `max_in_flight(Some(0))`: every submission would be refused.
    ZeroInFlight,
    /// `max_frame_bytes` below the smallest useful frame (1 KiB).
    FrameLimitTooSmall,
    /// This process is a process-pool worker that has not called
    /// [`init`](crate::process::init): `main` reached the pool's construction in a worker,
    /// which would start workers of workers. [`ProcessPoolBuilder::build`] no longer returns it:
    /// such a worker prints what to do and exits at once, and its pool fails its jobs with
    /// [`ExecError::StartFailed`] saying the same.
    ///
    /// [`ProcessPoolBuilder::build`]: crate::ProcessPoolBuilder::build
    UninitializedWorker,
    /// The initializer is not registered in the pool's registry with these types, or its
    /// argument did not serialize; the string says which.
    BadInitializer(String),
    /// The operating system refused a resource the pool needs (the path of the current
    /// executable, a poller, the supervisor thread); the string is its error.
    Os(String),
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
            BuildError::ZeroTasksPerChild => {
                "max_tasks_per_child must be at least 1 (or None for no limit): a worker that \
                 retires before its first job could never run one"
            }
            BuildError::ZeroInFlight => {
                "max_in_flight must be at least 1 (or None for no bound): a bound of 0 would \
                 refuse every job"
            }
            BuildError::FrameLimitTooSmall => {
                "max_frame_bytes must be at least 1024: smaller frames cannot hold a call"
            }
            BuildError::UninitializedWorker => UNINITIALIZED_WORKER,
            BuildError::BadInitializer(message) => return write!(f, "bad initializer: {message}"),
            BuildError::Os(message) => {
                return write!(
                    f,
                    "the operating system refused a resource the pool needs: {message}"
                )
            }
        })
    }
}

impl BuildError {
    /// The variant's name, for `Debug`.
    fn name(&self) -> &'static str {
        match self {
            BuildError::ZeroWorkers => "ZeroWorkers",
            BuildError::ZeroQueueBound => "ZeroQueueBound",
            BuildError::NulInThreadName => "NulInThreadName",
            BuildError::ZeroTasksPerChild => "ZeroTasksPerChild",
            BuildError::ZeroInFlight => "ZeroInFlight",
            BuildError::FrameLimitTooSmall => "FrameLimitTooSmall",
            BuildError::UninitializedWorker => "UninitializedWorker",
            BuildError::BadInitializer(_) => "BadInitializer",
            BuildError::Os(_) => "Os",
        }
    }
}

/// The variant's name and its whole explanation: what `unwrap` and a `main` returning the error
/// print, as useful as [`Display`](fmt::Display).
impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {self}", self.name())
    }
}

impl std::error::Error for BuildError {}

/// For `?` in functions returning `io::Result`: `InvalidInput` for a setting out of range,
/// `Other` for what the system refused, with the `BuildError` inside and its message.
impl From<BuildError> for io::Error {
    fn from(error: BuildError) -> Self {
        let kind = match error {
            BuildError::Os(_) | BuildError::UninitializedWorker => io::ErrorKind::Other,
            _ => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, error)
    }
}

/// What to do when a process-pool worker reaches the construction of a pool without having
/// called `init`: printed by such a worker, and part of its pool's `StartFailed` error.
pub(crate) const UNINITIALIZED_WORKER: &str =
    "a process-pool worker (this program, started again by its pool) built a process pool \
     before calling evloop::process::init (evloop_bridge::process::init with the bridge alone): \
     call it first thing in main, before anything else, with the function that builds the \
     pool's Registry (in a test binary: in the #[test] named by test_worker)";

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

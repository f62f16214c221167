//! [`ProcessPoolBuilder`]: workers, their lifetime, start-up, limits and the worker command of
//! a [`ProcessPool`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use polling::Poller;
use serde::Serialize;

use crate::builder::FullQueuePolicy;
use crate::error::BuildError;
use crate::process::child;
use crate::process::frame::{self, Bytes, Call, CALL};
use crate::process::function::{ProcessFn, Registry};
use crate::process::pool::{PoolParts, ProcessPool};
use crate::process::shared::Shared;
use crate::process::supervisor::{Config, Supervisor};

/// The default maximum frame size: 64 MiB.
const DEFAULT_MAX_FRAME: usize = 64 << 20;

/// Configures a [`ProcessPool`]; created by [`ProcessPool::builder`].
///
/// The defaults: `num_cpus::get()` workers started on demand and kept for the pool's life, no
/// limit on jobs per worker, no job timeout, no bound on jobs in flight, 64 MiB frames, 30 s to
/// start a worker, 3 failed starts in a row before giving up, workers running this executable
/// with no arguments.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evloop_bridge::process::{ProcessFn, Registry};
/// use evloop_bridge::ProcessPool;
///
/// const SEED: ProcessFn<u64, ()> = ProcessFn::new("seed", |_seed| ());
/// const WORK: ProcessFn<u64, u64> = ProcessFn::new("work", |x| x + 1);
/// fn functions() -> Registry {
///     Registry::new().register(SEED).register(WORK)
/// }
///
/// evloop_bridge::process::init(functions);
/// let pool = ProcessPool::builder(functions())
///     .max_workers(4)
///     .max_tasks_per_child(Some(1000))
///     .prestart(true)
///     .initializer(SEED, 42)
///     .idle_timeout(Some(Duration::from_secs(60)))
///     .job_timeout(Some(Duration::from_secs(10)))
///     .max_in_flight(Some(256))
///     .build()?;
/// assert_eq!(pool.submit(&WORK, 1).wait(), Ok(2));
/// # Ok::<(), evloop_bridge::BuildError>(())
/// ```
#[derive(Debug)]
pub struct ProcessPoolBuilder {
    /// The functions the pool may call.
    registry: Registry,
    /// Most workers taking jobs at once.
    max_workers: usize,
    /// Jobs after which a worker retires, if limited.
    max_tasks_per_child: Option<u32>,
    /// Whether to start every worker when the pool is built.
    prestart: bool,
    /// The initializer's name and encoded argument (or the reason it is invalid).
    initializer: Option<Result<(&'static str, Vec<u8>), String>>,
    /// How long an idle worker waits for a job before it exits, if limited.
    idle_timeout: Option<Duration>,
    /// How long a worker may take to start.
    start_timeout: Duration,
    /// Failed starts in a row before the pool stops starting workers.
    max_start_failures: u32,
    /// The largest frame in either direction.
    max_frame: usize,
    /// The default timeout of each job.
    job_timeout: Option<Duration>,
    /// The most jobs queued or running at once, if bounded.
    max_in_flight: Option<usize>,
    /// What `submit` does when that bound is reached.
    full_policy: FullQueuePolicy,
    /// Whether dropping a handle cancels its job.
    cancel_on_drop: bool,
    /// The executable workers run; `None` for this one.
    program: Option<PathBuf>,
    /// Its arguments.
    args: Vec<OsString>,
    /// Whether workers' stderr is copied to this process's stderr.
    forward_stderr: bool,
    /// Whether the supervisor watches workers' exits with the system's own notification.
    native_exit_watch: bool,
}

impl ProcessPoolBuilder {
    /// A builder with the default settings for the functions of `registry`.
    pub fn new(registry: Registry) -> Self {
        ProcessPoolBuilder {
            registry,
            max_workers: num_cpus::get(),
            max_tasks_per_child: None,
            prestart: false,
            initializer: None,
            idle_timeout: None,
            start_timeout: Duration::from_secs(30),
            max_start_failures: 3,
            max_frame: DEFAULT_MAX_FRAME,
            job_timeout: None,
            max_in_flight: None,
            full_policy: FullQueuePolicy::Reject,
            cancel_on_drop: false,
            program: None,
            args: Vec::new(),
            forward_stderr: true,
            native_exit_watch: true,
        }
    }

    /// Sets the most worker processes taking jobs at once. Default: the number of CPUs
    /// (`num_cpus::get()`), as for Python's `ProcessPoolExecutor`. Zero is refused by
    /// [`build`](Self::build).
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = n;
        self
    }

    /// Makes a worker retire after `n` jobs (Python's `max_tasks_per_child`), to bound what
    /// a leaking library can accumulate. Its replacement starts when it is given its last job,
    /// so that it is ready by the time the old one exits. Default: `None`, no limit.
    pub fn max_tasks_per_child(mut self, n: Option<u32>) -> Self {
        self.max_tasks_per_child = n;
        self
    }

    /// Starts every worker when the pool is built, instead of on demand, so that the first
    /// jobs do not wait for start-ups. [`build`](Self::build) does not wait for them.
    /// Default: false.
    pub fn prestart(mut self, prestart: bool) -> Self {
        self.prestart = prestart;
        self
    }

    /// A registered function each worker runs once, with `args`, before its first job
    /// (Python's `initializer`/`initargs`): to load a model, seed a generator, set up logging.
    /// A worker whose initializer panics or fails counts as a failed start.
    pub fn initializer<A: Serialize>(mut self, func: ProcessFn<A, ()>, args: A) -> Self {
        let encoded = postcard::to_allocvec(&args)
            .map(|bytes| (func.name(), bytes))
            .map_err(|error| format!("its argument did not serialize ({error})"));
        let checked = encoded.and_then(|(name, bytes)| {
            if self.registry.matches(name, ProcessFn::<A, ()>::signature()) {
                Ok((name, bytes))
            } else {
                Err(format!("{name:?} is not registered with these types"))
            }
        });
        self.initializer = Some(checked);
        self
    }

    /// Makes an idle worker exit after `timeout` without a job (a later job starts a new
    /// one). Default: `None`, workers stay for the pool's life.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets how long a worker may take from its start to its handshake (and initializer)
    /// before it counts as a failed start and is killed. Default: 30 s.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Sets how many worker starts may fail in a row (the program cannot run, it exits or
    /// crashes before its handshake, its initializer fails, the process table is full...)
    /// before the pool stops starting workers and fails queued and new jobs with
    /// [`ExecError::StartFailed`](crate::ExecError::StartFailed). Default: 3. A successful
    /// start resets the count.
    pub fn max_start_failures(mut self, n: u32) -> Self {
        self.max_start_failures = n.max(1);
        self
    }

    /// Sets the largest frame (call or reply, header included) either side may send. A call
    /// over it fails at once with [`ExecError::TooLarge`](crate::ExecError::TooLarge), a reply
    /// over it in the worker, and a frame announcing more is a protocol error. Default: 64 MiB.
    pub fn max_frame_bytes(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Sets the default timeout of every job, counted from when a worker starts it. A job
    /// still running then resolves to [`ExecError::TimedOut`](crate::ExecError::TimedOut) and
    /// its worker is killed and replaced. [`ProcessPool::submit_with_timeout`] overrides it
    /// per job. Default: `None`.
    pub fn job_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.job_timeout = timeout;
        self
    }

    /// Bounds the jobs queued or running at once (back-pressure); what a submission beyond
    /// it does is set by [`full_policy`](Self::full_policy). Default: `None`.
    pub fn max_in_flight(mut self, bound: Option<usize>) -> Self {
        self.max_in_flight = bound;
        self
    }

    /// What `submit` does when [`max_in_flight`](Self::max_in_flight) jobs are in flight:
    /// reject at once with [`ExecError::QueueFull`](crate::ExecError::QueueFull) (the default;
    /// safe on an event loop) or block the submitting thread until a job finishes (only for
    /// threads that may block).
    pub fn full_policy(mut self, policy: FullQueuePolicy) -> Self {
        self.full_policy = policy;
        self
    }

    /// Makes dropping a job's [`Handle`](crate::Handle) cancel the job (killing its worker if
    /// it runs), as dropping a task cancels it. Default: false, a dropped handle detaches its
    /// job, which still runs.
    pub fn cancel_on_drop(mut self, cancel: bool) -> Self {
        self.cancel_on_drop = cancel;
        self
    }

    /// Sets the executable the workers run. Default: this process's own
    /// (`std::env::current_exe`), which is what [`init`](crate::process::init) expects; use
    /// this only for another build of the same program.
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = Some(program.into());
        self
    }

    /// Sets the arguments of the worker command. Default: none.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// For pools built in an integration or unit test: workers run this test binary
    /// filtered to the test named `test_name` (its full path within the binary, e.g.
    /// `"process_worker"` or `"util::process_worker"`), whose body must call
    /// [`init`](crate::process::init). The harness's `main` is not yours, so `init` cannot go
    /// there; in a normal test run that test does nothing and passes.
    ///
    /// The worker command is `<test binary> <test_name> --exact --nocapture
    /// --test-threads=1 --quiet`; the harness prints its "running 1 test" line on the
    /// worker's stdout, which is the test run's.
    pub fn test_worker(self, test_name: &str) -> Self {
        self.args([
            test_name,
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "--quiet",
        ])
    }

    /// Sets whether what workers write to stderr is copied to this process's stderr (it is
    /// always kept, the last 4 KiB of each worker, for [`ExecError::WorkerDied`]). Default:
    /// true.
    ///
    /// [`ExecError::WorkerDied`]: crate::ExecError::WorkerDied
    pub fn forward_stderr(mut self, forward: bool) -> Self {
        self.forward_stderr = forward;
        self
    }

    /// Makes the supervisor watch workers' exits through their lifelines, as on a system with
    /// neither pidfds (Linux 5.3+) nor kqueue, instead of through the system's own
    /// notification: a test switch, so that this path runs on every system.
    #[doc(hidden)]
    pub fn lifeline_exit_watch(mut self) -> Self {
        self.native_exit_watch = false;
        self
    }

    /// Creates the pool and its supervisor thread; with [`prestart`](Self::prestart), starts
    /// the workers too. Never waits for a worker: a worker that fails to start makes jobs
    /// fail with a clear error later (see
    /// [`max_start_failures`](Self::max_start_failures)), so this is safe on an event loop.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] if a setting is out of range, the initializer is not registered, or the
    /// operating system refuses the executable's path, the poller or the supervisor thread.
    ///
    /// In a worker of a program that forgot to call [`init`](crate::process::init) first in
    /// `main` (so that `main` reaches this call in the worker too), it does not return: the
    /// worker prints what to do and exits, and the parent's pool fails its jobs with
    /// [`ExecError::StartFailed`](crate::ExecError::StartFailed) saying the same.
    pub fn build(self) -> Result<ProcessPool, BuildError> {
        if self.max_workers == 0 {
            return Err(BuildError::ZeroWorkers);
        }
        if self.max_tasks_per_child == Some(0) {
            return Err(BuildError::ZeroTasksPerChild);
        }
        if self.max_in_flight == Some(0) {
            return Err(BuildError::ZeroInFlight);
        }
        if self.max_frame < 1024 {
            return Err(BuildError::FrameLimitTooSmall);
        }
        if child::uninitialized_worker() {
            child::refuse_uninitialized();
        }
        let initializer = match self.initializer {
            None => None,
            Some(Err(message)) => return Err(BuildError::BadInitializer(message)),
            Some(Ok((name, args))) => {
                let mut call = Vec::new();
                let envelope = Call {
                    func: name,
                    items: vec![Bytes(&args)],
                };
                frame::push(&mut call, CALL, 0, &envelope).map_err(BuildError::BadInitializer)?;
                Some(call)
            }
        };
        let program = match self.program {
            Some(program) => program,
            None => std::env::current_exe().map_err(|e| {
                BuildError::Os(format!(
                    "the path of the current executable is unknown ({e})"
                ))
            })?,
        };
        let poller =
            Poller::new().map_err(|e| BuildError::Os(format!("no poller for the pool ({e})")))?;
        let shared = Arc::new(Shared::new(poller, self.max_in_flight, self.full_policy));
        let config = Config {
            program,
            args: self.args,
            max_workers: self.max_workers,
            max_tasks_per_child: self.max_tasks_per_child,
            prestart: self.prestart,
            initializer,
            idle_timeout: self.idle_timeout,
            start_timeout: self.start_timeout,
            max_start_failures: self.max_start_failures,
            max_frame: self.max_frame,
            fingerprint: self.registry.fingerprint(),
            forward_stderr: self.forward_stderr,
            native_exit_watch: self.native_exit_watch,
        };
        let supervisor = Supervisor::new(shared.clone(), config);
        std::thread::Builder::new()
            .name("evloop-procpool".to_owned())
            .spawn(move || supervisor.run())
            .map_err(|e| BuildError::Os(format!("no supervisor thread ({e})")))?;
        Ok(ProcessPool::from_parts(PoolParts {
            shared,
            registry: self.registry,
            max_workers: self.max_workers,
            max_frame: self.max_frame,
            job_timeout: self.job_timeout,
            cancel_on_drop: self.cancel_on_drop,
        }))
    }
}

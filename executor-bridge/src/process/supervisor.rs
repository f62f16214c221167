//! The supervisor: one thread per process pool that starts, feeds, watches, times out, kills
//! and reaps its workers.
//!
//! It sleeps in [`Poller::wait`] on every worker's channel, exit watch and stderr (level-triggered),
//! with a timeout only when a deadline is due (a job's timeout, a start-up timeout, an idle
//! worker's expiry, a retry after a failed start): no periodic polling, no thread per worker.
//! Submitters and cancelling handles leave their requests in the [`Inbox`](super::shared) and
//! wake it with [`Poller::notify`].
//!
//! Poller keys are `generation << 2 | source`: an event whose generation is no longer a live
//! worker (it was killed or reaped earlier in the same batch) is dropped, and so is every frame
//! of a worker that was killed, since its channel is closed at once.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ExitStatus};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polling::{Events, Poller};

use crate::error::{panic_message, ExecError};
use crate::process::cell::Task;
use crate::process::frame::{self, Hello, Reply, HELLO, PROTOCOL, REPLY};
use crate::process::shared::{Direct, Lent, Pending, Shared};
use crate::process::spawn;
use crate::process::sys::{self, ExitWatch};

/// Poller key source: the worker's channel.
const CHANNEL: usize = 0;
/// Poller key source: the worker's exit watch.
const EXIT: usize = 1;
/// Poller key source: the worker's stderr.
const STDERR: usize = 2;

/// How long a worker whose channel closed may take to exit before it is killed.
const GRACE: Duration = Duration::from_secs(2);

/// How long to wait before starting a worker again after a failed start, per failure.
const RETRY_STEP: Duration = Duration::from_millis(50);

/// What the supervisor needs to know of the pool's configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The executable the workers run.
    pub(crate) program: PathBuf,
    /// Its arguments (the test filter when workers are test binaries).
    pub(crate) args: Vec<OsString>,
    /// Most workers that take jobs at once.
    pub(crate) max_workers: usize,
    /// Jobs after which a worker retires, if limited.
    pub(crate) max_tasks_per_child: Option<u32>,
    /// Whether to start every worker before the first job.
    pub(crate) prestart: bool,
    /// The initializer's complete call frame (job id 0), if there is one.
    pub(crate) initializer: Option<Vec<u8>>,
    /// How long a worker may stay idle before it retires, if limited.
    pub(crate) idle_timeout: Option<Duration>,
    /// How long a worker may take to say hello (and run the initializer).
    pub(crate) start_timeout: Duration,
    /// Consecutive failed starts after which the pool stops starting workers.
    pub(crate) max_start_failures: u32,
    /// The largest frame either side may send.
    pub(crate) max_frame: usize,
    /// The fingerprint of the parent's registry, which each worker's must equal.
    pub(crate) fingerprint: u64,
    /// Bytes of each worker's stderr kept for the error of its death.
    pub(crate) stderr_tail: usize,
    /// Whether workers' stderr is copied to this process's stderr.
    pub(crate) forward_stderr: bool,
    /// Whether workers' exits are watched with the system's own notification (a pidfd, a
    /// kqueue filter) where there is one, rather than through their lifelines.
    pub(crate) native_exit_watch: bool,
}

/// A job running on a worker.
struct Running {
    /// The job's id.
    id: u64,
    /// Its cell.
    task: Arc<dyn Task>,
    /// Its complete call frame, kept until the outcome: if the worker dies without having read
    /// all of it, the job runs on another worker.
    frame: Vec<u8>,
    /// Its timeout, for a run on another worker.
    timeout: Option<Duration>,
    /// When it times out, if it has a timeout, and the timeout.
    deadline: Option<(Instant, Duration)>,
    /// Whether part of the frame was never written (the channel was closed first).
    unsent: bool,
}

impl Running {
    /// The job, sent to a worker with `frame[..written]` already written.
    fn new(job: Pending, now: Instant) -> Self {
        Running {
            id: job.id,
            task: job.task,
            deadline: job.timeout.map(|after| (now + after, after)),
            timeout: job.timeout,
            frame: job.frame,
            unsent: false,
        }
    }

    /// The job as it was submitted, to run on another worker.
    fn requeue(self) -> Pending {
        Pending {
            id: self.id,
            frame: self.frame,
            task: self.task,
            timeout: self.timeout,
        }
    }
}

/// Where a worker is in its life.
enum Phase {
    /// Started; its hello has not arrived.
    Starting,
    /// Said hello; running the initializer.
    Initializing,
    /// Waiting for a job since this instant.
    Idle(Instant),
    /// Running a job.
    Busy(Running),
    /// Told to exit (channel closed) or killed: only its exit is awaited.
    Closing,
}

/// A worker process, owned by the supervisor thread alone.
struct Worker {
    /// Unique within the pool; the high bits of its poller keys.
    generation: u64,
    /// The process; reaped once its exit watch fires.
    child: Child,
    /// The parent's end of the channel; `None` once closed. Shared only with the inbox's
    /// list of lent workers while `published`.
    channel: Option<Arc<UnixStream>>,
    /// Whether it is lent to submitters (in the inbox's `idle` list): its phase then says
    /// `Idle`, but a submitter may have given it a job; [`Supervisor::claim`] finds out.
    published: bool,
    /// What tells the poller that the process exited.
    exit: ExitWatch,
    /// The worker's end of its channel, never read here: what is left on it once the worker
    /// is dead is what it never read.
    worker_end: OwnedFd,
    /// The parent's end of the lifeline: the worker dies with its closing (this process's
    /// death), and its end-of-file is the exit watch where the system has no other.
    lifeline: OwnedFd,
    /// The stderr pipe, registered with the poller; `None` after its end-of-file.
    stderr: Option<ChildStderr>,
    /// The last bytes the worker wrote to stderr.
    tail: VecDeque<u8>,
    /// Bytes read from the channel and not yet parsed.
    inbuf: Vec<u8>,
    /// Bytes to write to the channel, from `written` on.
    outbuf: Vec<u8>,
    /// Bytes of `outbuf` already written.
    written: usize,
    /// Whether the channel is registered for writability too.
    want_write: bool,
    /// Where the worker is.
    phase: Phase,
    /// Deadline of `Starting`/`Initializing`, or of the exit of a closing worker.
    deadline: Option<Instant>,
    /// Jobs it has been given.
    calls: u32,
    /// Whether it takes no more jobs (it reached `max_tasks_per_child`).
    retiring: bool,
    /// Why it was killed, if it was.
    killed: Option<&'static str>,
}

impl Worker {
    /// The poller key of one of its sources.
    fn key(&self, source: usize) -> usize {
        (self.generation as usize) << 2 | source
    }

    /// Whether it counts toward `max_workers`: it may still take jobs.
    fn counts(&self) -> bool {
        !self.retiring && self.channel.is_some() && !matches!(self.phase, Phase::Closing)
    }

    /// The kept stderr tail, as text.
    fn stderr_tail(&self) -> String {
        let (a, b) = self.tail.as_slices();
        let mut bytes = a.to_vec();
        bytes.extend_from_slice(b);
        String::from_utf8_lossy(&bytes).trim_end().to_owned()
    }
}

/// The supervisor thread's state.
pub(crate) struct Supervisor {
    /// Shared with submitters and cells.
    shared: Arc<Shared>,
    /// The pool's configuration.
    config: Config,
    /// Live workers by generation (not yet reaped).
    workers: HashMap<u64, Worker>,
    /// The generation of the next worker.
    next_generation: u64,
    /// Jobs waiting for a worker, in submission order.
    queue: VecDeque<Pending>,
    /// Failed starts in a row.
    failures: u32,
    /// Workers to start to replace dead, killed or retiring ones.
    replacements: usize,
    /// Not before this instant may a worker start again (after a failed start).
    retry_at: Option<Instant>,
    /// Whether a shutdown was requested.
    closing: bool,
    /// Whether the pool stopped starting workers.
    broken: bool,
    /// Events of the last wait.
    events: Events,
    /// The buffer channel reads go through (allocated once, never zeroed again).
    scratch: Box<[u8]>,
}

impl Supervisor {
    /// A supervisor with no worker yet.
    pub(crate) fn new(shared: Arc<Shared>, config: Config) -> Self {
        let replacements = if config.prestart {
            config.max_workers
        } else {
            0
        };
        Supervisor {
            shared,
            config,
            workers: HashMap::new(),
            next_generation: 1,
            queue: VecDeque::new(),
            failures: 0,
            replacements,
            retry_at: None,
            closing: false,
            broken: false,
            events: Events::new(),
            scratch: vec![0; 64 * 1024].into_boxed_slice(),
        }
    }

    /// The thread's body: supervise until the pool is shut down and every worker is reaped.
    /// A panic here (a bug) fails every job and kills every worker instead of leaving
    /// handles waiting for ever.
    pub(crate) fn run(mut self) {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| self.supervise()));
        if let Err(payload) = outcome {
            let message = format!(
                "the process pool's supervisor failed ({}); the pool is stopped",
                panic_message(payload.as_ref())
            );
            self.abandon(&message);
        }
        self.shared.finish();
    }

    /// The supervision loop.
    fn supervise(&mut self) {
        loop {
            self.take_inbox();
            self.expire(Instant::now());
            self.schedule();
            if self.closing && self.queue.is_empty() && self.workers.is_empty() {
                return;
            }
            let timeout = self
                .next_deadline()
                .map(|deadline| deadline.saturating_duration_since(Instant::now()));
            self.events.clear();
            if let Err(error) = self.shared.poller.wait(&mut self.events, timeout) {
                if error.kind() != io::ErrorKind::Interrupted {
                    let message = format!("the process pool's poller failed ({error})");
                    self.abandon(&message);
                    return;
                }
            }
            // Before any frame is acted on: the records of jobs sent straight to workers.
            self.take_inbox();
            let ready: Vec<_> = self
                .events
                .iter()
                .map(|event| (event.key, event.readable, event.writable))
                .collect();
            for (key, readable, writable) in ready {
                let generation = (key >> 2) as u64;
                if !self.workers.contains_key(&generation) {
                    continue; // a worker already gone: a stale event
                }
                match key & 3 {
                    CHANNEL => {
                        if writable {
                            self.flush(generation);
                        }
                        if readable {
                            self.read_channel(generation, true);
                        }
                    }
                    EXIT => {
                        let worker = &self.workers[&generation];
                        if worker.exit.confirm(&worker.lifeline) {
                            self.reap(generation);
                        }
                    }
                    _ => self.read_stderr(generation),
                }
            }
        }
    }

    /// Takes new jobs, cancellations and shutdown requests from the inbox.
    fn take_inbox(&mut self) {
        let (direct, stops, close) = {
            let mut inbox = self.shared.lock();
            self.queue.extend(inbox.jobs.drain(..));
            (
                std::mem::take(&mut inbox.direct),
                std::mem::take(&mut inbox.stops),
                inbox.close.take(),
            )
        };
        self.record_direct(direct);
        for id in stops {
            if let Some(at) = self.queue.iter().position(|job| job.id == id) {
                self.queue.remove(at); // its cell already says Cancelled
                self.shared.jobs_done(1);
            } else if let Some(generation) = self.running(id) {
                if self.take_job(generation).is_some() {
                    self.shared.jobs_done(1); // its cell already says Cancelled
                }
                self.kill(generation, "its job was cancelled");
            }
        }
        if let Some(cancel_pending) = close {
            self.closing = true;
            if cancel_pending {
                let cancelled = self.queue.len();
                for job in self.queue.drain(..) {
                    job.task.fail(ExecError::ShutDown);
                }
                self.shared.jobs_done(cancelled);
            }
        }
    }

    /// Records jobs that submitters sent straight to lent workers.
    fn record_direct(&mut self, direct: Vec<Direct>) {
        for job in direct {
            let Some(worker) = self.workers.get_mut(&job.generation) else {
                // Never happens: a lent worker is claimed back before it is forgotten.
                job.job.task.fail(ExecError::Protocol(
                    "the job was sent to a worker the pool no longer knew".to_owned(),
                ));
                self.shared.jobs_done(1);
                continue;
            };
            worker.published = false;
            let written = job.written;
            let running = Running::new(job.job, Instant::now());
            let rest = running.frame[written..].to_vec();
            worker.phase = Phase::Busy(running);
            worker.calls += 1;
            if self
                .config
                .max_tasks_per_child
                .is_some_and(|limit| worker.calls >= limit)
            {
                worker.retiring = true;
                self.replacements += 1;
            }
            if !rest.is_empty() {
                self.send(job.generation, &rest);
            }
        }
    }

    /// Takes a lent worker back from the submitters; false if one of them gave it a job
    /// first (the job is then recorded, and the worker is busy).
    fn claim(&mut self, generation: u64) -> bool {
        if !self.workers.get(&generation).is_some_and(|w| w.published) {
            return true;
        }
        let direct = {
            let mut inbox = self.shared.lock();
            if let Some(at) = inbox.idle.iter().position(|l| l.generation == generation) {
                inbox.idle.swap_remove(at);
                None
            } else {
                Some(std::mem::take(&mut inbox.direct))
            }
        };
        match direct {
            None => {
                if let Some(worker) = self.workers.get_mut(&generation) {
                    worker.published = false;
                }
                true
            }
            Some(direct) => {
                self.record_direct(direct);
                false
            }
        }
    }

    /// Whether the worker is idle (and, once claimed, the supervisor's alone).
    fn is_idle(&self, generation: u64) -> bool {
        self.workers
            .get(&generation)
            .is_some_and(|w| matches!(w.phase, Phase::Idle(_)))
    }

    /// Whether the worker runs a job.
    fn is_busy(&self, generation: u64) -> bool {
        self.workers
            .get(&generation)
            .is_some_and(|w| matches!(w.phase, Phase::Busy(_)))
    }

    /// Lends every idle worker to submitters, while no job waits in the supervisor's queue.
    fn publish(&mut self) {
        if !self.queue.is_empty() || self.closing || self.broken {
            return;
        }
        let mut lent = Vec::new();
        for worker in self.workers.values_mut() {
            if matches!(worker.phase, Phase::Idle(_)) && !worker.published && !worker.retiring {
                if let Some(channel) = &worker.channel {
                    worker.published = true;
                    lent.push(Lent {
                        generation: worker.generation,
                        channel: channel.clone(),
                    });
                }
            }
        }
        if !lent.is_empty() {
            self.shared.lock().idle.extend(lent);
        }
    }

    /// The worker running job `id`, if one is.
    fn running(&self, id: u64) -> Option<u64> {
        self.workers
            .values()
            .find_map(|worker| match &worker.phase {
                Phase::Busy(running) if running.id == id => Some(worker.generation),
                _ => None,
            })
    }

    /// Acts on every deadline that has passed.
    fn expire(&mut self, now: Instant) {
        let mut timed_out = Vec::new();
        let mut late = Vec::new();
        let mut idle = Vec::new();
        for worker in self.workers.values() {
            match &worker.phase {
                Phase::Busy(Running {
                    deadline: Some((deadline, after)),
                    ..
                }) if *deadline <= now => timed_out.push((worker.generation, *after)),
                Phase::Idle(since) => {
                    if let Some(limit) = self.config.idle_timeout {
                        if *since + limit <= now && self.queue.is_empty() {
                            idle.push(worker.generation);
                        }
                    }
                }
                _ => {}
            }
            if worker.deadline.is_some_and(|deadline| deadline <= now) {
                late.push(worker.generation);
            }
        }
        for (generation, after) in timed_out {
            if let Some(running) = self.take_job(generation) {
                running.task.fail(ExecError::TimedOut { after });
                self.shared.jobs_done(1);
            }
            self.kill(generation, "its job timed out");
        }
        for generation in idle {
            if self.claim(generation) && self.is_idle(generation) {
                self.close(generation);
            }
        }
        for generation in late {
            let Some(worker) = self.workers.get(&generation) else {
                continue;
            };
            if matches!(worker.phase, Phase::Starting | Phase::Initializing) {
                let message = format!(
                    "a worker did not complete its start-up within {:?} (no handshake{}); is \
                     evloop_bridge::process::init called first thing in main (or, in a test \
                     binary, does test_worker name an existing test that calls it)?",
                    self.config.start_timeout,
                    if matches!(worker.phase, Phase::Initializing) {
                        " or initializer result"
                    } else {
                        ""
                    }
                );
                self.kill(generation, "it did not start in time");
                self.start_failed(message);
            } else {
                self.kill(generation, "it did not exit after its channel closed");
            }
        }
        if self.retry_at.is_some_and(|at| at <= now) {
            self.retry_at = None;
        }
    }

    /// Hands queued jobs to idle workers, then starts the workers that are missing.
    fn schedule(&mut self) {
        self.dispatch();
        if self.closing && self.queue.is_empty() {
            let done: Vec<u64> = self
                .workers
                .values()
                .filter(|w| {
                    matches!(
                        w.phase,
                        Phase::Idle(_) | Phase::Starting | Phase::Initializing
                    )
                })
                .map(|w| w.generation)
                .collect();
            for generation in done {
                if self.claim(generation) && !self.is_busy(generation) {
                    self.close(generation);
                }
            }
            return;
        }
        self.publish();
        if self.broken || self.retry_at.is_some() {
            return;
        }
        let counted = self.workers.values().filter(|w| w.counts()).count();
        let starting = self
            .workers
            .values()
            .filter(|w| matches!(w.phase, Phase::Starting | Phase::Initializing))
            .count();
        let mut wanted = self.queue.len().saturating_sub(starting);
        if !self.closing {
            wanted = wanted.max(self.replacements);
        }
        let room = self.config.max_workers.saturating_sub(counted);
        self.replacements = 0;
        for _ in 0..wanted.min(room) {
            if !self.start_worker() {
                break;
            }
        }
    }

    /// Sends queued jobs to idle workers, in order.
    fn dispatch(&mut self) {
        while !self.queue.is_empty() {
            let candidates: Vec<u64> = self
                .workers
                .values()
                .filter(|w| matches!(w.phase, Phase::Idle(_)) && !w.retiring)
                .map(|w| w.generation)
                .collect();
            // Claiming one may record jobs that submitters gave to others: check each again.
            let Some(generation) = candidates
                .into_iter()
                .find(|&g| self.claim(g) && self.is_idle(g))
            else {
                return;
            };
            let job = self.queue.pop_front().expect("not empty");
            if !job.task.start() {
                self.shared.jobs_done(1); // cancelled meanwhile
                continue;
            }
            let worker = self.workers.get_mut(&generation).expect("found above");
            let running = Running::new(job, Instant::now());
            let frame = running.frame.clone();
            worker.phase = Phase::Busy(running);
            worker.calls += 1;
            if self
                .config
                .max_tasks_per_child
                .is_some_and(|limit| worker.calls >= limit)
            {
                // Its replacement starts now, while it runs its last job.
                worker.retiring = true;
                self.replacements += 1;
            }
            self.send(generation, &frame);
        }
    }

    /// Starts one worker; false if it could not be started.
    fn start_worker(&mut self) -> bool {
        let generation = self.next_generation;
        self.next_generation += 1;
        let spawned = spawn::spawn(
            &self.config.program,
            &self.config.args,
            self.config.max_frame,
            generation,
        );
        let spawned = match spawned {
            Ok(spawned) => spawned,
            Err(error) => {
                let message = format!(
                    "could not start a worker process from {} ({error}); {}",
                    self.config.program.display(),
                    start_hint(&error)
                );
                self.start_failed(message);
                return false;
            }
        };
        let key = (generation as usize) << 2;
        let poller = &self.shared.poller;
        let exit = ExitWatch::start(
            poller,
            &spawned.child,
            &spawned.lifeline,
            key | EXIT,
            self.config.native_exit_watch,
        );
        let exit = match exit {
            Ok(exit) => exit,
            Err(error) => {
                let mut child = spawned.child;
                let _ = child.kill();
                let _ = child.wait();
                self.start_failed(format!("could not watch a worker's exit ({error})"));
                return false;
            }
        };
        let worker = Worker {
            generation,
            child: spawned.child,
            channel: Some(Arc::new(spawned.channel)),
            published: false,
            exit,
            worker_end: spawned.worker_end,
            lifeline: spawned.lifeline,
            stderr: Some(spawned.stderr),
            tail: VecDeque::new(),
            inbuf: Vec::new(),
            outbuf: Vec::new(),
            written: 0,
            want_write: false,
            phase: Phase::Starting,
            deadline: Some(Instant::now() + self.config.start_timeout),
            calls: 0,
            retiring: false,
            killed: None,
        };
        #[allow(unsafe_code)]
        // SAFETY: the channel and stderr belong to the `Worker`, and every path that
        // drops one deletes it from the poller first: `close` and `channel_closed` for the
        // channel, `read_stderr` at end-of-file for stderr, `unwatch` for all of them when the
        // worker is reaped or abandoned. Workers are never dropped otherwise (the supervisor
        // reaps every one before it exits).
        let registered = unsafe {
            sys::watch(
                poller,
                &**worker.channel.as_ref().expect("new"),
                worker.key(CHANNEL),
            )
            .and_then(|()| {
                sys::watch(
                    poller,
                    worker.stderr.as_ref().expect("new"),
                    worker.key(STDERR),
                )
            })
        };
        self.workers.insert(generation, worker);
        if let Err(error) = registered {
            self.kill(generation, "it could not be watched");
            self.start_failed(format!("could not watch a worker's descriptors ({error})"));
            return false;
        }
        true
    }

    /// Records a failed start; after `max_start_failures` in a row, the pool stops starting
    /// workers and fails its queued jobs.
    fn start_failed(&mut self, message: String) {
        self.failures += 1;
        if self.failures >= self.config.max_start_failures {
            let message = format!(
                "{} workers in a row failed to start; the pool no longer starts workers. The \
                 last failure: {message}",
                self.failures
            );
            self.break_pool(&message);
        } else {
            self.replacements += 1;
            self.retry_at = Some(Instant::now() + RETRY_STEP * self.failures);
        }
    }

    /// Stops starting workers: fails queued and future jobs with `message`.
    fn break_pool(&mut self, message: &str) {
        self.broken = true;
        self.shared.lock().broken = Some(message.to_owned());
        let failed = self.queue.len();
        for job in self.queue.drain(..) {
            job.task.fail(ExecError::StartFailed(message.to_owned()));
        }
        self.shared.jobs_done(failed);
        let starting: Vec<u64> = self
            .workers
            .values()
            .filter(|w| matches!(w.phase, Phase::Starting | Phase::Initializing))
            .map(|w| w.generation)
            .collect();
        for generation in starting {
            self.kill(generation, "the pool stopped starting workers");
        }
    }

    /// Gives up after a supervisor failure: every job fails, every worker is killed and
    /// reaped (blocking briefly: they were sent SIGKILL).
    fn abandon(&mut self, message: &str) {
        {
            let mut inbox = self.shared.lock();
            inbox.broken = Some(message.to_owned());
            inbox.idle.clear();
        }
        self.shared.close(true);
        self.take_inbox();
        let error = ExecError::StartFailed(message.to_owned());
        for job in self.queue.drain(..) {
            job.task.fail(error.clone());
        }
        for (_, mut worker) in self.workers.drain() {
            if let Phase::Busy(running) = &worker.phase {
                running.task.fail(error.clone());
            }
            let _ = worker.child.kill();
            let _ = worker.child.wait();
            unwatch(&self.shared.poller, &mut worker);
        }
        self.shared.jobs_done(usize::MAX);
    }

    /// The earliest deadline, if any.
    fn next_deadline(&self) -> Option<Instant> {
        let mut next = self.retry_at;
        let mut consider = |at: Instant| next = Some(next.map_or(at, |n: Instant| n.min(at)));
        for worker in self.workers.values() {
            if let Some(deadline) = worker.deadline {
                consider(deadline);
            }
            match &worker.phase {
                Phase::Busy(Running {
                    deadline: Some((deadline, _)),
                    ..
                }) => consider(*deadline),
                Phase::Idle(since) => {
                    if let Some(limit) = self.config.idle_timeout {
                        consider(*since + limit);
                    }
                }
                _ => {}
            }
        }
        next
    }

    /// Queues `frame` on the worker's channel and writes what it can.
    fn send(&mut self, generation: u64, frame: &[u8]) {
        if let Some(worker) = self.workers.get_mut(&generation) {
            worker.outbuf.extend_from_slice(frame);
            self.flush(generation);
        }
    }

    /// Writes the worker's pending output until done or the socket is full.
    fn flush(&mut self, generation: u64) {
        let Some(worker) = self.workers.get_mut(&generation) else {
            return;
        };
        let Some(channel) = &worker.channel else {
            worker.outbuf.clear();
            worker.written = 0;
            return;
        };
        let mut failed = None;
        while worker.written < worker.outbuf.len() {
            match sys::send(&**channel, &worker.outbuf[worker.written..]) {
                Ok(n) => worker.written += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            }
        }
        if worker.written == worker.outbuf.len() {
            worker.outbuf.clear();
            worker.written = 0;
        }
        let want_write = !worker.outbuf.is_empty() && failed.is_none();
        if want_write != worker.want_write {
            worker.want_write = want_write;
            let key = worker.key(CHANNEL);
            let _ = sys::rewatch(&self.shared.poller, &**channel, key, true, want_write);
        }
        if failed.is_some() {
            // The worker is gone or going; its exit watch reports how.
            self.channel_closed(generation);
        }
    }

    /// Reads what the worker's channel holds and acts on every complete frame.
    fn read_channel(&mut self, generation: u64, handle_eof: bool) {
        let Some(worker) = self.workers.get_mut(&generation) else {
            return;
        };
        let Some(channel) = &worker.channel else {
            return;
        };
        let scratch = &mut self.scratch;
        let eof = loop {
            match (&**channel).read(scratch) {
                Ok(0) => break true,
                Ok(n) => {
                    worker.inbuf.extend_from_slice(&scratch[..n]);
                    if n < scratch.len() {
                        // All there was: the channel is watched level-triggered, so anything
                        // that arrives later (end-of-file too) is reported by the next wait.
                        break false;
                    }
                }
                Err(error) => match error.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock => break false,
                    _ => break true,
                },
            }
        };
        let input = std::mem::take(&mut worker.inbuf);
        let mut used = 0;
        while self.accepts_frames(generation) {
            match frame::parse(&input[used..], self.config.max_frame) {
                Ok(Some((frame, length))) => {
                    used += length;
                    self.on_frame(generation, frame.kind, frame.job, frame.payload);
                }
                Ok(None) => break,
                Err(message) => {
                    self.protocol_error(generation, message);
                    break;
                }
            }
        }
        if let Some(worker) = self.workers.get_mut(&generation) {
            if worker.channel.is_some() && worker.inbuf.is_empty() {
                worker.inbuf = input;
                worker.inbuf.drain(..used);
            }
        }
        if eof && handle_eof {
            self.channel_closed(generation);
        }
    }

    /// Whether frames from this worker are still acted on (it is neither killed nor closed).
    fn accepts_frames(&self, generation: u64) -> bool {
        self.workers
            .get(&generation)
            .is_some_and(|w| w.channel.is_some() && !matches!(w.phase, Phase::Closing))
    }

    /// Acts on one frame from a worker.
    fn on_frame(&mut self, generation: u64, kind: u8, job: u64, payload: &[u8]) {
        if kind == REPLY && self.workers.get(&generation).is_some_and(|w| w.published) {
            self.claim(generation); // the reply of a job sent straight to it
        }
        let worker = self.workers.get_mut(&generation).expect("accepts frames");
        match (&worker.phase, kind) {
            (Phase::Starting, HELLO) => {
                let hello: Hello = match postcard::from_bytes(payload) {
                    Ok(hello) => hello,
                    Err(error) => {
                        let message = format!("a worker's hello did not decode ({error})");
                        return self.protocol_error(generation, message);
                    }
                };
                if hello.protocol != PROTOCOL || hello.fingerprint != self.config.fingerprint {
                    let message = format!(
                        "a worker's function registry (fingerprint {:016x}, protocol {}) \
                         differs from the pool's ({:016x}, protocol {PROTOCOL}): the worker \
                         does not run the same code. Build the pool and call \
                         evloop_bridge::process::init with the same registry, and make sure \
                         the worker program is this very executable",
                        hello.fingerprint, hello.protocol, self.config.fingerprint
                    );
                    self.kill(generation, "its registry differs from the pool's");
                    return self.break_pool(&message);
                }
                if hello.generation != generation {
                    let message = format!(
                        "a worker announced generation {} but was started as {generation}",
                        hello.generation
                    );
                    return self.protocol_error(generation, message);
                }
                if let Some(call) = self.config.initializer.clone() {
                    worker.phase = Phase::Initializing;
                    self.send(generation, &call);
                } else {
                    self.started(generation);
                }
            }
            (Phase::Initializing, REPLY) if job == 0 => {
                let failure = match frame::replies(payload) {
                    Ok(replies) => match replies.into_iter().next() {
                        Some(Reply::Ok(_)) => None,
                        Some(reply) => Some(
                            frame::outcome::<()>(reply, "initializer")
                                .err()
                                .map_or_else(String::new, |e| e.to_string()),
                        ),
                        None => Some("an empty reply".to_owned()),
                    },
                    Err(error) => Some(error.to_string()),
                };
                match failure {
                    None => self.started(generation),
                    Some(why) => {
                        self.kill(generation, "its initializer failed");
                        self.start_failed(format!("a worker's initializer failed: {why}"));
                    }
                }
            }
            (Phase::Busy(running), REPLY) if job == running.id => {
                let Some(running) = self.take_job(generation) else {
                    return;
                };
                let worker = self.workers.get_mut(&generation).expect("present");
                worker.phase = Phase::Idle(Instant::now());
                if worker.retiring {
                    self.close(generation);
                } else {
                    // Lent before the caller wakes: a caller that submits its next job as soon
                    // as it resumes sends it straight to this worker, with no wake-up of this
                    // thread on the way in.
                    self.publish();
                }
                running.task.complete(payload);
                // After the outcome: a submitter blocked for room finds this job done.
                self.shared.jobs_done(1);
            }
            (_, kind) => {
                let message = format!(
                    "a worker sent an unexpected frame (kind {kind}, job {job}) for its state"
                );
                self.protocol_error(generation, message);
            }
        }
    }

    /// A worker completed its start-up.
    fn started(&mut self, generation: u64) {
        self.failures = 0;
        if let Some(worker) = self.workers.get_mut(&generation) {
            worker.phase = Phase::Idle(Instant::now());
            worker.deadline = None;
        }
    }

    /// Takes the job a worker is running, if it is running one.
    fn take_job(&mut self, generation: u64) -> Option<Running> {
        let worker = self.workers.get_mut(&generation)?;
        if !matches!(worker.phase, Phase::Busy(_)) {
            return None;
        }
        match std::mem::replace(&mut worker.phase, Phase::Idle(Instant::now())) {
            Phase::Busy(running) => Some(running),
            _ => None,
        }
    }

    /// A worker broke the protocol: its job (if any) fails with `message`, it is killed and
    /// replaced.
    fn protocol_error(&mut self, generation: u64, message: String) {
        let starting = self
            .workers
            .get(&generation)
            .is_some_and(|w| matches!(w.phase, Phase::Starting | Phase::Initializing));
        if let Some(running) = self.take_job(generation) {
            running.task.fail(ExecError::Protocol(format!(
                "{message}; the worker was killed and replaced"
            )));
            self.shared.jobs_done(1);
        }
        self.kill(generation, "it broke the protocol");
        if starting {
            self.start_failed(message);
        }
    }

    /// Kills a worker (SIGKILL) and closes its channel at once, so nothing it sent is acted on;
    /// its exit watch reports the exit. A replacement is started unless it was retiring or closing.
    fn kill(&mut self, generation: u64, why: &'static str) {
        self.claim(generation); // a job a submitter just gave it fails with it
        let Some(worker) = self.workers.get_mut(&generation) else {
            return;
        };
        if worker.killed.is_none() {
            worker.killed = Some(why);
            // Fails only if it was already reaped, which `Child` knows.
            let _ = worker.child.kill();
            if worker.counts() && !self.closing {
                self.replacements += 1;
            }
        }
        self.close(generation);
    }

    /// Closes a worker's channel: an idle worker reads end-of-file and exits; it must do so
    /// within [`GRACE`] or be killed.
    fn close(&mut self, generation: u64) {
        self.claim(generation); // no submitter may send to it any more
        let Some(worker) = self.workers.get_mut(&generation) else {
            return;
        };
        if let Some(channel) = worker.channel.take() {
            let _ = self.shared.poller.delete(&*channel);
        }
        if worker.outbuf.len() > worker.written {
            if let Phase::Busy(running) = &mut worker.phase {
                running.unsent = true; // the worker cannot have taken it
            }
        }
        worker.outbuf.clear();
        worker.written = 0;
        // A running job stays: if the worker dies with it, `reap` fails it with `WorkerDied`.
        if !matches!(worker.phase, Phase::Closing | Phase::Busy(_)) {
            worker.phase = Phase::Closing;
        }
        worker.deadline = Some(Instant::now() + GRACE);
        if !worker.exit.is_exact() {
            // Nothing exact says when it exits: make sure it does, and reap it now.
            let _ = worker.child.kill();
            let _ = worker.child.wait();
            self.reap(generation);
        }
    }

    /// The worker closed its channel (or writing to it failed): it is exiting. Its exit watch
    /// reports how; if it does not exit within [`GRACE`], it is killed.
    fn channel_closed(&mut self, generation: u64) {
        let Some(worker) = self.workers.get_mut(&generation) else {
            return;
        };
        if let Some(channel) = worker.channel.take() {
            let _ = self.shared.poller.delete(&*channel);
        }
        if !worker.exit.is_exact() {
            let _ = worker.child.kill();
            let _ = worker.child.wait();
            self.reap(generation);
        } else if worker.deadline.is_none() || !matches!(worker.phase, Phase::Closing) {
            worker.deadline = Some(Instant::now() + GRACE);
        }
    }

    /// Reads the worker's stderr into its tail (and this process's stderr).
    fn read_stderr(&mut self, generation: u64) {
        let Some(worker) = self.workers.get_mut(&generation) else {
            return;
        };
        let Some(stderr) = &mut worker.stderr else {
            return;
        };
        let mut buf = [0; 4096];
        let eof = loop {
            match stderr.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => {
                    if self.config.forward_stderr {
                        let _ = io::stderr().write_all(&buf[..n]);
                    }
                    worker.tail.extend(&buf[..n]);
                    let excess = worker.tail.len().saturating_sub(self.config.stderr_tail);
                    worker.tail.drain(..excess);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                // Any error but `WouldBlock` ends the pipe for us.
                Err(error) => break error.kind() != io::ErrorKind::WouldBlock,
            }
        };
        if eof {
            if let Some(stderr) = worker.stderr.take() {
                let _ = self.shared.poller.delete(&stderr);
            }
        }
    }

    /// The worker exited (its exit watch fired): reaps it, reads what it left, and fails the
    /// job it was running (if its outcome was still open) with [`ExecError::WorkerDied`], or,
    /// if the worker never read all of the job's call, queues the job again, first in line.
    fn reap(&mut self, generation: u64) {
        self.claim(generation); // a job a submitter just gave it fails with it
                                // A reply written just before the exit is still delivered.
        self.read_channel(generation, false);
        self.read_stderr(generation);
        let Some(worker) = self.workers.get_mut(&generation) else {
            return;
        };
        if !worker.exit.is_exact() {
            let _ = worker.child.kill(); // only "exiting": make sure
        }
        let status = match worker.child.try_wait() {
            Ok(Some(status)) => Some(status),
            Ok(None) => worker.child.wait().ok(), // it exited (or was just killed): no real wait
            Err(_) => None,
        };
        let mut worker = self.workers.remove(&generation).expect("present");
        unwatch(&self.shared.poller, &mut worker);
        let pid = worker.child.id();
        let reason = describe(pid, status, worker.killed);
        let stderr = worker.stderr_tail();
        match std::mem::replace(&mut worker.phase, Phase::Closing) {
            Phase::Busy(running) if !took(&worker, &running) => {
                // Never started: it runs on another worker, exactly once.
                self.queue.push_front(running.requeue());
                if !worker.retiring && !self.closing {
                    self.replacements += 1;
                }
            }
            Phase::Busy(running) => {
                running.task.fail(ExecError::WorkerDied {
                    pid,
                    code: status.and_then(|s| s.code()),
                    signal: status.and_then(|s| s.signal()),
                    stderr,
                    reason,
                });
                self.shared.jobs_done(1);
                if !worker.retiring && !self.closing {
                    self.replacements += 1;
                }
            }
            Phase::Starting | Phase::Initializing => {
                let mut message = format!("a worker exited during start-up: {reason}");
                if !stderr.is_empty() {
                    let _ = write!(message, "; its stderr ended with: {stderr}");
                }
                self.start_failed(message);
            }
            Phase::Idle(_) => {
                if !self.closing {
                    self.replacements += 1; // died while idle (killed from outside)
                }
            }
            Phase::Closing => {}
        }
    }
}

/// What to do about a worker process that could not be started with `error`.
fn start_hint(error: &io::Error) -> &'static str {
    if sys::is_out_of_descriptors(error) {
        "this process has no file descriptor left (the pool keeps five per worker and needs a \
         few more while one starts): raise the descriptor limit (`ulimit -n`, RLIMIT_NOFILE) or \
         close descriptors"
    } else if sys::is_file_table_full(error) {
        "the system's table of open files is full (`fs.file-max`): close files or raise it"
    } else if sys::is_process_limit(error) {
        "no new process could be made: the process limit is reached (`ulimit -u`, \
         RLIMIT_NPROC, or the system's `kernel.pid_max`)"
    } else if sys::is_out_of_memory(error) {
        "the system is out of memory for a new process"
    } else if error.kind() == io::ErrorKind::NotFound {
        "no program at that path: check `ProcessPoolBuilder::program`"
    } else if error.kind() == io::ErrorKind::PermissionDenied {
        "the program is not executable by this user"
    } else {
        "check that the program exists and that the process and descriptor limits leave room"
    }
}

/// Whether a dead worker had taken `running`: it read the whole call (all of it was written
/// and nothing is left unread on its end of the channel). A worker reads the whole frame before
/// it runs the function, so a job it had not taken never ran.
fn took(worker: &Worker, running: &Running) -> bool {
    // If the count cannot be read, assume the worst: never run a job twice.
    !running.unsent && sys::unread(&worker.worker_end).map_or(true, |unread| unread == 0)
}

/// Deletes every descriptor of `worker` still registered, before they are closed.
fn unwatch(poller: &Poller, worker: &mut Worker) {
    if let Some(channel) = worker.channel.take() {
        let _ = poller.delete(&*channel);
    }
    worker.exit.stop(poller, &worker.child, &worker.lifeline);
    if let Some(stderr) = worker.stderr.take() {
        let _ = poller.delete(&stderr);
    }
}

/// "worker 123 was killed by signal 9 (SIGKILL)", "worker 123 exited with status 3"...
fn describe(pid: u32, status: Option<ExitStatus>, killed: Option<&str>) -> String {
    let mut text = match status {
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("worker {pid} exited with status {code}"),
            (None, Some(signal)) => match sys::signal_name(signal) {
                Some(name) => format!("worker {pid} was killed by signal {signal} ({name})"),
                None => format!("worker {pid} was killed by signal {signal}"),
            },
            _ => format!("worker {pid} ended ({status})"),
        },
        None => format!("worker {pid} ended (its status could not be read)"),
    };
    if let Some(why) = killed {
        let _ = write!(text, "; the pool killed it because {why}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deaths_are_described_with_the_status_or_the_signal_and_why_the_pool_killed() {
        let exited = ExitStatus::from_raw(3 << 8);
        assert_eq!(
            describe(42, Some(exited), None),
            "worker 42 exited with status 3"
        );
        let kill = rustix::process::Signal::KILL.as_raw();
        assert_eq!(
            describe(
                42,
                Some(ExitStatus::from_raw(kill)),
                Some("its job timed out")
            ),
            format!(
                "worker 42 was killed by signal {kill} (SIGKILL); the pool killed it because \
                 its job timed out"
            )
        );
        let bus = rustix::process::Signal::BUS.as_raw();
        assert_eq!(
            describe(7, Some(ExitStatus::from_raw(bus)), None),
            format!("worker 7 was killed by signal {bus} (SIGBUS)")
        );
        assert!(describe(7, None, None).contains("could not be read"));
    }
}

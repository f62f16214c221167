//! The supervisor: one thread per process pool that holds its policy: which job runs where,
//! when workers start, retire, time out and are killed, and what a worker's death means for its
//! job. The OS calls it makes go through `sys`; each worker's own state is in `worker.rs`, and
//! the rules of lending a worker to submitters in `link.rs`.
//!
//! ```text
//!  submitters ──submit──► Inbox ───────────────────► Supervisor ──spawn──► worker processes
//!   (any thread)          jobs, cancellations,         queue, workers            ▲    │
//!        │                notices, shutdown            │ dispatch, kill, reap    │    │
//!        │                lent workers ◄───── lend ────┘                         │    │
//!        └── a lent worker's call, written straight to its channel ─────────────┘    │
//!  handles ◄── a reply read by the caller (blocking wait, event loop) ◄───────────────┤
//!        ▲                                                                            │
//!        └── outcome (complete, fail) ◄── Supervisor ◄── replies, exits, stderr ◄─────┘
//! ```
//!
//! Its loop is five named steps, none of which blocks but the wait:
//!
//! 1. [`take_inbox`](Supervisor::take_inbox): new jobs into the queue; notices (a worker given
//!    back, a reply now the supervisor's to read, the rest of a call to write); cancellations
//!    (a queued job is dropped, a running job's worker killed); a shutdown request.
//! 2. [`expire`](Supervisor::expire): jobs over their timeout (worker killed), workers idle
//!    too long (closed), workers late to start or to exit (killed).
//! 3. [`schedule`](Supervisor::schedule): queued jobs to idle workers, in order; while nothing
//!    is queued, idle workers lent to submitters; workers started to replace dead, killed or
//!    retiring ones, or for queued jobs, up to `max_workers`.
//! 4. [`wait`](Supervisor::wait): sleep in the poller until an event, a notification or the
//!    next deadline; with no deadline, no timeout (no periodic polling).
//! 5. [`handle_events`](Supervisor::handle_events): frames from workers (hello, initializer
//!    result, the replies it reads), exits (reaped at once: the job fails with `WorkerDied` if
//!    the worker had read it, or runs on another worker if not), stderr.
//!
//! Poller keys are `generation << 2 | source`: an event whose generation is no longer a live
//! worker (it was reaped earlier in the same batch) is dropped, and a killed worker's channel is
//! closed at once, so nothing it sent afterwards is ever acted on.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polling::Events;

use crate::error::{panic_message, ExecError, UNINITIALIZED_WORKER};
use crate::process::child::UNINITIALIZED_EXIT;
use crate::process::frame::{self, Hello, Reply, HELLO, PROTOCOL, REPLY};
use crate::process::link::{DirectJob, Lease, Link, Reader};
use crate::process::shared::{Notice, Pending, Shared};
use crate::process::spawn;
use crate::process::sys;
use crate::process::worker::{describe, split_key, Phase, Worker, CHANNEL, EXIT};

/// How long a worker whose channel closed may take to exit before it is killed.
const GRACE: Duration = Duration::from_secs(2);

/// How long to wait before starting a worker again after a failed start, per failure.
const RETRY_STEP: Duration = Duration::from_millis(50);

/// Bytes of each worker's stderr kept for the error of its death.
const STDERR_TAIL: usize = 4096;

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
    /// Whether workers' stderr is copied to this process's stderr.
    pub(crate) forward_stderr: bool,
    /// Whether workers' exits are watched with the system's own notification (a pidfd, a
    /// kqueue filter) where there is one, rather than through their lifelines.
    pub(crate) native_exit_watch: bool,
}

/// The supervisor thread's state.
pub(crate) struct Supervisor {
    /// Shared with submitters and handles.
    shared: Arc<Shared>,
    /// The pool's configuration.
    config: Config,
    /// Live workers by generation (not yet reaped).
    workers: HashMap<u64, Worker>,
    /// The generation of the next worker.
    next_generation: u64,
    /// Jobs waiting for a worker, in submission order (a job whose worker died before taking it
    /// goes back to the front).
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

    /// The supervision loop: the five steps of the module documentation.
    fn supervise(&mut self) {
        loop {
            self.take_inbox();
            self.expire(Instant::now());
            self.schedule();
            if self.closing && self.queue.is_empty() && self.workers.is_empty() {
                return;
            }
            if let Err(error) = self.wait() {
                let message = format!("the process pool's poller failed ({error})");
                self.abandon(&message);
                return;
            }
            self.handle_events();
        }
    }

    // Step 1.

    /// Takes new jobs, notices, cancellations and shutdown requests from the inbox.
    fn take_inbox(&mut self) {
        let (notices, stops, close) = {
            let mut inbox = self.shared.lock();
            self.queue.extend(inbox.jobs.drain(..));
            (
                std::mem::take(&mut inbox.notices),
                std::mem::take(&mut inbox.stops),
                inbox.close.take(),
            )
        };
        for notice in notices {
            self.on_notice(notice);
        }
        for id in stops {
            self.stop(id);
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

    /// Acts on what a submitter or a handle said about a worker.
    fn on_notice(&mut self, notice: Notice) {
        let poller = &self.shared.poller;
        match notice {
            // The worker is the supervisor's again (its lease is `Held`): watch its channel;
            // `schedule` gives it a job, lends it or retires it.
            Notice::Returned(generation) => {
                if let Some(worker) = self.workers.get_mut(&generation) {
                    worker.watch_reads(poller, true);
                }
            }
            // A reply is the supervisor's to read: watch the channel, now and while lent.
            Notice::Read(generation) => {
                if let Some(worker) = self.workers.get_mut(&generation) {
                    worker.watch_when_lent = true;
                    worker.watch_reads(poller, true);
                }
            }
            // A call the channel did not take whole: write the rest, then read the reply.
            Notice::Write {
                generation,
                written,
            } => {
                let Some(worker) = self.workers.get_mut(&generation) else {
                    return; // reaped: the job went back to the queue (its call was not whole)
                };
                let rest = match &worker.link.lock().lease {
                    Lease::Direct(direct) if !direct.sent_whole => {
                        direct.job.frame[written..].to_vec()
                    }
                    _ => return,
                };
                worker.watch_reads(poller, true);
                if worker.send(poller, &rest).is_err() {
                    self.channel_closed(generation);
                }
            }
        }
    }

    /// Job `id` was cancelled: dropped if queued, its worker killed if it runs.
    fn stop(&mut self, id: u64) {
        if let Some(at) = self.queue.iter().position(|job| job.id == id) {
            self.queue.remove(at); // its cell already says Cancelled
            self.shared.jobs_done(1);
            return;
        }
        let running = self.workers.values().find_map(|worker| {
            matches!(&worker.link.lock().lease,
                Lease::Direct(direct) if direct.job.id == id)
            .then_some(worker.generation)
        });
        if let Some(generation) = running {
            if self.take_job(generation).is_some() {
                self.shared.jobs_done(1); // its cell already says Cancelled
            }
            self.kill(generation, "its job was cancelled");
        }
    }

    // Step 2.

    /// Acts on every deadline that has passed.
    fn expire(&mut self, now: Instant) {
        let mut timed_out = Vec::new();
        let mut idle = Vec::new();
        let mut late = Vec::new();
        for worker in self.workers.values() {
            if worker.phase == Phase::Ready {
                let state = worker.link.lock();
                match &state.lease {
                    Lease::Direct(direct) => {
                        if let Some((deadline, after)) = direct.deadline() {
                            if deadline <= now {
                                timed_out.push((worker.generation, direct.job.id, after));
                            }
                        }
                    }
                    Lease::Held | Lease::Lent => {
                        let expired = self
                            .config
                            .idle_timeout
                            .is_some_and(|limit| state.idle_since + limit <= now);
                        if expired && self.queue.is_empty() {
                            idle.push(worker.generation);
                        }
                    }
                    Lease::Returning => {}
                }
            }
            if worker.deadline.is_some_and(|deadline| deadline <= now) {
                late.push(worker.generation);
            }
        }
        for (generation, id, after) in timed_out {
            let still = self.workers.get(&generation).is_some_and(|worker| {
                matches!(&worker.link.lock().lease,
                    Lease::Direct(direct) if direct.job.id == id)
            });
            if still {
                if let Some(direct) = self.take_job(generation) {
                    direct.job.task.fail(ExecError::TimedOut { after });
                    self.shared.jobs_done(1);
                }
                self.kill(generation, "its job timed out");
            }
        }
        for generation in idle {
            if self.reclaim(generation) {
                self.close(generation);
            }
        }
        for generation in late {
            self.too_late(generation);
        }
        if self.retry_at.is_some_and(|at| at <= now) {
            self.retry_at = None;
        }
    }

    /// A worker missed its deadline: to start (a failed start), or to exit after its channel
    /// closed (killed).
    fn too_late(&mut self, generation: u64) {
        let Some(worker) = self.workers.get(&generation) else {
            return;
        };
        if matches!(worker.phase, Phase::Starting | Phase::Initializing) {
            let message = format!(
                "a worker did not complete its start-up within {:?} (no handshake{}); is \
                 evloop_bridge::process::init called first thing in main (or, in a test \
                 binary, does test_worker name an existing test that calls it)?",
                self.config.start_timeout,
                if worker.phase == Phase::Initializing {
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

    // Step 3.

    /// Hands queued jobs to idle workers, lends idle workers while nothing is queued, retires
    /// spent workers, then starts the workers that are missing.
    fn schedule(&mut self) {
        self.retire_spent();
        self.dispatch();
        if self.closing && self.queue.is_empty() {
            self.set_lending(false);
            let done: Vec<u64> = self
                .workers
                .values()
                .filter(|w| {
                    matches!(
                        w.phase,
                        Phase::Ready | Phase::Starting | Phase::Initializing
                    )
                })
                .map(|w| w.generation)
                .collect();
            for generation in done {
                let starting = self.workers[&generation].phase != Phase::Ready;
                if starting || self.reclaim(generation) {
                    self.close(generation);
                }
            }
            return;
        }
        self.set_lending(self.queue.is_empty() && !self.broken);
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

    /// Marks the workers that took their last call (`max_tasks_per_child`) as retiring, which
    /// starts their replacements, and closes those that have finished it.
    fn retire_spent(&mut self) {
        let mut done = Vec::new();
        for worker in self.workers.values_mut() {
            if worker.phase != Phase::Ready || !worker.link.spent() {
                continue;
            }
            if !worker.retiring {
                // Its replacement starts now, while it runs its last job.
                worker.retiring = true;
                self.replacements += 1;
            }
            if matches!(worker.link.lock().lease, Lease::Held) {
                done.push(worker.generation);
            }
        }
        for generation in done {
            self.close(generation);
        }
    }

    /// Sends queued jobs to idle workers, in order. Lent workers are taken back first: a
    /// queued job goes before any new one.
    fn dispatch(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        self.set_lending(false);
        let mut idle: Vec<u64> = self
            .workers
            .values()
            .filter(|w| w.phase == Phase::Ready && w.open && !w.retiring)
            .map(|w| w.generation)
            .collect();
        idle.retain(|&generation| self.reclaim(generation));
        for generation in idle {
            let Some(job) = self.next_job() else {
                return;
            };
            let worker = self.workers.get_mut(&generation).expect("found above");
            let frame = job.frame.clone();
            worker.link.run(job);
            worker.watch_reads(&self.shared.poller, true);
            if worker.send(&self.shared.poller, &frame).is_err() {
                self.channel_closed(generation);
            }
        }
    }

    /// The next queued job that still wants to run (a cancelled one leaves the pool).
    fn next_job(&mut self) -> Option<Pending> {
        while let Some(job) = self.queue.pop_front() {
            if job.task.start() {
                return Some(job);
            }
            self.shared.jobs_done(1);
        }
        None
    }

    /// Starts or stops lending: while lending, every idle worker is lent to submitters (and
    /// workers whose direct job ends are lent again); otherwise every lent worker is taken
    /// back.
    fn set_lending(&mut self, lend: bool) {
        let mut inbox = self.shared.lock();
        inbox.lending = lend;
        if !lend {
            drop(inbox);
            for generation in Link::take_back_lent(&self.shared) {
                if let Some(worker) = self.workers.get_mut(&generation) {
                    worker.watch_reads(&self.shared.poller, true);
                }
            }
            return;
        }
        for worker in self.workers.values_mut() {
            let lendable = worker.phase == Phase::Ready && worker.open && !worker.retiring;
            if lendable && worker.link.lend(&mut inbox) {
                worker.watch_reads(&self.shared.poller, worker.watch_when_lent);
            }
        }
    }

    /// Takes a worker back from the submitters: true if it is idle (now the supervisor's),
    /// false if it runs a job (or is gone).
    fn reclaim(&mut self, generation: u64) -> bool {
        let Some(worker) = self.workers.get_mut(&generation) else {
            return false;
        };
        let idle = worker.link.reclaim(&self.shared);
        if idle {
            worker.watch_reads(&self.shared.poller, true);
        }
        idle
    }

    /// Starts one worker; false if it could not be started.
    fn start_worker(&mut self) -> bool {
        let generation = self.next_generation;
        self.next_generation += 1;
        let config = &self.config;
        let spawned = spawn::spawn(&config.program, &config.args, config.max_frame, generation);
        let spawned = match spawned {
            Ok(spawned) => spawned,
            Err(error) => {
                let message = format!(
                    "could not start a worker process from {} ({error}); {}",
                    config.program.display(),
                    start_hint(&error)
                );
                self.start_failed(message);
                return false;
            }
        };
        let worker = Worker::new(
            spawned,
            generation,
            &self.shared.poller,
            config.native_exit_watch,
            Instant::now() + config.start_timeout,
            (config.max_frame, config.max_tasks_per_child),
        );
        match worker {
            Ok(worker) => {
                self.workers.insert(generation, worker);
                true
            }
            Err(error) => {
                self.start_failed(format!("could not watch a worker process ({error})"));
                false
            }
        }
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

    // Step 4.

    /// Sleeps in the poller until an event, a notification or the next deadline.
    ///
    /// # Errors
    ///
    /// The poller's error, but for an interrupted wait.
    fn wait(&mut self) -> io::Result<()> {
        let timeout = self
            .next_deadline()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()));
        self.events.clear();
        match self.shared.poller.wait(&mut self.events, timeout) {
            Err(error) if error.kind() != io::ErrorKind::Interrupted => Err(error),
            _ => Ok(()),
        }
    }

    /// The earliest deadline, if any.
    fn next_deadline(&self) -> Option<Instant> {
        let mut next = self.retry_at;
        let mut consider = |at: Instant| next = Some(next.map_or(at, |n: Instant| n.min(at)));
        for worker in self.workers.values() {
            if let Some(deadline) = worker.deadline {
                consider(deadline);
            }
            if worker.phase != Phase::Ready {
                continue;
            }
            let state = worker.link.lock();
            match &state.lease {
                Lease::Direct(direct) => {
                    if let Some((deadline, _)) = direct.deadline() {
                        consider(deadline);
                    }
                }
                Lease::Held | Lease::Lent => {
                    if let Some(limit) = self.config.idle_timeout {
                        consider(state.idle_since + limit);
                    }
                }
                Lease::Returning => {}
            }
        }
        next
    }

    // Step 5.

    /// Acts on the events of the last wait.
    fn handle_events(&mut self) {
        let ready: Vec<_> = self
            .events
            .iter()
            .map(|event| (event.key, event.readable, event.writable))
            .collect();
        for (key, readable, writable) in ready {
            let (generation, source) = split_key(key);
            if !self.workers.contains_key(&generation) {
                continue; // a worker already gone: a stale event
            }
            match source {
                CHANNEL => {
                    if writable {
                        let worker = self.workers.get_mut(&generation).expect("present");
                        if worker.flush(&self.shared.poller).is_err() {
                            self.channel_closed(generation);
                        }
                    }
                    if readable {
                        self.on_readable(generation);
                    }
                }
                EXIT => {
                    if self.workers[&generation].exited() {
                        self.reap(generation);
                    }
                }
                _ => {
                    let worker = self.workers.get_mut(&generation).expect("present");
                    let forward = self.config.forward_stderr;
                    worker.read_stderr(&self.shared.poller, forward, STDERR_TAIL);
                }
            }
        }
    }

    /// The worker's channel is readable: read it if the supervisor is its reader now.
    fn on_readable(&mut self, generation: u64) {
        /// What a readable channel calls for.
        enum Then {
            /// The supervisor reads it.
            Read,
            /// The caller reads it: the supervisor stops watching.
            StandBack,
            /// An idle, lent worker sent something (or hung up): take it back, then read.
            Reclaim,
        }
        let Some(worker) = self.workers.get_mut(&generation) else {
            return;
        };
        let then = if worker.phase == Phase::Ready {
            match &mut worker.link.lock().lease {
                Lease::Direct(direct) if direct.reader == Reader::Caller => Then::StandBack,
                Lease::Direct(direct) => {
                    direct.reader = Reader::Supervisor; // nobody claimed the reply yet
                    Then::Read
                }
                Lease::Held => Then::Read,
                Lease::Lent | Lease::Returning => Then::Reclaim,
            }
        } else {
            Then::Read
        };
        match then {
            Then::StandBack => {
                worker.watch_when_lent = false;
                worker.watch_reads(&self.shared.poller, false);
                return;
            }
            Then::Reclaim => {
                self.reclaim(generation);
            }
            Then::Read => {}
        }
        self.read_channel(generation, true);
    }

    /// Reads what the worker's channel holds and acts on every complete frame; with
    /// `handle_eof`, acts on its end too.
    fn read_channel(&mut self, generation: u64, handle_eof: bool) {
        let Some(worker) = self.workers.get_mut(&generation) else {
            return;
        };
        if !worker.open {
            return;
        }
        let (input, eof) = worker.take_input(&mut self.scratch);
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
            if worker.open {
                worker.restore_input(input[used..].to_vec());
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
            .is_some_and(|w| w.open && w.phase != Phase::Closing)
    }

    /// Acts on one frame from a worker.
    fn on_frame(&mut self, generation: u64, kind: u8, job: u64, payload: &[u8]) {
        let phase = self.workers[&generation].phase;
        match (phase, kind) {
            (Phase::Starting, HELLO) => self.on_hello(generation, payload),
            (Phase::Initializing, REPLY) if job == 0 => self.on_initialized(generation, payload),
            (Phase::Ready, REPLY) => {
                let worker = self.workers.get_mut(&generation).expect("present");
                let direct = {
                    let mut state = worker.link.lock();
                    match &state.lease {
                        Lease::Direct(direct) if direct.job.id == job => {
                            match std::mem::replace(&mut state.lease, Lease::Held) {
                                Lease::Direct(direct) => Some(direct),
                                _ => unreachable!("matched above"),
                            }
                        }
                        _ => None,
                    }
                };
                let Some(direct) = direct else {
                    let message =
                        format!("a worker sent a reply for job {job}, which it was not running");
                    return self.protocol_error(generation, message);
                };
                worker.watch_when_lent = true;
                // Lent before the caller wakes: a caller that submits its next job as soon as
                // it resumes sends it straight to this worker.
                if !worker.link.spent() && self.shared.lock().lends() {
                    self.set_lending(true);
                }
                direct.job.task.complete(payload);
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

    /// A starting worker's hello: checks its protocol, registry and generation, then sends the
    /// initializer's call or makes it ready.
    fn on_hello(&mut self, generation: u64, payload: &[u8]) {
        let hello: Hello = match postcard::from_bytes(payload) {
            Ok(hello) => hello,
            Err(error) => {
                let message = format!("a worker's hello did not decode ({error})");
                return self.protocol_error(generation, message);
            }
        };
        if hello.protocol != PROTOCOL || hello.fingerprint != self.config.fingerprint {
            let message = format!(
                "a worker's function registry (fingerprint {:016x}, protocol {}) differs from \
                 the pool's ({:016x}, protocol {PROTOCOL}): the worker does not run the same \
                 code. Build the pool and call evloop_bridge::process::init with the same \
                 registry, and make sure the worker program is this very executable",
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
        let worker = self.workers.get_mut(&generation).expect("present");
        match self.config.initializer.clone() {
            Some(call) => {
                worker.phase = Phase::Initializing;
                if worker.send(&self.shared.poller, &call).is_err() {
                    self.channel_closed(generation);
                }
            }
            None => self.started(generation),
        }
    }

    /// The initializer's result.
    fn on_initialized(&mut self, generation: u64, payload: &[u8]) {
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

    /// A worker completed its start-up.
    fn started(&mut self, generation: u64) {
        self.failures = 0;
        if let Some(worker) = self.workers.get_mut(&generation) {
            worker.phase = Phase::Ready;
            worker.deadline = None;
            worker.link.lock().idle_since = Instant::now();
        }
    }

    /// Takes the job a worker runs out of its lease (which becomes `Held`), if it runs one.
    fn take_job(&mut self, generation: u64) -> Option<DirectJob> {
        let worker = self.workers.get(&generation)?;
        let taken = worker.link.take_job();
        if let Some(direct) = &taken {
            direct.job.task.attach(None);
        }
        taken
    }

    /// A worker broke the protocol: its job (if any) fails with `message`, it is killed and
    /// replaced.
    fn protocol_error(&mut self, generation: u64, message: String) {
        let starting = self
            .workers
            .get(&generation)
            .is_some_and(|w| matches!(w.phase, Phase::Starting | Phase::Initializing));
        if let Some(direct) = self.take_job(generation) {
            direct.job.task.fail(ExecError::Protocol(format!(
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
    /// its exit watch reports the exit. A replacement is started unless it was retiring or
    /// closing. A job it still runs stays in its lease: `reap` decides its outcome.
    fn kill(&mut self, generation: u64, why: &'static str) {
        self.reclaim(generation);
        let Some(worker) = self.workers.get_mut(&generation) else {
            return;
        };
        if worker.killed.is_none() {
            worker.killed = Some(why);
            worker.kill();
            if worker.counts() && !self.closing {
                self.replacements += 1;
            }
        }
        self.close(generation);
    }

    /// Closes a worker's channel: an idle worker reads end-of-file and exits; it must do so
    /// within [`GRACE`] or be killed.
    fn close(&mut self, generation: u64) {
        let Some(worker) = self.workers.get_mut(&generation) else {
            return;
        };
        if worker.close_channel(&self.shared.poller) {
            if let Lease::Direct(direct) = &mut worker.link.lock().lease {
                direct.sent_whole = false; // the worker cannot have taken it
            }
        }
        worker.phase = Phase::Closing;
        worker.deadline = Some(Instant::now() + GRACE);
        if !worker.exit.is_exact() {
            // Nothing exact says when it exits: make sure it does, and reap it now.
            worker.kill();
            self.reap(generation);
        }
    }

    /// The worker closed its channel (or writing to it failed): it is exiting. Its exit watch
    /// reports how; if it does not exit within [`GRACE`], it is killed.
    fn channel_closed(&mut self, generation: u64) {
        let Some(worker) = self.workers.get_mut(&generation) else {
            return;
        };
        worker.close_channel(&self.shared.poller);
        if !worker.exit.is_exact() {
            worker.kill();
            self.reap(generation);
        } else if worker.deadline.is_none() || worker.phase != Phase::Closing {
            worker.deadline = Some(Instant::now() + GRACE);
        }
    }

    /// The worker exited (its exit watch fired): reaps it, reads what it left, and settles the
    /// job it was running: failed with [`ExecError::WorkerDied`] if the worker had read its
    /// call, queued again first in line if it had not.
    fn reap(&mut self, generation: u64) {
        self.reclaim(generation);
        let Some(worker) = self.workers.get_mut(&generation) else {
            return;
        };
        let replace = !worker.retiring && !self.closing;
        worker.retiring = true; // never lent again, even if the reply read below frees it
                                // A reply written just before the exit is still delivered, whoever was to read it.
        if let Lease::Direct(direct) = &mut worker.link.lock().lease {
            direct.reader = Reader::Supervisor;
        }
        self.read_channel(generation, false);
        let Some(mut worker) = self.workers.remove(&generation) else {
            return;
        };
        worker.read_stderr(&self.shared.poller, self.config.forward_stderr, STDERR_TAIL);
        let status = worker.exit_status();
        let direct = worker.link.take_job();
        worker.close_channel(&self.shared.poller);
        worker.forget(&self.shared.poller);
        let pid = worker.pid();
        let reason = describe(pid, status, worker.killed);
        match (worker.phase, direct) {
            (_, Some(direct)) if !worker.took(&direct) => {
                // Never started: it runs on another worker, exactly once.
                direct.job.task.attach(None);
                self.queue.push_front(direct.job);
                self.replacements += usize::from(replace);
            }
            (_, Some(direct)) => {
                direct.job.task.fail(ExecError::WorkerDied {
                    pid,
                    code: status.and_then(|s| s.code()),
                    signal: status.and_then(|s| s.signal()),
                    stderr: worker.stderr_tail(),
                    reason,
                });
                self.shared.jobs_done(1);
                self.replacements += usize::from(replace);
            }
            (Phase::Starting | Phase::Initializing, None) => {
                let forgot_init = status.and_then(|s| s.code()) == Some(UNINITIALIZED_EXIT)
                    && worker.stderr_tail().contains(UNINITIALIZED_WORKER);
                if forgot_init {
                    // The same code in every worker: no retry can help.
                    return self.break_pool(UNINITIALIZED_WORKER);
                }
                let mut message = format!("a worker exited during start-up: {reason}");
                let stderr = worker.stderr_tail();
                if !stderr.is_empty() {
                    let _ = write!(message, "; its stderr ended with: {stderr}");
                }
                self.start_failed(message);
            }
            // Died while idle (killed from outside).
            (Phase::Ready, None) => self.replacements += usize::from(replace),
            (Phase::Closing, None) => {}
        }
    }

    /// Gives up after a supervisor failure: every job fails, every worker is killed and
    /// reaped (blocking briefly: they were sent SIGKILL).
    fn abandon(&mut self, message: &str) {
        {
            let mut inbox = self.shared.lock();
            inbox.broken = Some(message.to_owned());
            inbox.lending = false;
            inbox.idle.clear();
        }
        self.shared.close(true);
        let error = ExecError::StartFailed(message.to_owned());
        {
            let mut inbox = self.shared.lock();
            self.queue.extend(inbox.jobs.drain(..));
        }
        for job in self.queue.drain(..) {
            job.task.fail(error.clone());
        }
        for (_, mut worker) in self.workers.drain() {
            if let Some(direct) = worker.link.take_job() {
                direct.job.task.fail(error.clone());
            }
            worker.kill();
            worker.exit_status();
            worker.close_channel(&self.shared.poller);
            worker.forget(&self.shared.poller);
        }
        self.shared.jobs_done(usize::MAX);
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

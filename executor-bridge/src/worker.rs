//! Worker threads: how many there are, when one starts or exits, and what each one does.
//!
//! # Counting idle workers
//!
//! A submitter must know whether some worker will take its job or a new one must start, and an
//! idle worker must know whether it may exit. Both questions go through one signed counter,
//! [`Shared::slack`]: the number of workers waiting for a job minus the number of jobs queued
//! and not yet received.
//!
//! - `submit` decrements it. If it was positive, a waiting worker will take the job. If not,
//!   and fewer than `max_workers` threads are alive, a new worker starts (and counts as
//!   waiting); at the limit, the job waits for a busy worker to finish.
//! - A worker that receives a job leaves it unchanged (one waiting worker and one queued job
//!   fewer). It increments it when the job's closure returns, before the outcome is published,
//!   so a task that awaits one job and submits the next finds the worker waiting rather than
//!   starting a second one.
//! - A worker idle for `keep_alive` exits only if it can decrement a positive count: some other
//!   worker is still waiting for each queued job. Otherwise a job is on its way and it waits on.
//!
//! Every decision is one atomic operation on that counter, so a submitter and an exiting worker
//! cannot both conclude that the other will take the job. The two rare decisions, starting a
//! worker and letting one exit, are also made under the lock of the workers' join handles,
//! together with the count of live workers: a submitter that finds no waiting worker and the
//! limit reached knows that every counted worker stays until it has taken a job. A job is never
//! stranded in a queue that no worker reads. The common path, a job for a waiting worker, takes
//! no lock.

use std::cell::Cell;
use std::io;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

use crate::finished::FinishSignal;
use crate::job::Job;

/// How long a worker that finished a job keeps polling the queue before it parks, unless
/// [`ThreadPoolBuilder::spin`](crate::ThreadPoolBuilder::spin) says otherwise.
///
/// A task that awaits a job usually submits its next one as soon as it resumes. A worker still
/// polling picks that job up without being woken, saving a futex wake on the submitting side
/// and the scheduler's latency on the worker's. Chosen from `run_in_executor` round trips on
/// this project's 2-core machine, one worker, the loop parked on its thread or waiting in
/// `epoll_wait` with a listener open, spins of 0, 10 and 50 µs interleaved in one process,
/// medians of 5 runs, wall time / CPU time of the whole process per round trip:
///
/// | job | quiet machine: 0 / 10 / 50 µs | both cores busy with other processes: 0 / 10 / 50 µs |
/// |---|---|---|
/// | `\|\| 1` | 24 / 3.7 / 2.7 µs wall, 19 / 4.5 / 3.5 µs CPU | 13.7 / 5.5 / 6.8 µs wall, 4.6 / 5.5 / 6.7 µs CPU |
/// | 10 µs of work | 48 / 30 / 29 µs wall, 40 / 36 / 35 µs CPU | 17.2 / 14.3 / 15.0 µs wall, 14.4 / 14.3 / 14.5 µs CPU |
/// | 1 ms of work | 1,052 / 1,037 / 1,032 µs wall, CPU equal | 1.6-1.8 ms wall for all three (other processes' share of the cores) |
///
/// A second, wider set on the quiet machine (8 processes, 3 rounds of 3,000 round trips per
/// spin in each; median, with the fastest and slowest round, and median CPU per round trip):
///
/// | job | 0 µs | 10 µs | 50 µs |
/// |---|---|---|---|
/// | `\|\| 1` | 27.5 µs (4.3–52.5), CPU 23.1 | 6.4 µs (3.8–42.5), CPU 7.6 | 6.5 µs (1.9–15.8), CPU 6.3 |
/// | 10 µs of work | 22.6 µs (14.3–57.3), CPU 20.9 | 23.4 µs (14.4–39.0), CPU 25.4 | 29.4 µs (14.3–36.1), CPU 35.6 |
///
/// The spread is where the scheduler puts the two threads. When the loop and the worker end
/// up on one CPU, each hands it to the other: `|| 1` takes about 4 µs and the 10 µs job
/// 14.4 µs, whatever the spin. When the loop must be woken on the other, idle CPU, a round trip pays that
/// CPU's wake-up, 20–40 µs on this machine. A spinning worker keeps its CPU busy, so the loop
/// always wakes on the other one: the 10 µs job steadily pays the wake-up (29 µs), but the
/// worker is there when the next job comes, which bounds the short jobs' tail (15.8 µs at
/// worst, against 42.5 and 52.5). A worker that parks at once lets the threads share a CPU in
/// about half the rounds, and pays two wake-ups per job in the others. 50 µs is kept for that
/// bound and for the first set's figures; in the report's process (more threads, a monitor
/// thread among them) the 10 µs job took 32–33 µs with 10 and with 50 µs of spin alike (two
/// runs of each, alternated). The cost is bounded: at most 50 µs of CPU after each job, so
/// about 5% of a core for a pool that gets one job per millisecond, and none while the pool
/// is idle.
///
/// The figures above are for a loop that sleeps while the job runs. An evloop loop now spins
/// for such quick wakes by default (its `Builder::idle_spin`, while the machine has a core to
/// spare), so no wake-up of an idle CPU is left in the round trip: in the report's process
/// the 10 µs job takes 15.8–16.9 µs instead of 31.8–32.5 µs (three runs of each, alternated),
/// at 27.9–28.0 µs of CPU instead of 35.8–37.2 µs.
pub(crate) const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// Queue polls between two clock reads while spinning.
const SPIN_BATCH: u32 = 32;

thread_local! {
    /// The address of the [`Shared`] of the pool this thread works for, or 0: lets a shutdown
    /// called from a job know it must not wait for its own thread.
    static WORKER_OF: Cell<usize> = const { Cell::new(0) };
}

/// What the submitters and the workers of a pool share.
pub(crate) struct Shared {
    /// The receiving side of the job queue; every worker reads from it.
    pub(crate) receiver: Receiver<Job>,
    /// Waiting workers minus queued jobs; see the module docs.
    slack: AtomicIsize,
    /// Worker threads alive (started and not yet exiting), at most `max_workers`.
    workers: AtomicUsize,
    /// Join handles of started workers; also the lock the worker-exit condition variable uses.
    threads: Mutex<Threads>,
    /// Signalled when a worker exits, for shutdowns that wait.
    exited: Condvar,
    /// Most workers alive at once.
    pub(crate) max_workers: usize,
    /// How long an idle worker waits for a job before it exits.
    keep_alive: Duration,
    /// How long a worker that finished a job polls the queue before it parks
    /// ([`DEFAULT_SPIN`] unless the builder says otherwise).
    spin: Duration,
    /// Worker `n` is named `{thread_name_prefix}-{n}`.
    thread_name_prefix: String,
    /// One slot per live worker, holding where the job it runs was submitted (`None` while it
    /// waits): each worker writes only its own slot, so the lock is uncontended but for
    /// [`running_jobs`](Self::running_jobs).
    running: Mutex<Vec<Arc<RunningSlot>>>,
}

/// Where the job a worker runs now was submitted, if it runs one.
type RunningSlot = Mutex<Option<&'static Location<'static>>>;

/// The workers' join handles.
struct Threads {
    /// Handles of workers started and not yet joined (some may have exited after
    /// `keep_alive`; they are reaped when the next worker starts, or at shutdown).
    handles: Vec<JoinHandle<()>>,
    /// The number in the next worker's name.
    next_id: u64,
    /// Whether the pool is shut down (no job can be queued any more): once no worker is left,
    /// the pool has finished.
    closed: bool,
    /// Wakers of the [`Finished`](crate::Finished) futures waiting for the pool to finish.
    finish_wakers: Vec<Waker>,
}

impl Shared {
    /// State for a pool without workers.
    pub(crate) fn new(
        receiver: Receiver<Job>,
        max_workers: usize,
        keep_alive: Duration,
        spin: Duration,
        thread_name_prefix: String,
    ) -> Self {
        Shared {
            receiver,
            slack: AtomicIsize::new(0),
            workers: AtomicUsize::new(0),
            threads: Mutex::new(Threads {
                handles: Vec::new(),
                next_id: 0,
                closed: false,
                finish_wakers: Vec::new(),
            }),
            exited: Condvar::new(),
            max_workers,
            keep_alive,
            spin,
            thread_name_prefix,
            running: Mutex::new(Vec::new()),
        }
    }

    /// Where the jobs running now were submitted.
    pub(crate) fn running_jobs(&self) -> Vec<&'static Location<'static>> {
        let slots = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        slots
            .iter()
            .filter_map(|slot| *slot.lock().unwrap_or_else(PoisonError::into_inner))
            .collect()
    }

    /// Worker threads alive now.
    pub(crate) fn workers(&self) -> usize {
        self.workers.load(SeqCst)
    }

    /// Accounts for one more queued job, and starts a worker for it if none is waiting and
    /// fewer than `max_workers` are alive.
    ///
    /// # Errors
    ///
    /// The operating system's error if a worker was needed, could not start, and no worker is
    /// alive to take the job later. The job's accounting is then undone: the caller must not
    /// queue it.
    pub(crate) fn reserve_worker(self: &Arc<Self>) -> io::Result<()> {
        if self.slack.fetch_sub(1, SeqCst) > 0 {
            return Ok(()); // a waiting worker will take it
        }
        let mut threads = self.lock_threads();
        let alive = self.workers.load(SeqCst);
        if alive >= self.max_workers {
            return Ok(()); // at the limit: a busy worker takes it when it finishes its own
        }
        match self.spawn_worker(&mut threads) {
            Ok(()) => {
                self.workers.store(alive + 1, SeqCst);
                self.slack.fetch_add(1, SeqCst); // the new worker waits for a job
                Ok(())
            }
            Err(_) if alive > 0 => Ok(()), // an existing worker takes it when it is free
            Err(error) => {
                self.slack.fetch_add(1, SeqCst);
                Err(error)
            }
        }
    }

    /// Gives back the accounting of [`reserve_worker`](Self::reserve_worker) for a job that
    /// was not queued after all. A worker it started stays, idle, until `keep_alive`.
    pub(crate) fn unreserve(&self) {
        self.slack.fetch_add(1, SeqCst);
    }

    /// Starts a worker thread (the caller counts it).
    fn spawn_worker(self: &Arc<Self>, threads: &mut Threads) -> io::Result<()> {
        // Reap the workers that exited after `keep_alive`, so the list stays as short as the
        // number of threads alive. Dropping the handle of a finished thread releases it.
        threads.handles.retain(|handle| !handle.is_finished());
        let name = format!("{}-{}", self.thread_name_prefix, threads.next_id);
        threads.next_id += 1;
        let shared = self.clone();
        let handle = thread::Builder::new()
            .name(name)
            .spawn(move || shared.work())?;
        threads.handles.push(handle);
        Ok(())
    }

    /// A worker thread's life: take a job, run it, repeat; exit after `keep_alive` without a
    /// job, or once the pool is shut down and the queue is empty.
    fn work(self: Arc<Self>) {
        WORKER_OF.with(|pool| pool.set(Arc::as_ptr(&self) as usize));
        let slot = Arc::new(RunningSlot::new(None));
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(slot.clone());
        let set_running = |location| {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = location;
        };
        while let Some(job) = self.next_job() {
            set_running(Some(job.location()));
            let mut waiting = false;
            let mut finished = || {
                self.slack.fetch_add(1, SeqCst); // counted as waiting again
                waiting = true;
            };
            // `run` catches the job's panic; this also covers the destructors of the closure's
            // output and of the waker: no panic ever ends a worker.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| job.run(&mut finished)));
            set_running(None);
            if !waiting {
                self.slack.fetch_add(1, SeqCst);
            }
        }
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|s| !Arc::ptr_eq(s, &slot));
        WORKER_OF.with(|pool| pool.set(0));
    }

    /// Waits for the next job: polls the queue for `spin`, then parks for up to
    /// `keep_alive` at a time. `None` means this worker exits (its accounting is done).
    fn next_job(&self) -> Option<Job> {
        let start = Instant::now();
        'spin: while !self.spin.is_zero() {
            for _ in 0..SPIN_BATCH {
                match self.receiver.try_recv() {
                    Ok(job) => return Some(job),
                    Err(TryRecvError::Empty) => std::hint::spin_loop(),
                    Err(TryRecvError::Disconnected) => break 'spin,
                }
            }
            if start.elapsed() >= self.spin {
                break;
            }
        }
        loop {
            match self.receiver.recv_timeout(self.keep_alive) {
                Ok(job) => return Some(job),
                Err(RecvTimeoutError::Timeout) => {
                    // Under the lock, so that a submitter that finds no waiting worker also
                    // finds this one gone from `workers`, and starts another.
                    let threads = self.lock_threads();
                    let one_less = |slack: isize| (slack > 0).then_some(slack - 1);
                    if self.slack.fetch_update(SeqCst, SeqCst, one_less).is_ok() {
                        self.exit(threads); // another worker waits for each queued job
                        return None;
                    }
                    // A job was counted but not received yet: it is on its way.
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // Shut down, and every queued job has been taken.
                    let threads = self.lock_threads();
                    self.slack.fetch_sub(1, SeqCst);
                    self.exit(threads);
                    return None;
                }
            }
        }
    }

    /// Counts the calling worker out. Under the lock, so a shutdown checking the count under
    /// it cannot miss the notification.
    fn exit(&self, mut threads: MutexGuard<'_, Threads>) {
        self.workers.fetch_sub(1, SeqCst);
        self.exited.notify_all();
        let wakers = self.finish_if_done(&mut threads);
        drop(threads);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The wakers to wake if the pool is shut down and no worker is left (under the lock).
    fn finish_if_done(&self, threads: &mut Threads) -> Vec<Waker> {
        if threads.closed && self.workers.load(SeqCst) == 0 {
            std::mem::take(&mut threads.finish_wakers)
        } else {
            Vec::new()
        }
    }

    /// Records that the pool is shut down (its queue is disconnected), waking the
    /// [`Finished`](crate::Finished) futures if no worker is left.
    pub(crate) fn close(&self) {
        let mut threads = self.lock_threads();
        threads.closed = true;
        let wakers = self.finish_if_done(&mut threads);
        drop(threads);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Joins every worker (once the queue is disconnected, they finish the queued jobs and
    /// exit), except the calling thread if it is one of them: a job that shuts down or drops
    /// its own pool must not wait for itself. That worker exits on its own after its job.
    pub(crate) fn join_workers(self: &Arc<Self>) {
        let me = thread::current().id();
        let handles = std::mem::take(&mut self.lock_threads().handles);
        for handle in handles {
            if handle.thread().id() != me {
                // Workers catch every panic, so `join` cannot return an error.
                let _ = handle.join();
            }
        }
        // A concurrent shutdown may have taken (and be joining) some of the handles: wait
        // until their workers have exited too.
        let on_worker = WORKER_OF.with(Cell::get) == Arc::as_ptr(self) as usize;
        let mut threads = self.lock_threads();
        while self.workers.load(SeqCst) > usize::from(on_worker) {
            threads = self
                .exited
                .wait(threads)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Locks the join handles; nothing panics while they are locked.
    fn lock_threads(&self) -> MutexGuard<'_, Threads> {
        self.threads.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FinishSignal for Shared {
    fn poll_finished(&self, waker: &Waker) -> Poll<()> {
        let mut threads = self.lock_threads();
        if threads.closed && self.workers.load(SeqCst) == 0 {
            return Poll::Ready(());
        }
        if !threads.finish_wakers.iter().any(|w| w.will_wake(waker)) {
            threads.finish_wakers.push(waker.clone());
        }
        Poll::Pending
    }
}

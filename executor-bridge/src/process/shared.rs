//! [`Shared`]: the state a process pool's submitters, job cells and supervisor share.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use polling::Poller;

use crate::builder::FullQueuePolicy;
use crate::error::ExecError;
use crate::finished::FinishSignal;
use crate::process::cell::{StopJob, Task};
use crate::process::link::{Link, Sent};

/// A job waiting for a worker.
pub(crate) struct Pending {
    /// The job's id (the frames' job id).
    pub(crate) id: u64,
    /// The complete [`CALL`](crate::process::frame::CALL) frame to send.
    pub(crate) frame: Vec<u8>,
    /// The job's cell.
    pub(crate) task: Arc<dyn Task>,
    /// The per-job timeout, counted from when a worker starts the job.
    pub(crate) timeout: Option<std::time::Duration>,
}

/// The largest call frame a submitter writes to a lent worker itself: far below a socket's
/// send buffer on every system (8 KiB on macOS), so the write of a call to a worker that has
/// read everything is taken whole.
const DIRECT_MAX: usize = 8 * 1024;

/// What a submitter, a handle or a worker's reader tells the supervisor about one worker
/// (by generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notice {
    /// The worker is the supervisor's again: its direct job is done and it may not be lent
    /// (jobs wait in the queue, the pool is closing, it has no calls left), or its channel
    /// broke.
    Returned(u64),
    /// The reply of the worker's direct job is the supervisor's to read: its handle was polled
    /// by an executor that does not wait for the channel, or dropped.
    Read(u64),
    /// A call sent straight to the worker did not fit the channel at once: the supervisor
    /// writes its frame from byte `written` on, and reads the reply.
    Write {
        /// The worker's generation.
        generation: u64,
        /// Bytes of the frame already written.
        written: usize,
    },
}

/// State shared between threads: submitters (any thread, including event loops), job handles
/// (cancelling, reading replies, from any thread) and the supervisor thread. Everything mutable
/// is behind the [`Inbox`] lock, held for a few instructions at a time and never across a
/// system call; each worker's own state is behind its [`Link`]'s lock, always taken after this
/// one.
pub(crate) struct Shared {
    /// Submissions and requests not yet seen by the supervisor, and the pool's status.
    inbox: Mutex<Inbox>,
    /// The supervisor's poller; [`Poller::notify`] wakes it when the inbox changes.
    pub(crate) poller: Poller,
    /// Signalled when a job leaves the pool (room for a blocked submitter) and when the pool
    /// has finished.
    changed: Condvar,
    /// The next job id; ids start at 1 (0 is the initializer's call).
    next_id: AtomicU64,
    /// The most jobs queued or running at once, if bounded.
    max_in_flight: Option<usize>,
    /// What `submit` does when `max_in_flight` jobs are in flight.
    full_policy: FullQueuePolicy,
}

/// The mutable part of [`Shared`].
#[derive(Default)]
pub(crate) struct Inbox {
    /// Jobs submitted since the supervisor last looked.
    pub(crate) jobs: VecDeque<Pending>,
    /// Idle workers lent to submitters (only while the supervisor's queue is empty). An entry
    /// may be stale (reclaimed meanwhile): its lease, checked under its lock, says so.
    pub(crate) idle: Vec<Arc<Link>>,
    /// What submitters and handles told the supervisor about workers, in order.
    pub(crate) notices: Vec<Notice>,
    /// Whether workers that finish a direct job are lent again: the supervisor's queue is
    /// empty and the pool neither closing nor broken.
    pub(crate) lending: bool,
    /// Ids of cancelled jobs: drop them if queued, kill their worker if running.
    pub(crate) stops: Vec<u64>,
    /// A shutdown request not yet seen by the supervisor: `Some(cancel_pending)`.
    pub(crate) close: Option<bool>,
    /// Whether the pool refuses new jobs (shut down).
    closed: bool,
    /// Why the pool stopped starting workers, if it did: new jobs fail with this.
    pub(crate) broken: Option<String>,
    /// Jobs submitted whose outcome the supervisor has not delivered yet.
    in_flight: usize,
    /// Threads blocked on [`Shared::changed`] (submitters waiting for room, `wait_finished`):
    /// with none, nothing needs the condition variable's wake-up.
    blocked: usize,
    /// Whether the supervisor has exited: every worker is reaped.
    finished: bool,
    /// Wakers of [`Finished`](crate::Finished) futures.
    finish_wakers: Vec<Waker>,
}

impl Inbox {
    /// Whether a worker whose direct job is done is lent again now.
    pub(crate) fn lends(&self) -> bool {
        self.lending && !self.closed && self.jobs.is_empty()
    }
}

impl Shared {
    /// The state of a new pool.
    pub(crate) fn new(
        poller: Poller,
        max_in_flight: Option<usize>,
        full_policy: FullQueuePolicy,
    ) -> Self {
        Shared {
            inbox: Mutex::new(Inbox::default()),
            poller,
            changed: Condvar::new(),
            next_id: AtomicU64::new(1),
            max_in_flight,
            full_policy,
        }
    }

    /// Tells the supervisor `notice`, and wakes it.
    pub(crate) fn notice(&self, notice: Notice) {
        self.lock().notices.push(notice);
        self.wake_supervisor();
    }

    /// Locks the inbox; nothing panics while it is held.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh job id.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Wakes the supervisor (it re-reads the inbox).
    pub(crate) fn wake_supervisor(&self) {
        // Fails only if the poller's own descriptor is gone, which outlives `self`.
        let _ = self.poller.notify();
    }

    /// Queues a job for the supervisor, or fails it at once if the pool is shut down or
    /// broken, or if the bound on jobs in flight is reached and the policy rejects.
    pub(crate) fn enqueue(&self, job: Pending) {
        let mut inbox = self.lock();
        let refusal = loop {
            if let Some(reason) = &inbox.broken {
                break Some(ExecError::StartFailed(reason.clone()));
            }
            if inbox.closed {
                break Some(ExecError::ShutDown);
            }
            match self.max_in_flight {
                Some(capacity) if inbox.in_flight >= capacity => match self.full_policy {
                    FullQueuePolicy::Block => inbox = self.block(inbox),
                    _ => break Some(ExecError::QueueFull { capacity }),
                },
                _ => break None,
            }
        };
        if let Some(error) = refusal {
            drop(inbox);
            job.task.fail(error);
            return;
        }
        inbox.in_flight += 1;
        let lent = if inbox.jobs.is_empty() && job.frame.len() <= DIRECT_MAX {
            inbox.idle.pop()
        } else {
            None
        };
        drop(inbox);
        let job = match lent {
            Some(link) => match link.send(job) {
                Sent::Whole { wake } => {
                    if wake {
                        self.wake_supervisor(); // a deadline to arm, or a worker to replace
                    }
                    return;
                }
                Sent::Part { written } => {
                    let generation = link.generation();
                    return self.notice(Notice::Write {
                        generation,
                        written,
                    });
                }
                Sent::Reclaimed(job) => job,
                Sent::Broken(job) => {
                    self.lock()
                        .notices
                        .push(Notice::Returned(link.generation()));
                    job
                }
            },
            None => job,
        };
        self.lock().jobs.push_back(job);
        self.wake_supervisor();
    }

    /// `count` jobs have left the pool (their outcome is delivered or they were dropped).
    pub(crate) fn jobs_done(&self, count: usize) {
        if count > 0 {
            let mut inbox = self.lock();
            inbox.in_flight = inbox.in_flight.saturating_sub(count);
            let blocked = inbox.blocked > 0;
            drop(inbox);
            if blocked {
                self.changed.notify_all();
            }
        }
    }

    /// Waits on [`Shared::changed`], counted in [`Inbox::blocked`].
    fn block<'a>(&self, mut inbox: MutexGuard<'a, Inbox>) -> MutexGuard<'a, Inbox> {
        inbox.blocked += 1;
        let mut inbox = self
            .changed
            .wait(inbox)
            .unwrap_or_else(PoisonError::into_inner);
        inbox.blocked -= 1;
        inbox
    }

    /// Requests a shutdown: no new job is accepted; with `cancel_pending`, queued jobs are
    /// dropped with [`ExecError::ShutDown`].
    pub(crate) fn close(&self, cancel_pending: bool) {
        let mut inbox = self.lock();
        inbox.closed = true;
        let cancel = inbox.close.unwrap_or(false) || cancel_pending;
        inbox.close = Some(cancel);
        drop(inbox);
        self.changed.notify_all(); // blocked submitters now see `closed`
        self.wake_supervisor();
    }

    /// The supervisor has exited: wakes everyone waiting for the pool to finish.
    pub(crate) fn finish(&self) {
        let wakers = {
            let mut inbox = self.lock();
            inbox.finished = true;
            inbox.closed = true;
            std::mem::take(&mut inbox.finish_wakers)
        };
        self.changed.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Blocks until the supervisor has exited.
    pub(crate) fn wait_finished(&self) {
        let mut inbox = self.lock();
        while !inbox.finished {
            inbox = self.block(inbox);
        }
    }

    /// Whether the pool accepts no more jobs, and why it stopped starting workers if it did.
    pub(crate) fn status(&self) -> (bool, Option<String>, usize) {
        let inbox = self.lock();
        (inbox.closed, inbox.broken.clone(), inbox.in_flight)
    }
}

impl StopJob for Shared {
    fn stop_job(&self, job: u64) {
        self.lock().stops.push(job);
        self.wake_supervisor();
    }
}

impl FinishSignal for Shared {
    fn poll_finished(&self, waker: &Waker) -> Poll<()> {
        let mut inbox = self.lock();
        if inbox.finished {
            return Poll::Ready(());
        }
        if !inbox.finish_wakers.iter().any(|w| w.will_wake(waker)) {
            inbox.finish_wakers.push(waker.clone());
        }
        Poll::Pending
    }
}

//! [`Link`]: what the supervisor, the submitters and the job handles share of one worker, and
//! every rule of lending it. This is the one place where a worker changes hands.
//!
//! ```text
//!                 lend / give_back                     send (first submitter)
//!   Held ────────────────────────────────► Lent ──────────────────────────► Direct(job)
//!    ▲  ▲                                   │ ▲                                │
//!    │  └──────── reclaim (supervisor) ─────┘ └──── give_back ◄── Returning ◄──┘ reply read
//!    │                                                                         (by the caller
//!    └──────────── the supervisor takes the job over: timeout, cancel, death    or the
//!                  (or dispatches a job of its queue: Held → Direct)            supervisor)
//! ```
//!
//! - **Held**: the supervisor's. It alone writes to and reads from the channel.
//! - **Lent**: idle, in the inbox's list of lent workers. The first submitter to pop it writes
//!   its call frame straight to the channel (no supervisor wake-up on the way in).
//! - **Direct**: running one job. Its [`Reader`] says who reads the reply: the job's caller
//!   (a blocking `wait`, or an event loop that watches the channel: no supervisor wake-up on
//!   the way out either), or the supervisor (for any other executor, or nobody waiting).
//! - **Returning**: the reply was read; the reader is handing the worker on (lent again if
//!   nothing waits in the supervisor's queue and the pool is open, else back to the supervisor).
//!
//! Locks: the inbox's ([`Shared`]) is always taken before a link's, never after. A link's lock
//! covers the send of a call and the reads of a reply, so whoever holds it sees a consistent
//! lease and channel: a reply is never read by two readers, and a call is recorded in the
//! lease in the same critical section that sends it, before its reply can exist.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::process::frame::{self, REPLY};
use crate::process::shared::{Inbox, Notice, Pending, Shared};
use crate::process::sys;

/// What the supervisor and the pool's submitters and handles share of one worker.
pub(crate) struct Link {
    /// The worker's generation, unique within the pool.
    generation: u64,
    /// The parent's end of the worker's channel (non-blocking).
    channel: UnixStream,
    /// The largest frame the worker may send.
    max_frame: usize,
    /// The lease, the unparsed input and the counters; see the module documentation.
    state: Mutex<LinkState>,
}

/// The mutable part of a [`Link`].
pub(crate) struct LinkState {
    /// Who may use the worker now.
    pub(crate) lease: Lease,
    /// Bytes read from the channel and not yet parsed (a reply read in several pieces, perhaps
    /// by several readers in turn).
    pub(crate) inbuf: Vec<u8>,
    /// Whether the supervisor's poller reports this channel's readability now. Only the
    /// supervisor changes it; a handle that leaves the reply to the supervisor sends it a
    /// [`Notice::Read`] when it is false.
    pub(crate) watched: bool,
    /// Calls the worker may still take before it retires (`max_tasks_per_child`), if limited.
    pub(crate) calls_left: Option<u32>,
    /// When the worker last became idle, for `idle_timeout`.
    pub(crate) idle_since: Instant,
}

/// Who may use a worker now: see the module documentation.
pub(crate) enum Lease {
    /// The supervisor's.
    Held,
    /// Idle and lent to submitters.
    Lent,
    /// Running a job.
    Direct(DirectJob),
    /// Its job's reply was just read; being handed on.
    Returning,
}

/// A job running on a worker, and who reads its reply.
pub(crate) struct DirectJob {
    /// The job as submitted; its frame is kept until the outcome, so that a worker that dies
    /// before reading all of it costs the job nothing (it runs elsewhere).
    pub(crate) job: Pending,
    /// Who reads the reply.
    pub(crate) reader: Reader,
    /// When it was sent, for its timeout.
    pub(crate) sent: Instant,
    /// Whether all of its frame was written to the channel.
    pub(crate) sent_whole: bool,
}

impl DirectJob {
    /// When it times out, and its timeout, if it has one.
    pub(crate) fn deadline(&self) -> Option<(Instant, Duration)> {
        self.job.timeout.map(|after| (self.sent + after, after))
    }
}

/// Who reads a direct job's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reader {
    /// Not decided: the first to look (the caller polling its handle, or the supervisor woken by
    /// the channel) decides.
    Undecided,
    /// The job's caller, which waits for the channel itself.
    Caller,
    /// The supervisor.
    Supervisor,
}

/// How a handle asks for its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask {
    /// From `Future::poll` or `is_done`: read what is there; if the reply is not complete and
    /// nobody decided who reads it, leave it to the supervisor.
    Poll,
    /// From a caller that will wait for the channel itself (a blocking wait, an event loop):
    /// read what is there and claim the rest.
    Claim,
}

/// What a handle's look at its reply found.
pub(crate) enum Look {
    /// The reply's payload: the job is done, and the worker is `Returning` (the caller must
    /// [`give_back`](Link::give_back) it).
    Reply(Vec<u8>),
    /// Not there yet. `claimed`: the caller reads it (it must wait for the channel); if not,
    /// the supervisor does, and `notify` says that it must be told.
    Pending {
        /// Whether the asking caller reads the reply.
        claimed: bool,
        /// Whether the supervisor must be sent [`Notice::Read`].
        notify: bool,
    },
    /// The job no longer runs on this worker (it was failed, cancelled, or sent elsewhere).
    Gone,
}

/// What a submitter's attempt to send a job to a lent worker did.
pub(crate) enum Sent {
    /// The whole call is on the channel: the job is `Direct` on this worker. `wake`: the
    /// supervisor must look (the job has a deadline, or the worker took its last call).
    Whole {
        /// Whether to wake the supervisor.
        wake: bool,
    },
    /// Part of it is: the supervisor must write the rest from byte `written` (and it reads
    /// the reply).
    Part {
        /// Bytes of the frame written.
        written: usize,
    },
    /// The supervisor reclaimed the worker between the pop and the send: the job goes to its
    /// queue.
    Reclaimed(Pending),
    /// The channel is broken (the worker hung up or is gone): the job, which it did not take,
    /// goes to the supervisor's queue, and the worker back to the supervisor.
    Broken(Pending),
}

impl Link {
    /// The link of a new worker, held by the supervisor.
    pub(crate) fn new(
        generation: u64,
        channel: UnixStream,
        max_frame: usize,
        calls_left: Option<u32>,
    ) -> Self {
        Link {
            generation,
            channel,
            max_frame,
            state: Mutex::new(LinkState {
                lease: Lease::Held,
                inbuf: Vec::new(),
                watched: false,
                calls_left,
                idle_since: Instant::now(),
            }),
        }
    }

    /// The worker's generation.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The parent's end of the channel.
    pub(crate) fn channel(&self) -> &UnixStream {
        &self.channel
    }

    /// Locks the state. Nothing panics under this lock.
    pub(crate) fn lock(&self) -> MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A submitter's attempt to send `job` to this worker, just popped from the lent list:
    /// marks the job running and writes its frame, both under this link's lock (a concurrent
    /// cancel either comes first and stops the send, or finds the job on this worker).
    pub(crate) fn send(self: &Arc<Self>, job: Pending) -> Sent {
        let mut state = self.lock();
        if !matches!(state.lease, Lease::Lent) {
            return Sent::Reclaimed(job);
        }
        let written = match sys::send(&self.channel, &job.frame) {
            Ok(written) => written,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => 0,
            Err(_) => {
                state.lease = Lease::Held;
                return Sent::Broken(job);
            }
        };
        // Nobody holds the job's handle yet (`submit` has not returned), so nobody could have
        // cancelled it.
        let started = job.task.start();
        debug_assert!(started, "a job nobody could cancel yet");
        job.task.attach(Some(self.clone()));
        let whole = written == job.frame.len();
        let mut last_call = false;
        if let Some(left) = &mut state.calls_left {
            *left = left.saturating_sub(1);
            last_call = *left == 0;
        }
        let wake = last_call || job.timeout.is_some();
        state.lease = Lease::Direct(DirectJob {
            job,
            reader: if whole {
                Reader::Undecided
            } else {
                Reader::Supervisor
            },
            sent: Instant::now(),
            sent_whole: whole,
        });
        if whole {
            Sent::Whole { wake }
        } else {
            Sent::Part { written }
        }
    }

    /// Whether the worker took its last call (it retires once that call is done).
    pub(crate) fn spent(&self) -> bool {
        self.lock().calls_left == Some(0)
    }

    /// A handle's look at the reply of job `id`: reads what the channel holds without blocking
    /// (if the asker may read it) and returns the reply once complete.
    pub(crate) fn look(&self, id: u64, ask: Ask) -> Look {
        let mut state = self.lock();
        let reader = match &mut state.lease {
            Lease::Direct(direct) if direct.job.id == id => &mut direct.reader,
            _ => return Look::Gone,
        };
        match (ask, *reader) {
            (_, Reader::Supervisor) => {
                return Look::Pending {
                    claimed: false,
                    notify: false,
                };
            }
            (Ask::Claim, Reader::Undecided) => *reader = Reader::Caller,
            _ => {}
        }
        match self.read_reply(&mut state, id) {
            Some(Ok(payload)) => {
                state.lease = Lease::Returning;
                Look::Reply(payload)
            }
            Some(Err(())) => {
                // Not a reply for this job, or the channel ended: the supervisor sorts it out.
                let notify = !state.watched;
                if let Lease::Direct(direct) = &mut state.lease {
                    direct.reader = Reader::Supervisor;
                }
                Look::Pending {
                    claimed: false,
                    notify,
                }
            }
            None => {
                let watched = state.watched;
                let Lease::Direct(direct) = &mut state.lease else {
                    unreachable!("matched above");
                };
                if direct.reader == Reader::Undecided {
                    // Nobody will wait for the channel: the supervisor reads the reply.
                    direct.reader = Reader::Supervisor;
                    Look::Pending {
                        claimed: false,
                        notify: !watched,
                    }
                } else {
                    Look::Pending {
                        claimed: true,
                        notify: false,
                    }
                }
            }
        }
    }

    /// Whether job `id` runs here and its caller reads the reply.
    pub(crate) fn is_read_by_caller(&self, id: u64) -> bool {
        matches!(&self.lock().lease,
            Lease::Direct(direct) if direct.job.id == id && direct.reader == Reader::Caller)
    }

    /// The reader of job `id` gives up reading (its handle was dropped): the supervisor reads
    /// the reply. Whether the supervisor must be told.
    pub(crate) fn abandon(&self, id: u64) -> bool {
        let mut state = self.lock();
        let watched = state.watched;
        match &mut state.lease {
            Lease::Direct(direct) if direct.job.id == id && direct.reader != Reader::Supervisor => {
                direct.reader = Reader::Supervisor;
                !watched
            }
            _ => false,
        }
    }

    /// Reads the channel until the first frame is complete, the channel is empty or it ends.
    /// `None`: nothing complete yet. `Some(Ok(payload))`: a reply for job `id`. `Some(Err(()))`:
    /// anything else (a frame the caller does not handle, a corrupt stream, end-of-file),
    /// left in `inbuf` for the supervisor.
    fn read_reply(&self, state: &mut LinkState, id: u64) -> Option<Result<Vec<u8>, ()>> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match frame::parse(&state.inbuf, self.max_frame) {
                Ok(Some((frame, used))) => {
                    if frame.kind != REPLY || frame.job != id {
                        return Some(Err(()));
                    }
                    let payload = frame.payload.to_vec();
                    state.inbuf.drain(..used);
                    return Some(Ok(payload));
                }
                Ok(None) => {}
                Err(_) => return Some(Err(())),
            }
            match (&self.channel).read(&mut chunk) {
                Ok(0) => return Some(Err(())),
                Ok(n) => state.inbuf.extend_from_slice(&chunk[..n]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return None,
                Err(_) => return Some(Err(())),
            }
        }
    }

    /// Hands a `Returning` worker on, after its reader took the reply: lent again if the pool
    /// lends (its queue is empty, it is open) and the worker has calls left, else back to the
    /// supervisor, which is told. Does nothing if the supervisor reclaimed the worker meanwhile.
    pub(crate) fn give_back(self: &Arc<Self>, shared: &Shared) {
        let mut inbox = shared.lock();
        let mut state = self.lock();
        if !matches!(state.lease, Lease::Returning) {
            return;
        }
        state.idle_since = Instant::now();
        if inbox.lends() && state.calls_left != Some(0) {
            state.lease = Lease::Lent;
            drop(state);
            inbox.idle.push(self.clone());
        } else {
            state.lease = Lease::Held;
            drop(state);
            inbox.notices.push(Notice::Returned(self.generation));
            drop(inbox);
            shared.wake_supervisor();
        }
    }

    /// The supervisor lends the worker to submitters (onto `inbox`'s list), if it holds it idle
    /// and the worker has calls left; whether it did.
    pub(crate) fn lend(self: &Arc<Self>, inbox: &mut Inbox) -> bool {
        let mut state = self.lock();
        if !matches!(state.lease, Lease::Held) || state.calls_left == Some(0) {
            return false;
        }
        state.lease = Lease::Lent;
        drop(state);
        inbox.idle.push(self.clone());
        true
    }

    /// The supervisor takes back every worker on the lent list (the pool stops lending: jobs
    /// wait in its queue, or it closes); returns the generations of those it now holds.
    pub(crate) fn take_back_lent(shared: &Shared) -> Vec<u64> {
        let lent = std::mem::take(&mut shared.lock().idle);
        lent.into_iter()
            .filter(|link| {
                let mut state = link.lock();
                let idle = matches!(state.lease, Lease::Lent);
                if idle {
                    state.lease = Lease::Held;
                }
                idle
            })
            .map(|link| link.generation)
            .collect()
    }

    /// The supervisor takes the worker back from the submitters: out of the lent list, and
    /// `Held` if it was idle. True if it is idle (now the supervisor's), false if it runs a
    /// job.
    pub(crate) fn reclaim(self: &Arc<Self>, shared: &Shared) -> bool {
        let mut inbox = shared.lock();
        if let Some(at) = inbox.idle.iter().position(|lent| Arc::ptr_eq(lent, self)) {
            inbox.idle.swap_remove(at);
        }
        let mut state = self.lock();
        drop(inbox);
        match state.lease {
            Lease::Held => true,
            Lease::Lent | Lease::Returning => {
                state.lease = Lease::Held;
                true
            }
            Lease::Direct(_) => false,
        }
    }

    /// The supervisor gives `job`, from its queue, to this idle worker (it writes the call
    /// and reads the reply itself).
    pub(crate) fn run(&self, job: Pending) {
        let mut state = self.lock();
        debug_assert!(
            matches!(state.lease, Lease::Held),
            "a job for a busy worker"
        );
        if let Some(left) = &mut state.calls_left {
            *left = left.saturating_sub(1);
        }
        state.lease = Lease::Direct(DirectJob {
            job,
            reader: Reader::Supervisor,
            sent: Instant::now(),
            sent_whole: false,
        });
    }

    /// Takes the job the worker runs out of its lease, which becomes `Held`.
    pub(crate) fn take_job(&self) -> Option<DirectJob> {
        let mut state = self.lock();
        if !matches!(state.lease, Lease::Direct(_)) {
            return None;
        }
        match std::mem::replace(&mut state.lease, Lease::Held) {
            Lease::Direct(direct) => Some(direct),
            _ => None,
        }
    }

    /// Shuts the channel down, both ways: a reader waiting for it wakes (and finds its job
    /// gone), the worker reads end-of-file. The descriptor stays open until the last clone of
    /// the link is dropped.
    pub(crate) fn shut_down(&self) {
        let _ = self.channel.shutdown(std::net::Shutdown::Both);
    }
}

impl AsFd for Link {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.channel.as_fd()
    }
}

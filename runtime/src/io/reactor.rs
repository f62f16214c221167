//! The I/O registry: sources registered with the OS poller and the tasks waiting on them.
//!
//! Every source is registered once, edge-triggered, for both directions. An edge sets the
//! direction's `ready` flag and wakes its waiters; an operation that fails with `WouldBlock`
//! clears the flag again before the task waits. Because only the loop thread touches the
//! registry, and events are only dispatched in step 3 of the cycle (never while a task runs),
//! no edge can slip between an operation's `WouldBlock` and the task registering its waker.

use std::cell::RefCell;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use slab::Slab;

use crate::io::poller::{Backend, Events, Poller};

/// A direction of I/O readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Readable (or a listener with a pending connection, or end of stream, or an error).
    Read = 0,
    /// Writable (or a finished non-blocking connect, or an error).
    Write = 1,
}

/// Refuses a regular file or a directory, which no poller can wait for (see
/// [`Reactor::register`]).
fn refuse_files(fd: BorrowedFd<'_>) -> io::Result<()> {
    let kind = rustix::fs::FileType::from_raw_mode(rustix::fs::fstat(fd)?.st_mode);
    if matches!(
        kind,
        rustix::fs::FileType::RegularFile | rustix::fs::FileType::Directory
    ) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "a regular file or directory cannot be registered with the event loop: the OS \
             cannot wait for it to become ready (read and write files with evloop::fs, which \
             runs each call on the loop's thread pool)",
        ));
    }
    Ok(())
}

/// The loop's I/O registry and its OS poller. Loop thread only (other threads reach the poller
/// through the loop's `Shared`, and only to `notify` it).
pub(crate) struct Reactor {
    /// The OS poller (epoll or kqueue).
    poller: Arc<Poller>,
    /// Whether the poller reports a peer's half-close ([`Readiness::read_closed`]), which
    /// makes [`Reactor::short_read`] safe.
    ///
    /// [`Readiness::read_closed`]: crate::io::poller::Readiness::read_closed
    reports_read_closed: bool,
    /// The loop thread's timer slack, made precise for the epoll backend's timed waits while
    /// the reactor lives (it is created and dropped on the loop thread).
    // Linux only: timer slack (prctl) and the epoll backend exist only there.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    _slack: Option<crate::io::poller::epoll::TimerSlack>,
    /// Registered sources; the key is the `key` of their poller events.
    sources: RefCell<Slab<SourceState>>,
    /// Events of the last poll, dispatched in step 3.
    events: RefCell<Events>,
}

/// Readiness of one registered source.
#[derive(Default)]
struct SourceState {
    /// Indexed by [`Dir`].
    dirs: [Direction; 2],
}

/// Readiness of one direction of a source.
#[derive(Default)]
struct Direction {
    /// An edge was reported and no operation has hit `WouldBlock` since.
    ready: bool,
    /// An operation hit `WouldBlock` (or read short) since the last edge: the next one would
    /// too, so it waits for an edge without trying.
    drained: bool,
    /// (Read direction) the peer closed its writing half: readable for ever after.
    closed: bool,
    /// Tasks waiting for the next edge; each at most once (deduplicated by `will_wake`).
    wakers: Vec<Waker>,
}

impl Reactor {
    pub(crate) fn new(poller: Arc<Poller>, events: Events) -> Self {
        let epoll = poller.backend() == Backend::Epoll;
        Reactor {
            reports_read_closed: epoll,
            // Linux: only the epoll backend's waits are subject to the thread's timer slack.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            _slack: epoll
                .then(crate::io::poller::epoll::TimerSlack::precise)
                .flatten(),
            poller,
            sources: RefCell::new(Slab::new()),
            events: RefCell::new(events),
        }
    }

    /// Whether no source is registered.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.sources.borrow().is_empty()
    }

    /// How many sources are registered.
    pub(crate) fn len(&self) -> usize {
        self.sources.borrow().len()
    }

    /// Registers `fd` for both directions, edge-triggered, and returns its key.
    ///
    /// # Errors
    ///
    /// Returns the poller's error, and `PermissionDenied` for a regular file or a directory on
    /// every system: epoll refuses them (`EPERM`) and kqueue would accept a file only to report
    /// it always ready, so neither can wait for one; the message says to use `evloop::fs`.
    ///
    /// # Safety
    ///
    /// `fd` must be [`deregister`](Self::deregister)ed with this key before it is closed:
    /// the `polling` backend requires a source to leave the poller before its descriptor is
    /// closed.
    pub(crate) unsafe fn register(&self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        refuse_files(fd)?;
        let key = self.sources.borrow_mut().insert(SourceState::default());
        // SAFETY: the caller deregisters `fd` before closing it (this function's contract).
        let added = unsafe { self.poller.add(fd, key) };
        if let Err(e) = added {
            self.sources.borrow_mut().remove(key);
            return Err(e);
        }
        Ok(key)
    }

    /// Removes `fd` from the poller and forgets its state; its waiters are dropped.
    pub(crate) fn deregister(&self, key: usize, fd: BorrowedFd<'_>) -> io::Result<()> {
        let deleted = self.poller.delete(fd);
        let state = self.sources.borrow_mut().try_remove(key);
        drop(state);
        deleted
    }

    /// Ready if an edge was seen since the last `WouldBlock`; otherwise registers the waker.
    #[inline]
    pub(crate) fn poll_ready(&self, key: usize, dir: Dir, cx: &mut Context<'_>) -> Poll<()> {
        let mut sources = self.sources.borrow_mut();
        let direction = &mut sources[key].dirs[dir as usize];
        if direction.ready {
            return Poll::Ready(());
        }
        if !direction.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            direction.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Records that an operation hit `WouldBlock` (or that the source is known to be drained):
    /// the next operation waits for the next edge.
    #[inline]
    pub(crate) fn clear_ready(&self, key: usize, dir: Dir) {
        let direction = &mut self.sources.borrow_mut()[key].dirs[dir as usize];
        direction.ready = false;
        direction.drained = true;
    }

    /// Whether `dir` of `key` is known drained: an operation would return `WouldBlock`, so it
    /// is not tried before the next edge.
    #[inline]
    pub(crate) fn is_drained(&self, key: usize, dir: Dir) -> bool {
        self.sources.borrow()[key].dirs[dir as usize].drained
    }

    /// Records that a read from a stream returned fewer bytes than asked: with an
    /// edge-triggered poller, the socket's buffer is then empty, so the next read would only
    /// return `WouldBlock` (one system call saved per read, as tokio does), unless the peer
    /// closed its side, which leaves the stream readable (end of stream) with no new edge.
    /// Only the epoll backend reports that closure; with the other, nothing is cleared.
    #[inline]
    pub(crate) fn short_read(&self, key: usize) {
        if self.reports_read_closed {
            let mut sources = self.sources.borrow_mut();
            let read = &mut sources[key].dirs[Dir::Read as usize];
            if !read.closed {
                read.ready = false;
                read.drained = true;
            }
        }
    }

    /// Waits in the OS poller until an event, the deadline (`None`: no deadline), or a
    /// notification from another thread.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.poller.wait(&mut self.events.borrow_mut(), deadline)
    }

    /// Marks the sources of the last poll's events ready and collects their waiters; returns
    /// the number of events that concerned a registered source.
    pub(crate) fn dispatch(&self, wakers: &mut Vec<Waker>) -> usize {
        let mut events = self.events.borrow_mut();
        let mut sources = self.sources.borrow_mut();
        let mut n = 0;
        events.for_each(|event| {
            // A source deregistered after the poll has no entry any more (or, if its key was
            // reused, gets a spurious wake-up, which waiters tolerate).
            let Some(source) = sources.get_mut(event.key) else {
                return;
            };
            n += 1;
            if event.read_closed {
                source.dirs[Dir::Read as usize].closed = true;
            }
            for (dir, fired) in [(Dir::Read, event.readable), (Dir::Write, event.writable)] {
                if fired {
                    let direction = &mut source.dirs[dir as usize];
                    direction.ready = true;
                    direction.drained = false;
                    wakers.append(&mut direction.wakers);
                }
            }
        });
        events.clear();
        n
    }
}

//! evloop's epoll backend (Linux): the cycle's step 2 as one system call.
//!
//! - Every source is registered once, edge-triggered, for reading, writing and the peer's
//!   half-close (`EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`).
//! - The wait is one `epoll_pwait2` with a nanosecond timeout (Linux 5.11 and later), so a
//!   1 ms sleep wakes at 1 ms, not at the next millisecond boundary. On older kernels it is
//!   `epoll_pwait` with the timeout rounded up to whole milliseconds.
//! - Other threads wake the wait through an eventfd, registered edge-triggered: a write is one
//!   system call for the waker, and the loop reads the eventfd only in the waits it fired in.
//! - The kernel lets a timed wait end late by the thread's timer slack (50 µs by default) so
//!   that wake-ups coalesce; a timerfd (what `polling` arms) has none. So that a timer fires at
//!   its deadline here too, the loop thread's slack is 1 ns while the loop lives ([`TimerSlack`]);
//!   evloop's own `Builder::timer_slack` coalesces timers where a program wants it.

use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
use rustix::event::{eventfd, EventfdFlags, Timespec};

use super::Readiness;

/// The key of the wake-up eventfd's events: no source's key (a slab index) comes near it.
const NOTIFY_KEY: u64 = u64::MAX;

/// `epoll_pwait2`'s number: the same on every architecture (system calls from 424 on are
/// numbered alike everywhere but alpha).
const SYS_EPOLL_PWAIT2: libc::c_long = 441;

/// An epoll instance with its wake-up eventfd.
#[derive(Debug)]
pub(crate) struct Epoll {
    epoll: OwnedFd,
    /// Written by [`notify`](Epoll::notify); registered in `epoll` under [`NOTIFY_KEY`].
    notifier: OwnedFd,
    /// Whether the kernel has `epoll_pwait2` (Linux 5.11+), probed once.
    pwait2: bool,
}

/// The events of one wait.
pub(crate) struct Events(Vec<Event>);

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("len", &self.0.len())
            .finish()
    }
}

impl Events {
    pub(crate) fn with_capacity(capacity: NonZeroUsize) -> Events {
        Events(Vec::with_capacity(capacity.get()))
    }

    pub(crate) fn for_each(&self, mut f: impl FnMut(Readiness)) {
        for event in &self.0 {
            let key = event.data.u64();
            if key == NOTIFY_KEY {
                continue;
            }
            let flags = event.flags;
            let closed = flags.intersects(EventFlags::RDHUP | EventFlags::HUP);
            let error = flags.contains(EventFlags::ERR);
            f(Readiness {
                key: key as usize,
                readable: closed || error || flags.intersects(EventFlags::IN | EventFlags::PRI),
                writable: error || flags.intersects(EventFlags::OUT | EventFlags::HUP),
                read_closed: closed,
            });
        }
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

impl Epoll {
    pub(crate) fn new() -> io::Result<Epoll> {
        let epoll = epoll::create(CreateFlags::CLOEXEC)?;
        let notifier = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(
            &epoll,
            &notifier,
            EventData::new_u64(NOTIFY_KEY),
            EventFlags::IN | EventFlags::ET,
        )?;
        let mut poller = Epoll {
            epoll,
            notifier,
            pwait2: true,
        };
        // A zero-timeout wait tells whether the kernel has `epoll_pwait2`.
        let mut probe = Events(Vec::with_capacity(1));
        poller.pwait2 = match poller.pwait2(&mut probe, Duration::ZERO) {
            Ok(()) => true,
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => false,
            Err(e) => return Err(e),
        };
        Ok(poller)
    }

    pub(crate) fn add(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
        let interest = EventFlags::IN | EventFlags::OUT | EventFlags::RDHUP | EventFlags::ET;
        Ok(epoll::add(
            &self.epoll,
            fd,
            EventData::new_u64(key as u64),
            interest,
        )?)
    }

    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        Ok(epoll::delete(&self.epoll, fd)?)
    }

    pub(crate) fn wait(&self, events: &mut Events, deadline: Option<Instant>) -> io::Result<()> {
        events.0.clear();
        let waited = match deadline {
            None => epoll::wait(&self.epoll, spare_capacity(&mut events.0), None)
                .map(drop)
                .map_err(io::Error::from),
            Some(deadline) => {
                let timeout = deadline.saturating_duration_since(Instant::now());
                if self.pwait2 {
                    self.pwait2(events, timeout)
                } else {
                    let timeout = timespec(timeout);
                    epoll::wait(&self.epoll, spare_capacity(&mut events.0), Some(&timeout))
                        .map(drop)
                        .map_err(io::Error::from)
                }
            }
        };
        match waited {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        if events.0.iter().any(|e| e.data.u64() == NOTIFY_KEY) {
            // Reset the counter (the edge already woke us; this keeps it from growing).
            let mut buf = [0u8; 8];
            let _ = rustix::io::read(&self.notifier, &mut buf);
        }
        Ok(())
    }

    /// One `epoll_pwait2` with `timeout`, its events appended to `events`.
    fn pwait2(&self, events: &mut Events, timeout: Duration) -> io::Result<()> {
        let timeout = timespec(timeout);
        let buf = events.0.spare_capacity_mut();
        let max = libc::c_int::try_from(buf.len()).unwrap_or(libc::c_int::MAX);
        // `epoll_pwait2(epfd, events, maxevents, timeout, sigmask, sigsetsize)` writes at most
        // `max` events into `buf`, whose `epoll_event`s rustix's `Event` lays out as the kernel
        // does (`repr(C)`, packed on x86-64); rustix's `Timespec` is the kernel's.
        // SAFETY: `buf` has room for `max` events, `timeout` outlives the call, and a null
        // signal mask leaves the thread's mask alone.
        let n = unsafe {
            libc::syscall(
                SYS_EPOLL_PWAIT2,
                self.epoll.as_raw_fd(),
                buf.as_mut_ptr(),
                max,
                std::ptr::from_ref(&timeout),
                std::ptr::null::<libc::sigset_t>(),
                0usize,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = usize::try_from(n).expect("non-negative");
        // SAFETY: the kernel initialized the first `n` events (`n <= max <= spare capacity`).
        unsafe { events.0.set_len(events.0.len() + n) };
        Ok(())
    }

    pub(crate) fn notify(&self) -> io::Result<()> {
        match rustix::io::write(&self.notifier, &1u64.to_ne_bytes()) {
            // The counter is full, so a wake-up is pending anyway.
            Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}

/// `d` as a `Timespec`.
fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

/// The calling thread's timer slack set to 1 ns, and set back when dropped (on the same
/// thread: the reactor that holds it lives and dies on the loop thread).
#[derive(Debug)]
pub(crate) struct TimerSlack {
    /// The slack before, in nanoseconds.
    before: libc::c_ulong,
}

impl TimerSlack {
    pub(crate) fn precise() -> Option<TimerSlack> {
        // SAFETY: `prctl(PR_GET_TIMERSLACK)` takes no pointer and returns the calling thread's
        // slack in nanoseconds (or -1 on failure).
        let before = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
        let before = libc::c_ulong::try_from(before).ok()?;
        // SAFETY: `prctl(PR_SET_TIMERSLACK, ns)` takes no pointer and changes only the calling
        // thread's timer slack.
        let set = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
        (set == 0).then_some(TimerSlack { before })
    }
}

impl Drop for TimerSlack {
    fn drop(&mut self) {
        // SAFETY: as in `precise`.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, self.before, 0, 0, 0) };
    }
}

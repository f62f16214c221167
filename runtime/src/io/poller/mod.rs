//! The OS multiplexer of slide 4, behind one small interface: register a descriptor, wait
//! for readiness until a deadline, wake the waiting loop from another thread.
//!
//! Two backends:
//!
//! - [`epoll`] (Linux): evloop's own, on `rustix`. It waits with one system call, with a
//!   nanosecond timeout (`epoll_pwait2`, Linux 5.11+), reads its wake-up eventfd only when
//!   another thread used it, and reports a peer's half-close (`EPOLLRDHUP`), which lets a
//!   stream skip the read that would only return `WouldBlock` after a short read.
//! - `polling` (every Unix: kqueue on macOS and the BSDs, epoll on Linux): the portable one,
//!   which re-arms a timerfd and its notifier on every wait on Linux. The default where
//!   epoll does not exist, and selectable on Linux ([`Backend`]).

// Linux: epoll exists only there.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) mod epoll;

use std::io;
use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::time::Instant;

/// Which OS poller a loop uses: [`Builder::poller`](crate::Builder::poller), or the
/// `EVLOOP_POLLER` environment variable (`epoll` or `polling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// evloop's own epoll backend (Linux only; the default there).
    Epoll,
    /// The `polling` crate: kqueue on macOS and the BSDs, epoll on Linux (the default
    /// everywhere but Linux).
    Polling,
}

impl Backend {
    /// The default for this system: [`Backend::Epoll`] on Linux, [`Backend::Polling`]
    /// elsewhere.
    pub const fn default_for_this_os() -> Backend {
        // Linux only: epoll exists only there.
        if cfg!(any(target_os = "linux", target_os = "android")) {
            Backend::Epoll
        } else {
            Backend::Polling
        }
    }

    /// The backend named `name` (`epoll` or `polling`, in any case).
    pub(crate) fn from_name(name: &str) -> Option<Backend> {
        match name.to_ascii_lowercase().as_str() {
            "epoll" => Some(Backend::Epoll),
            "polling" => Some(Backend::Polling),
            _ => None,
        }
    }
}

/// One readiness report: the source's key, and what became possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Readiness {
    /// The key the source was registered with.
    pub(crate) key: usize,
    /// Readable, or end of stream, or an error.
    pub(crate) readable: bool,
    /// Writable, or an error.
    pub(crate) writable: bool,
    /// The peer closed its writing half (or the connection is gone): a read returns what is
    /// left, then 0. Reported by the epoll backend only.
    pub(crate) read_closed: bool,
}

/// A loop's OS poller.
#[derive(Debug)]
pub(crate) enum Poller {
    // Linux only: epoll exists only there.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Epoll(epoll::Epoll),
    Polling(polling::Poller),
}

/// The events of one wait.
#[derive(Debug)]
pub(crate) enum Events {
    // Linux only: epoll exists only there.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Epoll(epoll::Events),
    Polling(polling::Events),
}

impl Poller {
    /// A poller of the given kind, and a buffer for up to `capacity` events per wait.
    ///
    /// # Errors
    ///
    /// The OS's error; `Unsupported` for [`Backend::Epoll`] where epoll does not exist, and
    /// for a `polling` backend that cannot report edges.
    pub(crate) fn new(backend: Backend, capacity: NonZeroUsize) -> io::Result<(Poller, Events)> {
        match backend {
            // Linux only: epoll exists only there.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Epoll => Ok((
                Poller::Epoll(epoll::Epoll::new()?),
                Events::Epoll(epoll::Events::with_capacity(capacity)),
            )),
            // Not Linux: no epoll here.
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            Backend::Epoll => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "evloop's epoll poller exists only on Linux; use Backend::Polling (kqueue) here",
            )),
            Backend::Polling => {
                let poller = polling::Poller::new()?;
                if !poller.supports_edge() {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        "evloop needs an edge-triggered OS poller (epoll or kqueue); this \
                         platform's has none",
                    ));
                }
                Ok((
                    Poller::Polling(poller),
                    Events::Polling(polling::Events::with_capacity(capacity)),
                ))
            }
        }
    }

    /// Which backend this is.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            // Linux only: epoll exists only there.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Poller::Epoll(_) => Backend::Epoll,
            Poller::Polling(_) => Backend::Polling,
        }
    }

    /// Registers `fd` under `key` for both directions, edge-triggered.
    ///
    /// # Safety
    ///
    /// `fd` must be [`delete`](Self::delete)d before it is closed.
    pub(crate) unsafe fn add(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
        match self {
            // Linux only: epoll exists only there.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Poller::Epoll(epoll) => epoll.add(fd, key),
            // SAFETY: the caller deletes `fd` before closing it (this function's contract),
            // which is `polling`'s requirement.
            Poller::Polling(poller) => unsafe {
                use std::os::fd::AsRawFd;
                poller.add_with_mode(
                    fd.as_raw_fd(),
                    polling::Event::all(key),
                    polling::PollMode::Edge,
                )
            },
        }
    }

    /// Removes `fd`.
    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        match self {
            // Linux only: epoll exists only there.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Poller::Epoll(epoll) => epoll.delete(fd),
            Poller::Polling(poller) => poller.delete(fd),
        }
    }

    /// Waits until an event, the deadline (`None`: none) or a [`notify`](Self::notify); the
    /// events replace those in `events`.
    pub(crate) fn wait(&self, events: &mut Events, deadline: Option<Instant>) -> io::Result<()> {
        match (self, events) {
            // Linux only: epoll exists only there.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            (Poller::Epoll(epoll), Events::Epoll(events)) => epoll.wait(events, deadline),
            (Poller::Polling(poller), Events::Polling(events)) => {
                events.clear();
                match deadline {
                    Some(deadline) => poller.wait_deadline(events, deadline),
                    None => poller.wait(events, None),
                }
                .map(drop)
            }
            #[allow(unreachable_patterns)]
            _ => unreachable!("events of another backend"),
        }
    }

    /// Wakes the thread waiting in [`wait`](Self::wait) (from any thread).
    pub(crate) fn notify(&self) -> io::Result<()> {
        match self {
            // Linux only: epoll exists only there.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Poller::Epoll(epoll) => epoll.notify(),
            Poller::Polling(poller) => poller.notify(),
        }
    }
}

impl Events {
    /// The readiness reports of the last wait.
    pub(crate) fn for_each(&self, mut f: impl FnMut(Readiness)) {
        match self {
            // Linux only: epoll exists only there.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Events::Epoll(events) => events.for_each(f),
            Events::Polling(events) => {
                for event in events.iter() {
                    f(Readiness {
                        key: event.key,
                        readable: event.readable,
                        writable: event.writable,
                        read_closed: false,
                    });
                }
            }
        }
    }

    /// Forgets the events of the last wait.
    pub(crate) fn clear(&mut self) {
        match self {
            // Linux only: epoll exists only there.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Events::Epoll(events) => events.clear(),
            Events::Polling(events) => events.clear(),
        }
    }
}

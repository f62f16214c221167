//! [`ExitWatch`]: how the supervisor learns that a worker process has exited, without a
//! thread per worker and without polling.

use std::io;
use std::os::fd::OwnedFd;
use std::process::Child;

use polling::Poller;

// Linux: a pidfd (pidfd_open exists nowhere else).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "exit_pidfd.rs"]
mod native;

// The systems whose poller is kqueue (polling's own list): its process filter.
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
#[path = "exit_kqueue.rs"]
mod native;

// Every other Unix (Solaris and illumos, AIX, Haiku...): nothing `polling` can wait for.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
#[path = "exit_none.rs"]
mod native;

/// What tells the supervisor's poller that one worker has exited.
///
/// The system's own notification is used where there is one: a pidfd on Linux 5.3 and later,
/// kqueue's process filter on macOS and the BSDs. It fires once the process has exited,
/// whatever its descendants hold. Elsewhere (older Linux kernels, or when the pool is told not
/// to use it, to test this path), the worker's end of its lifeline closing is the sign: that
/// happens when it exits, and only then, since nothing else holds that end; the supervisor then
/// kills the process to be sure and reaps it at once.
#[derive(Debug)]
pub(crate) struct ExitWatch {
    /// The mechanism in use.
    how: How,
}

/// The mechanisms of [`ExitWatch`].
#[derive(Debug)]
enum How {
    /// The system's own notification, registered with the poller.
    Native(native::Watch),
    /// The end-of-file of the parent's end of the lifeline, registered with the poller.
    Lifeline,
}

impl ExitWatch {
    /// Starts watching `child` with `poller`, which reports its exit under `key`: with the
    /// system's notification if `native` and the system has one, else through `lifeline` (the
    /// parent's end of the worker's lifeline).
    ///
    /// The watch must be [`stop`](Self::stop)ped before `child` is dropped or `lifeline`
    /// closed.
    ///
    /// # Errors
    ///
    /// The system's error (no descriptor left for a pidfd, the poller refused...).
    pub(crate) fn start(
        poller: &Poller,
        child: &Child,
        lifeline: &OwnedFd,
        key: usize,
        native: bool,
    ) -> io::Result<ExitWatch> {
        if native {
            if let Some(watch) = native::Watch::start(poller, child, key)? {
                return Ok(ExitWatch {
                    how: How::Native(watch),
                });
            }
        }
        // SAFETY: `lifeline` stays open until `stop`, which deletes it first (this function's
        // contract).
        unsafe { super::watch(poller, lifeline, key)? };
        Ok(ExitWatch { how: How::Lifeline })
    }

    /// Whether the event means that the process has exited. If not (the lifeline), it means
    /// that the process is exiting: the supervisor kills it to be sure before it reaps it.
    pub(crate) fn is_exact(&self) -> bool {
        matches!(self.how, How::Native(_))
    }

    /// Whether the event just reported means an exit: always with the system's notification;
    /// with the lifeline, only if it reads end-of-file (bytes that a confused worker wrote on
    /// it are read and dropped, and the worker is left alone).
    pub(crate) fn confirm(&self, lifeline: &OwnedFd) -> bool {
        match self.how {
            How::Native(_) => true,
            How::Lifeline => super::channel::at_end(lifeline),
        }
    }

    /// Stops watching. Errors are ignored: the watch may already be gone (a one-shot filter
    /// that fired).
    pub(crate) fn stop(&self, poller: &Poller, child: &Child, lifeline: &OwnedFd) {
        match &self.how {
            How::Native(watch) => watch.stop(poller, child),
            How::Lifeline => {
                let _ = poller.delete(lifeline);
            }
        }
    }
}

//! [`ExitWatch`]: how the supervisor learns that a worker process has exited, without a
//! thread per worker and without polling.

use std::io;
use std::os::fd::OwnedFd;
use std::process::Child;

use polling::Poller;

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
    /// A pidfd, readable once the process has exited; registered with the poller.
    // Linux only: pidfd_open exists nowhere else.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Pidfd(OwnedFd),
    /// kqueue's `EVFILT_PROC` with `NOTE_EXIT`, one-shot.
    // The systems whose poller is kqueue (polling's own list).
    #[cfg(any(
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    ))]
    Kqueue,
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
            if let Some(how) = native_watch(poller, child, key)? {
                return Ok(ExitWatch { how });
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
        !matches!(self.how, How::Lifeline)
    }

    /// Whether the event just reported means an exit: always with the system's notification;
    /// with the lifeline, only if it reads end-of-file (bytes that a confused worker wrote on
    /// it are read and dropped, and the worker is left alone).
    pub(crate) fn confirm(&self, lifeline: &OwnedFd) -> bool {
        match self.how {
            How::Lifeline => super::channel::at_end(lifeline),
            #[allow(unreachable_patterns)] // on systems with no native watch
            _ => true,
        }
    }

    /// Stops watching. Errors are ignored: the watch may already be gone (a one-shot filter
    /// that fired).
    pub(crate) fn stop(&self, poller: &Poller, child: &Child, lifeline: &OwnedFd) {
        match &self.how {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            How::Pidfd(pidfd) => {
                let _ = child;
                let _ = poller.delete(pidfd);
            }
            #[cfg(any(
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "netbsd",
                target_os = "openbsd",
                target_os = "dragonfly"
            ))]
            How::Kqueue => kqueue::stop(poller, child),
            How::Lifeline => {
                let _ = child;
                let _ = poller.delete(lifeline);
            }
        }
    }
}

/// The system's exit notification for `child`, registered under `key`; `None` where the
/// system has none.
// Linux: a pidfd, where the kernel has them (5.3 and later).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn native_watch(poller: &Poller, child: &Child, key: usize) -> io::Result<Option<How>> {
    use rustix::process::{pidfd_open, Pid, PidfdFlags};
    match pidfd_open(Pid::from_child(child), PidfdFlags::empty()) {
        Ok(pidfd) => {
            // SAFETY: the pidfd is owned by the `ExitWatch`, whose `stop` deletes it from the
            // poller; the supervisor stops every watch before dropping it.
            unsafe { super::watch(poller, &pidfd, key)? };
            Ok(Some(How::Pidfd(pidfd)))
        }
        Err(rustix::io::Errno::NOSYS) => Ok(None), // a kernel before 5.3
        Err(error) => Err(error.into()),
    }
}

/// The system's exit notification for `child`, registered under `key`.
// The systems whose poller is kqueue: its process filter.
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
fn native_watch(poller: &Poller, child: &Child, key: usize) -> io::Result<Option<How>> {
    Ok(kqueue::start(poller, child, key)?.then_some(How::Kqueue))
}

/// No exit notification: the lifeline alone.
// Every other Unix (Solaris and illumos, AIX, Haiku...): none that `polling` can wait for.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
fn native_watch(_: &Poller, _: &Child, _: usize) -> io::Result<Option<How>> {
    Ok(None)
}

/// kqueue's process filter, through `polling`'s kqueue extension.
// The systems whose poller is kqueue.
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
mod kqueue {
    use std::io;
    use std::process::Child;

    use polling::os::kqueue::{PollerKqueueExt, Process, ProcessOps};
    use polling::{PollMode, Poller};

    /// Registers `NOTE_EXIT` of `child` under `key`, one-shot. False if the process is already
    /// gone (`ESRCH`): its lifeline then says so.
    pub(super) fn start(poller: &Poller, child: &Child, key: usize) -> io::Result<bool> {
        // SAFETY: `child` outlives the registration: the supervisor stops the watch (or the
        // one-shot filter fired) before it reaps and drops the `Child`.
        let filter = unsafe { Process::new(child, ProcessOps::Exit) };
        match poller.add_filter(filter, key, PollMode::Oneshot) {
            Ok(()) => Ok(true),
            Err(error) if error.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error()) => {
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }

    /// Deletes the filter if it has not fired yet.
    pub(super) fn stop(poller: &Poller, child: &Child) {
        // SAFETY: only used to name the registration to delete.
        let filter = unsafe { Process::new(child, ProcessOps::Exit) };
        let _ = poller.delete_filter(filter);
    }
}

//! A worker's exit on Linux: a pidfd (Linux 5.3 and later), readable once the process has
//! exited.

use std::io;
use std::os::fd::OwnedFd;
use std::process::Child;

use polling::Poller;
use rustix::process::{pidfd_open, Pid, PidfdFlags};

/// A pidfd registered with the supervisor's poller.
#[derive(Debug)]
pub(super) struct Watch {
    /// The pidfd, owned here and deleted from the poller by [`stop`](Self::stop).
    pidfd: OwnedFd,
}

impl Watch {
    /// Opens a pidfd of `child` and registers it under `key`; `None` on a kernel without
    /// pidfds (before 5.3).
    pub(super) fn start(poller: &Poller, child: &Child, key: usize) -> io::Result<Option<Watch>> {
        match pidfd_open(Pid::from_child(child), PidfdFlags::empty()) {
            Ok(pidfd) => {
                // SAFETY: the pidfd is owned by the `Watch`, whose `stop` deletes it from the
                // poller; the supervisor stops every watch before dropping it.
                unsafe { super::super::watch(poller, &pidfd, key)? };
                Ok(Some(Watch { pidfd }))
            }
            Err(rustix::io::Errno::NOSYS) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes the pidfd from the poller (it is closed when the watch is dropped).
    pub(super) fn stop(&self, poller: &Poller, _: &Child) {
        let _ = poller.delete(&self.pidfd);
    }
}

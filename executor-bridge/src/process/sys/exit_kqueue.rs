//! A worker's exit on the systems whose poller is kqueue (macOS, the BSDs): the process filter
//! (`EVFILT_PROC` with `NOTE_EXIT`), through `polling`'s kqueue extension.

use std::io;
use std::process::Child;

use polling::os::kqueue::{PollerKqueueExt, Process, ProcessOps};
use polling::{PollMode, Poller};

/// A one-shot process filter registered with the supervisor's poller.
#[derive(Debug)]
pub(super) struct Watch;

impl Watch {
    /// Registers `NOTE_EXIT` of `child` under `key`, one-shot; `None` if the process is already
    /// gone (`ESRCH`): its lifeline then says so.
    pub(super) fn start(poller: &Poller, child: &Child, key: usize) -> io::Result<Option<Watch>> {
        // SAFETY: `child` outlives the registration: the supervisor stops the watch (or the
        // one-shot filter fired) before it reaps and drops the `Child`.
        let filter = unsafe { Process::new(child, ProcessOps::Exit) };
        match poller.add_filter(filter, key, PollMode::Oneshot) {
            Ok(()) => Ok(Some(Watch)),
            Err(error) if error.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error()) => {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Deletes the filter if it has not fired yet.
    pub(super) fn stop(&self, poller: &Poller, child: &Child) {
        // SAFETY: only used to name the registration to delete.
        let filter = unsafe { Process::new(child, ProcessOps::Exit) };
        let _ = poller.delete_filter(filter);
    }
}

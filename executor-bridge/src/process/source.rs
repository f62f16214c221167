//! [`ReplySource`]: the descriptor on which a process-pool job's reply arrives, for callers
//! that wait for it themselves.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use crate::process::link::Link;
use crate::process::sys;

/// The channel on which a process-pool job's reply arrives, for an executor with its own I/O
/// reactor: it becomes readable when the reply (or part of it) is there, or when the job ends
/// another way (cancelled, timed out, its worker died).
///
/// [`Handle::poll_claim`](crate::Handle::poll_claim) returns `Pending` and makes
/// [`Handle::reply_source`](crate::Handle::reply_source) give one when the job runs on a worker
/// whose reply the caller reads itself: wait until it is readable, then poll again. This takes
/// the pool's supervisor thread off the job's way back; evloop's `run_in_process` and
/// [`Handle::wait`](crate::Handle::wait) do it. The descriptor stays open while any clone
/// lives; register it with a reactor only while the job is pending, and never read it.
#[derive(Clone)]
pub struct ReplySource {
    /// The worker's link, which owns the channel.
    link: Arc<Link>,
}

impl ReplySource {
    /// The source of the reply arriving on `link`'s channel.
    pub(crate) fn new(link: Arc<Link>) -> Self {
        ReplySource { link }
    }

    /// Blocks until the channel is readable or `timeout` has passed.
    pub(crate) fn wait_readable(&self, timeout: Option<std::time::Duration>) {
        sys::wait_readable(&*self.link, timeout);
    }

    /// Whether `other` is the same channel.
    pub fn same_as(&self, other: &ReplySource) -> bool {
        Arc::ptr_eq(&self.link, &other.link)
    }
}

impl AsFd for ReplySource {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.link.as_fd()
    }
}

impl fmt::Debug for ReplySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplySource")
            .field("worker", &self.link.generation())
            .finish()
    }
}

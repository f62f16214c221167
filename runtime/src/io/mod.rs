//! I/O: the loop's I/O registry ([`reactor::Reactor`], the OS poller) and [`async_fd::Async`],
//! the non-blocking descriptor that waits on it.

pub(crate) mod async_fd;
pub(crate) mod poller;
pub(crate) mod reactor;

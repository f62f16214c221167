//! The process pool's OS layer: every system call of the pool that `std` does not make for it,
//! behind a small API that is the same on every Unix.
//!
//! The code above this module (the supervisor, the worker's serve loop, spawning) never names
//! `rustix` or `polling`'s platform extensions; where systems differ, the difference is decided
//! here, once, with the reason on its `#[cfg]`.
//!
//! | concern | Linux | macOS, iOS | FreeBSD and the other BSDs |
//! |---|---|---|---|
//! | channels ([`stream_pair`]) | `socketpair(SOCK_CLOEXEC)` | `socketpair`, then `FD_CLOEXEC` and `SO_NOSIGPIPE` | `socketpair(SOCK_CLOEXEC)` |
//! | sends that never raise `SIGPIPE` ([`send`]) | `MSG_NOSIGNAL` | `SO_NOSIGPIPE` (set at creation) | `MSG_NOSIGNAL` |
//! | a worker's exit ([`ExitWatch`]) | a pidfd (5.3+), else the lifeline | kqueue `EVFILT_PROC` | kqueue `EVFILT_PROC` |
//! | the worker's watch on its parent ([`watch_parent`]) | the lifeline's end-of-file, on a thread | the same | the same |
//! | signal names ([`signal_name`]) | the platform's constants | the same | the same |
//! | threads ready to run ([`runnable_threads`]) | `/proc/loadavg` | unknown | unknown |
//! | the worker's receipt ([`Receipt`]) | `memfd_create` | `shm_open`, unlinked at once | `memfd_create` (FreeBSD), `shm_open` (the others) |
//!
//! Each worker has two socket pairs with the pool: its **channel** (frames both ways) and its
//! **lifeline**, on which nothing is ever written: each side sees the other's death as the
//! lifeline's end-of-file, because only the two processes hold its ends (both close-on-exec, so
//! no program either of them starts inherits one). It also shares one word of memory with the
//! pool, its **receipt**: the id of the last call it took, by which the pool tells a call a
//! dead worker may have run from one it never ran.
#![allow(unsafe_code)] // registrations with the poller, the `pre_exec` hook, kqueue's process filter, the receipt's mapping

mod channel;
mod exit;
mod lifeline;
mod load;
mod receipt;
mod signal;

pub(crate) use self::channel::{
    inherit, peek_nonblocking, send, set_cloexec, set_nonblocking, stream_pair, wait_readable,
};
pub(crate) use self::exit::ExitWatch;
pub(crate) use self::lifeline::watch_parent;
pub use self::load::runnable_threads;
pub(crate) use self::receipt::Receipt;
pub(crate) use self::signal::signal_name;

use std::io;
use std::os::fd::{AsFd, AsRawFd};

use polling::{Event, PollMode, Poller};

/// Registers `fd` with `poller`, level-triggered, for readability (and writability with
/// `write`) under `key`.
///
/// # Errors
///
/// The poller's error.
///
/// # Safety
///
/// `fd` must be deleted from `poller` ([`Poller::delete`]) before it is closed: `polling`
/// requires it.
pub(crate) unsafe fn watch(poller: &Poller, fd: &impl AsFd, key: usize) -> io::Result<()> {
    let raw = fd.as_fd().as_raw_fd();
    // SAFETY: the caller deletes `fd` before closing it (this function's contract).
    unsafe { poller.add_with_mode(raw, Event::readable(key), PollMode::Level) }
}

/// Changes what `poller` reports for `fd`, registered by [`watch`]: readability if `read`,
/// writability if `write`, nothing if neither.
///
/// # Errors
///
/// The poller's error.
pub(crate) fn rewatch(
    poller: &Poller,
    fd: &impl AsFd,
    key: usize,
    read: bool,
    write: bool,
) -> io::Result<()> {
    let interest = match (read, write) {
        (true, true) => Event::all(key),
        (true, false) => Event::readable(key),
        (false, true) => Event::writable(key),
        (false, false) => Event::none(key),
    };
    poller.modify_with_mode(fd, interest, PollMode::Level)
}

/// Whether `error` is the system's "no file descriptor left in this process" (`EMFILE`).
pub(crate) fn is_out_of_descriptors(error: &io::Error) -> bool {
    error.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error())
}

/// Whether `error` is the system's "the open-file table is full" (`ENFILE`).
pub(crate) fn is_file_table_full(error: &io::Error) -> bool {
    error.raw_os_error() == Some(rustix::io::Errno::NFILE.raw_os_error())
}

/// Whether `error` is `fork`'s "no process can be made now" (`EAGAIN`: a process limit).
pub(crate) fn is_process_limit(error: &io::Error) -> bool {
    error.raw_os_error() == Some(rustix::io::Errno::AGAIN.raw_os_error())
}

/// Whether `error` is "out of memory" (`ENOMEM`).
pub(crate) fn is_out_of_memory(error: &io::Error) -> bool {
    error.raw_os_error() == Some(rustix::io::Errno::NOMEM.raw_os_error())
}

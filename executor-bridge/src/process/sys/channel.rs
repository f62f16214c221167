//! Socket pairs between the pool and a worker: creation, sends, reads without blocking, and
//! handing one end to the worker across `exec`.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use rustix::io::{Errno, FdFlags};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType};

/// A connected pair of Unix stream sockets, both close-on-exec, on which a write to a closed
/// peer fails with `EPIPE` instead of raising `SIGPIPE` (through [`send`]).
///
/// # Errors
///
/// The system's error (`EMFILE` when this process has no descriptor left...).
pub(crate) fn stream_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let (a, b) = socketpair_cloexec()?;
    no_sigpipe(&a)?;
    no_sigpipe(&b)?;
    Ok((a, b))
}

// Linux and the BSDs create the sockets close-on-exec atomically.
#[cfg(not(target_vendor = "apple"))]
fn socketpair_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let flags = rustix::net::SocketFlags::CLOEXEC;
    Ok(rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        flags,
        None,
    )?)
}

// Apple has no SOCK_CLOEXEC: the flag is set right after. A program that another thread
// forks and executes in between (a window of two system calls) would inherit the sockets, as
// it would inherit `std`'s own pipes on Apple.
#[cfg(target_vendor = "apple")]
fn socketpair_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let flags = rustix::net::SocketFlags::empty();
    let (a, b) = rustix::net::socketpair(AddressFamily::UNIX, SocketType::STREAM, flags, None)?;
    set_cloexec(&a)?;
    set_cloexec(&b)?;
    Ok((a, b))
}

// Apple has no MSG_NOSIGNAL: the socket itself is told never to raise SIGPIPE.
#[cfg(target_vendor = "apple")]
fn no_sigpipe(socket: &OwnedFd) -> io::Result<()> {
    Ok(rustix::net::sockopt::set_socket_nosigpipe(socket, true)?)
}

// Elsewhere each send says so (MSG_NOSIGNAL, see SEND_FLAGS).
#[cfg(not(target_vendor = "apple"))]
fn no_sigpipe(_: &OwnedFd) -> io::Result<()> {
    Ok(())
}

/// The flags of every send: no `SIGPIPE` on a closed peer.
// Linux and the BSDs: MSG_NOSIGNAL, per send.
#[cfg(not(target_vendor = "apple"))]
const SEND_FLAGS: SendFlags = SendFlags::NOSIGNAL;
/// The flags of every send: `SO_NOSIGPIPE`, set by [`stream_pair`], already says it.
// Apple: MSG_NOSIGNAL does not exist there.
#[cfg(target_vendor = "apple")]
const SEND_FLAGS: SendFlags = SendFlags::empty();

/// Sends `bytes` on a non-blocking socket of a [`stream_pair`]; returns how many it took.
/// Retries on `EINTR`.
///
/// # Errors
///
/// `WouldBlock` if none fit now; `BrokenPipe` or `ConnectionReset` if the peer is gone.
pub(crate) fn send(socket: impl AsFd, bytes: &[u8]) -> io::Result<usize> {
    loop {
        match rustix::net::send(&socket, bytes, SEND_FLAGS) {
            Err(Errno::INTR) => {}
            sent => return Ok(sent?),
        }
    }
}

/// Whether `socket` has data or end-of-file to read (or an error), without reading it and
/// without blocking.
pub(crate) fn peek_nonblocking(socket: impl AsFd) -> bool {
    let mut byte = [0u8; 1];
    let peeked = rustix::net::recv(&socket, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT);
    !matches!(peeked, Err(Errno::AGAIN | Errno::INTR))
}

/// Whether reading `socket` without blocking reaches its end (or an error); whatever bytes
/// come before are dropped.
pub(crate) fn at_end(socket: impl AsFd) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match rustix::net::recv(&socket, &mut buf, RecvFlags::DONTWAIT) {
            Ok((0, _)) => return true,
            Ok(_) | Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return false,
            Err(_) => return true,
        }
    }
}

/// Blocks until `fd` is readable (data, end-of-file or an error) or `timeout` has passed
/// (`None`: no timeout). Returns early, without error, if a signal interrupts the wait.
pub(crate) fn wait_readable(fd: impl AsFd, timeout: Option<std::time::Duration>) {
    let mut fds = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    let timeout = timeout.and_then(|t| rustix::event::Timespec::try_from(t).ok());
    let _ = rustix::event::poll(&mut fds, timeout.as_ref());
}

/// Puts `fd` in non-blocking mode.
///
/// # Errors
///
/// The system's error.
pub(crate) fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    Ok(rustix::io::ioctl_fionbio(fd, true)?)
}

/// Sets close-on-exec on `fd`.
///
/// # Errors
///
/// The system's error.
pub(crate) fn set_cloexec(fd: impl AsFd) -> io::Result<()> {
    Ok(rustix::io::fcntl_setfd(fd, FdFlags::CLOEXEC)?)
}

/// Makes the program that `command` starts inherit `fds`: close-on-exec is cleared on them
/// in the child, between `fork` and `exec`, so that no other program inherits them.
///
/// The descriptors must stay open in this process until `command` has been spawned.
pub(crate) fn inherit<const N: usize>(command: &mut Command, fds: [RawFd; N]) {
    let hand_over = move || {
        for fd in fds {
            // SAFETY: the caller keeps every descriptor of `fds` open until the command is
            // spawned, so each is open in the forked child too; it is only borrowed here.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            rustix::io::fcntl_setfd(fd, FdFlags::empty())?;
        }
        Ok(())
    };
    // SAFETY: between fork and exec only async-signal-safe operations are allowed: `hand_over`
    // makes one `fcntl` system call per descriptor (rustix issues it directly, without
    // allocating or taking a lock) and touches nothing else.
    unsafe {
        command.pre_exec(hand_over);
    }
}

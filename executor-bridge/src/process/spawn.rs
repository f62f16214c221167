//! Starting a worker process: the user's executable again, with a private channel.
#![allow(unsafe_code)] // the `pre_exec` hook that hands the channel to the worker

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

use rustix::io::FdFlags;
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use rustix::process::{Pid, PidfdFlags};

use crate::process::child::{WorkerSettings, WORKER_ENV};

/// A worker process just started, and the parent's ends of its pipes.
#[derive(Debug)]
pub(crate) struct Spawned {
    /// The process, reaped through [`Child::try_wait`] once it has exited.
    pub(crate) child: Child,
    /// The parent's end of the worker's private channel (non-blocking).
    pub(crate) channel: UnixStream,
    /// A pidfd of the process, readable once it exits; `None` where the kernel has no pidfds
    /// (before Linux 5.3), in which case the channel's end-of-file signals the death.
    pub(crate) pidfd: Option<OwnedFd>,
    /// The worker's stderr (non-blocking), kept as the tail reported when it dies.
    pub(crate) stderr: ChildStderr,
}

/// Starts `program args` as worker `generation`: stdin from `/dev/null`, stdout shared with
/// this process (so a function that prints behaves as usual), stderr piped to the pool, and a
/// socket pair whose child end the worker finds through [`WORKER_ENV`]. With `use_pidfd`, and
/// where the kernel has them, a pidfd of the process comes with it.
///
/// # Errors
///
/// The operating system's error if the socket pair, the process or its pidfd could not be
/// made (no such program, the process or descriptor limit reached...).
pub(crate) fn spawn(
    program: &Path,
    args: &[OsString],
    max_frame: usize,
    generation: u64,
    use_pidfd: bool,
) -> io::Result<Spawned> {
    // Close-on-exec on both ends: no other process started meanwhile by another thread can
    // inherit them. The worker's end loses the flag only in the worker, after the fork.
    let (ours, theirs) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    let their_fd = theirs.as_raw_fd();
    let settings = WorkerSettings {
        fd: their_fd,
        max_frame,
        generation,
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .env(WORKER_ENV, settings.to_env())
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    // Runs in the child between fork and exec: clears close-on-exec on the worker's end.
    let hand_over = move || {
        // SAFETY: `their_fd` stays open in the parent until `spawn` returns, so it is open in
        // the forked child too; it is only borrowed for this call.
        let fd = unsafe { BorrowedFd::borrow_raw(their_fd) };
        rustix::io::fcntl_setfd(fd, FdFlags::empty())?;
        Ok(())
    };
    // SAFETY: between fork and exec only async-signal-safe operations are allowed:
    // `hand_over` makes one `fcntl` system call (rustix issues it directly, without
    // allocating or taking a lock) and touches nothing else.
    unsafe {
        command.pre_exec(hand_over);
    }
    let mut child = command.spawn()?;
    drop(theirs);
    let channel = UnixStream::from(ours);
    channel.set_nonblocking(true)?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let flags = rustix::fs::fcntl_getfl(&stderr)?;
    rustix::fs::fcntl_setfl(&stderr, flags | rustix::fs::OFlags::NONBLOCK)?;
    let pid = Pid::from_child(&child);
    let pidfd = match use_pidfd.then(|| rustix::process::pidfd_open(pid, PidfdFlags::empty())) {
        None | Some(Err(rustix::io::Errno::NOSYS)) => None,
        Some(Ok(pidfd)) => Some(pidfd),
        Some(Err(error)) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(error.into());
        }
    };
    Ok(Spawned {
        child,
        channel,
        pidfd,
        stderr,
    })
}

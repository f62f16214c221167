//! Starting a worker process: the user's executable again, with its channel and its lifeline.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

use crate::process::child::{WorkerSettings, WORKER_ENV};
use crate::process::sys;

/// A worker process just started, and what the parent keeps of it.
#[derive(Debug)]
pub(crate) struct Spawned {
    /// The process, reaped through [`Child::try_wait`] once it has exited.
    pub(crate) child: Child,
    /// The parent's end of the worker's private channel (non-blocking).
    pub(crate) channel: UnixStream,
    /// The worker's end of the channel, which the parent keeps open (close-on-exec) and never
    /// reads: once the worker is dead, the bytes left on it are the part of a call the worker
    /// never read, the proof that it never ran that call.
    pub(crate) worker_end: OwnedFd,
    /// The parent's end of the worker's lifeline: nothing is written on it; its closing tells
    /// the worker that the parent is gone, and the worker's end closing tells the parent that
    /// the worker has exited (where the system has no better way).
    pub(crate) lifeline: OwnedFd,
    /// The worker's stderr (non-blocking), kept as the tail reported when it dies.
    pub(crate) stderr: ChildStderr,
}

/// Starts `program args` as worker `generation`: stdin from `/dev/null`, stdout shared with
/// this process (so a function that prints behaves as usual), stderr piped to the pool, and
/// two socket pairs (channel and lifeline) whose worker ends it finds through [`WORKER_ENV`].
/// Only the worker inherits them; it sets them close-on-exec again at once, so nothing it
/// starts inherits them either.
///
/// # Errors
///
/// The operating system's error if a socket pair or the process could not be made (no such
/// program, the process or descriptor limit reached...).
pub(crate) fn spawn(
    program: &Path,
    args: &[OsString],
    max_frame: usize,
    generation: u64,
) -> io::Result<Spawned> {
    let (ours, worker_end) = sys::stream_pair()?;
    let (lifeline, their_lifeline) = sys::stream_pair()?;
    let settings = WorkerSettings {
        fd: worker_end.as_raw_fd(),
        lifeline: their_lifeline.as_raw_fd(),
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
    sys::inherit(
        &mut command,
        [worker_end.as_raw_fd(), their_lifeline.as_raw_fd()],
    );
    let mut child = command.spawn()?;
    // Only the worker holds its end of the lifeline from now on.
    drop(their_lifeline);
    let channel = UnixStream::from(ours);
    let stderr = child.stderr.take().expect("stderr is piped");
    let nonblocking = channel
        .set_nonblocking(true)
        .and_then(|()| sys::set_nonblocking(&stderr));
    if let Err(error) = nonblocking {
        let _ = child.kill();
        let _ = child.wait();
        return Err(error);
    }
    Ok(Spawned {
        child,
        channel,
        worker_end,
        lifeline,
        stderr,
    })
}

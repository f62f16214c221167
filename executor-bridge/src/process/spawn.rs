//! Starting a worker process: the user's executable again, with its channel, its lifeline and
//! its receipt.

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
    /// The id of the last call the worker took, shared with it: once the worker is dead, it
    /// tells whether the worker could have run its last call.
    pub(crate) receipt: sys::Receipt,
    /// The parent's end of the worker's lifeline: nothing is written on it; its closing tells
    /// the worker that the parent is gone, and the worker's end closing tells the parent that
    /// the worker has exited (where the system has no better way).
    pub(crate) lifeline: OwnedFd,
    /// The worker's stderr (non-blocking), kept as the tail reported when it dies.
    pub(crate) stderr: ChildStderr,
}

/// Starts `program args` as worker `generation`: stdin from `/dev/null`, stdout shared with
/// this process (so a function that prints behaves as usual), stderr piped to the pool, and
/// two socket pairs (channel and lifeline) and a receipt, which it finds through
/// [`WORKER_ENV`]. Only the worker inherits them; it sets them close-on-exec again at once (the
/// receipt it closes once mapped), so nothing it starts inherits them either.
///
/// # Errors
///
/// The operating system's error if a socket pair, the receipt or the process could not be
/// made (no such program, the process or descriptor limit reached...).
pub(crate) fn spawn(
    program: &Path,
    args: &[OsString],
    max_frame: usize,
    generation: u64,
) -> io::Result<Spawned> {
    let (ours, worker_end) = sys::stream_pair()?;
    let (lifeline, their_lifeline) = sys::stream_pair()?;
    let (receipt, their_receipt) = sys::Receipt::create()?;
    let settings = WorkerSettings {
        fd: worker_end.as_raw_fd(),
        lifeline: their_lifeline.as_raw_fd(),
        receipt: their_receipt.as_raw_fd(),
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
        [
            worker_end.as_raw_fd(),
            their_lifeline.as_raw_fd(),
            their_receipt.as_raw_fd(),
        ],
    );
    let mut child = command.spawn()?;
    // Only the worker holds its ends of the channel and the lifeline from now on (a parent
    // holding either would hide the worker's death); the receipt stays mapped here.
    drop((worker_end, their_lifeline, their_receipt));
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
        receipt,
        lifeline,
        stderr,
    })
}

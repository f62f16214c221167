//! The worker's side of its lifeline: a thread that ends the worker when the pool's process
//! dies.

use std::io;
use std::os::fd::OwnedFd;

use rustix::io::Errno;
use rustix::process::{getpid, kill_process, Signal};

/// Starts a thread that blocks reading `lifeline` (the worker's end; nothing is ever written
/// on it) and kills this process with `SIGKILL` as soon as the read ends: the parent's end
/// closed, which happens when the parent process dies, however it dies.
///
/// The job's own thread need not notice anything, whatever it is doing. `SIGKILL` rather than
/// an orderly exit: an exit would run destructors and flush buffers that the job's thread may
/// hold locked, and nobody is left to read what the worker would write.
///
/// # Errors
///
/// The system's error if the thread cannot be started.
pub(crate) fn watch_parent(lifeline: OwnedFd) -> io::Result<()> {
    std::thread::Builder::new()
        .name("evloop-lifeline".to_owned())
        .spawn(move || {
            let mut byte = [0u8; 1];
            loop {
                match rustix::io::read(&lifeline, &mut byte) {
                    Ok(0) => break, // the parent's end closed: it is dead
                    Ok(_) => {}     // never written to; ignored
                    Err(Errno::INTR) => {}
                    Err(_) => break, // no way left to know: treat as the parent's death
                }
            }
            let _ = kill_process(getpid(), Signal::KILL);
        })?;
    Ok(())
}

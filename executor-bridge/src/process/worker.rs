//! [`Worker`]: the supervisor's record of one worker process: the process and its
//! descriptors, where it is in its life, what the supervisor still has to write to it, and
//! the tail of its stderr. Owned by the supervisor thread alone; what others share of a worker
//! is its [`Link`].

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStderr, ExitStatus};
use std::sync::Arc;
use std::time::Instant;

use polling::Poller;

use crate::process::link::{DirectJob, Lease, Link};
use crate::process::spawn::Spawned;
use crate::process::sys::{self, ExitWatch};

/// Poller key source: the worker's channel.
pub(crate) const CHANNEL: usize = 0;
/// Poller key source: the worker's exit watch.
pub(crate) const EXIT: usize = 1;
/// Poller key source: the worker's stderr.
pub(crate) const STDERR: usize = 2;

/// The generation and source of a poller key (`generation << 2 | source`).
pub(crate) fn split_key(key: usize) -> (u64, usize) {
    ((key >> 2) as u64, key & 3)
}

/// Where a worker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Started; its hello has not arrived.
    Starting,
    /// Said hello; running the initializer.
    Initializing,
    /// Serving: its link's lease says whether it is idle, lent or running a job.
    Ready,
    /// Told to exit (channel closed) or killed: only its exit is awaited.
    Closing,
}

/// One worker process, as the supervisor sees it.
pub(crate) struct Worker {
    /// Unique within the pool; the high bits of its poller keys.
    pub(crate) generation: u64,
    /// The process; reaped once its exit watch fires.
    child: Child,
    /// What submitters and handles share of the worker: its channel and lease.
    pub(crate) link: Arc<Link>,
    /// Whether the channel is registered with the poller and not shut down.
    pub(crate) open: bool,
    /// The id of the last call the worker took, which it writes before running a call.
    receipt: sys::Receipt,
    /// The parent's end of the lifeline: the worker dies with its closing (this process's
    /// death), and its end-of-file is the exit watch where the system has no other.
    lifeline: OwnedFd,
    /// What tells the poller that the process exited.
    pub(crate) exit: ExitWatch,
    /// The stderr pipe, registered with the poller; `None` after its end-of-file.
    stderr: Option<ChildStderr>,
    /// The last bytes the worker wrote to stderr.
    tail: VecDeque<u8>,
    /// Bytes the supervisor has to write to the channel, from `written` on.
    outbuf: Vec<u8>,
    /// Bytes of `outbuf` already written.
    written: usize,
    /// What the poller reports of the channel now: (readable, writable).
    interest: (bool, bool),
    /// Whether the supervisor watches the channel while the worker is lent: true until a
    /// caller read a reply itself (the supervisor then keeps out of the way, so that a round
    /// trip wakes no supervisor), true again once a handle leaves a reply to the supervisor.
    pub(crate) watch_when_lent: bool,
    /// Where the worker is in its life.
    pub(crate) phase: Phase,
    /// Deadline of `Starting`/`Initializing`, or of the exit of a closing worker.
    pub(crate) deadline: Option<Instant>,
    /// Whether it takes no more jobs (its last call is given) and its replacement is counted.
    pub(crate) retiring: bool,
    /// Why the pool killed it, if it did.
    pub(crate) killed: Option<&'static str>,
}

impl Worker {
    /// The record of a worker just started as `generation`: registers its channel, stderr and
    /// exit watch with `poller` (the exit natively if `native` and the system can).
    ///
    /// # Errors
    ///
    /// The system's error if a registration failed; the process is then killed and reaped.
    #[allow(unsafe_code)] // the poller's registrations
    pub(crate) fn new(
        spawned: Spawned,
        generation: u64,
        poller: &Poller,
        native: bool,
        deadline: Instant,
        (max_frame, calls_left): (usize, Option<u32>),
    ) -> io::Result<Worker> {
        let Spawned {
            mut child,
            channel,
            receipt,
            lifeline,
            stderr,
        } = spawned;
        let link = Link::new(generation, channel, max_frame, calls_left);
        let key = (generation as usize) << 2;
        let exit = match ExitWatch::start(poller, &child, &lifeline, key | EXIT, native) {
            Ok(exit) => exit,
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(error);
            }
        };
        let mut worker = Worker {
            generation,
            child,
            link: Arc::new(link),
            open: false,
            receipt,
            lifeline,
            exit,
            stderr: None,
            tail: VecDeque::new(),
            outbuf: Vec::new(),
            written: 0,
            interest: (false, false),
            watch_when_lent: true,
            phase: Phase::Starting,
            deadline: Some(deadline),
            retiring: false,
            killed: None,
        };
        // The channel (owned by the link, which this record keeps alive) and stderr are
        // deleted from the poller before they can be closed: `close_channel` and `forget` for
        // the channel, `read_stderr` at end-of-file and `forget` for stderr; the supervisor
        // forgets every worker before dropping it.
        // SAFETY: so neither is closed while registered.
        let registered = unsafe { sys::watch(poller, worker.link.channel(), key | CHANNEL) };
        if registered.is_ok() {
            worker.open = true;
            worker.interest.0 = true;
            worker.link.lock().watched = true;
        }
        let registered = match registered {
            // SAFETY: stderr is deleted before it is closed, as above.
            Ok(()) => unsafe { sys::watch(poller, &stderr, key | STDERR) },
            Err(error) => Err(error),
        };
        worker.stderr = Some(stderr);
        if let Err(error) = registered {
            worker.kill();
            worker.exit_status();
            worker.forget(poller);
            return Err(error);
        }
        Ok(worker)
    }

    /// The worker's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process (`SIGKILL`). Does nothing if it was already reaped.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill(); // fails only if reaped, which `Child` knows
    }

    /// Reaps the process, once its exit watch fired (or it was killed), and returns how it
    /// ended. With only the lifeline as exit watch, which says that the worker is exiting, not
    /// that it exited, it is killed first, so the wait cannot block.
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        if !self.exit.is_exact() {
            self.kill();
        }
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status),
            Ok(None) => self.child.wait().ok(), // it exited or was killed: no real wait
            Err(_) => None,
        }
    }

    /// The poller key of one of its sources.
    pub(crate) fn key(&self, source: usize) -> usize {
        (self.generation as usize) << 2 | source
    }

    /// Whether it counts toward `max_workers`: it may still take jobs.
    pub(crate) fn counts(&self) -> bool {
        !self.retiring && self.open && self.phase != Phase::Closing
    }

    /// Whether the exit just reported is real (see [`ExitWatch::confirm`]).
    pub(crate) fn exited(&self) -> bool {
        self.exit.confirm(&self.lifeline)
    }

    /// Makes the poller report the channel's readability if `read` (and its writability while
    /// there is something to write), recording in the link whether the supervisor watches.
    pub(crate) fn watch_reads(&mut self, poller: &Poller, read: bool) {
        self.set_interest(poller, read, self.written < self.outbuf.len());
    }

    /// Changes what the poller reports of the channel, if it differs.
    fn set_interest(&mut self, poller: &Poller, read: bool, write: bool) {
        if !self.open || self.interest == (read, write) {
            return;
        }
        let key = self.key(CHANNEL);
        if sys::rewatch(poller, self.link.channel(), key, read, write).is_ok() {
            self.interest = (read, write);
            self.link.lock().watched = read;
        }
    }

    /// Queues `bytes` for the channel and writes what the socket takes.
    ///
    /// # Errors
    ///
    /// The socket's error if the worker is gone or going (its exit watch reports how).
    pub(crate) fn send(&mut self, poller: &Poller, bytes: &[u8]) -> io::Result<()> {
        self.outbuf.extend_from_slice(bytes);
        self.flush(poller)
    }

    /// Writes the pending output until done or the socket is full; once all of a job's call is
    /// written, its lease records it.
    ///
    /// # Errors
    ///
    /// The socket's error if the worker is gone or going.
    pub(crate) fn flush(&mut self, poller: &Poller) -> io::Result<()> {
        if !self.open {
            return Ok(());
        }
        let queued = !self.outbuf.is_empty();
        let mut failed = None;
        while self.written < self.outbuf.len() {
            match sys::send(self.link.channel(), &self.outbuf[self.written..]) {
                Ok(n) => self.written += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            }
        }
        if queued && self.written == self.outbuf.len() {
            self.outbuf.clear();
            self.written = 0;
            if let Lease::Direct(direct) = &mut self.link.lock().lease {
                direct.sent_whole = true;
            }
        }
        let write = !self.outbuf.is_empty() && failed.is_none();
        self.set_interest(poller, self.interest.0, write);
        failed.map_or(Ok(()), Err)
    }

    /// Reads what the channel holds into the link's input buffer and takes that buffer;
    /// whether the channel ended (end-of-file or an error) comes with it. The caller gives
    /// back what it did not use with [`restore_input`](Self::restore_input).
    pub(crate) fn take_input(&mut self, scratch: &mut [u8]) -> (Vec<u8>, bool) {
        let mut state = self.link.lock();
        let mut eof = false;
        loop {
            match self.link.channel().read(scratch) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    state.inbuf.extend_from_slice(&scratch[..n]);
                    if n < scratch.len() {
                        // All there was: the channel is watched level-triggered, so anything
                        // that arrives later (end-of-file too) is reported by the next wait.
                        break;
                    }
                }
                Err(error) => match error.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock => break,
                    _ => {
                        eof = true;
                        break;
                    }
                },
            }
        }
        (std::mem::take(&mut state.inbuf), eof)
    }

    /// Puts back the part of the input not used yet (an incomplete frame), before anything read
    /// since.
    pub(crate) fn restore_input(&mut self, mut unused: Vec<u8>) {
        if unused.is_empty() {
            return;
        }
        let mut state = self.link.lock();
        unused.extend_from_slice(&state.inbuf);
        state.inbuf = unused;
    }

    /// Stops reading and writing the channel: deletes it from the poller and shuts it down (the
    /// worker reads end-of-file; a caller waiting for a reply wakes). Whether anything queued
    /// for the worker was left unwritten.
    pub(crate) fn close_channel(&mut self, poller: &Poller) -> bool {
        let unsent = self.written < self.outbuf.len();
        self.outbuf.clear();
        self.written = 0;
        if self.open {
            self.open = false;
            let _ = poller.delete(self.link.channel());
            self.link.lock().watched = false;
            self.link.shut_down();
        }
        unsent
    }

    /// Reads the worker's stderr into its tail (and copies it to this process's stderr if
    /// `forward`), keeping the last `keep` bytes.
    pub(crate) fn read_stderr(&mut self, poller: &Poller, forward: bool, keep: usize) {
        let Some(stderr) = &mut self.stderr else {
            return;
        };
        let mut buf = [0; 4096];
        let eof = loop {
            match stderr.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => {
                    if forward {
                        let _ = io::stderr().write_all(&buf[..n]);
                    }
                    self.tail.extend(&buf[..n]);
                    let excess = self.tail.len().saturating_sub(keep);
                    self.tail.drain(..excess);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                // Any error but `WouldBlock` ends the pipe for us.
                Err(error) => break error.kind() != io::ErrorKind::WouldBlock,
            }
        };
        if eof {
            if let Some(stderr) = self.stderr.take() {
                let _ = poller.delete(&stderr);
            }
        }
    }

    /// The kept stderr tail, as text.
    pub(crate) fn stderr_tail(&self) -> String {
        let (a, b) = self.tail.as_slices();
        let mut bytes = a.to_vec();
        bytes.extend_from_slice(b);
        String::from_utf8_lossy(&bytes).trim_end().to_owned()
    }

    /// Whether the worker, now dead, had taken `direct`: its receipt holds the job's id. A
    /// worker writes it after reading the whole call and before running it, so a job whose id
    /// is not there never ran.
    pub(crate) fn took(&self, direct: &DirectJob) -> bool {
        direct.sent_whole && self.receipt.last() == direct.job.id
    }

    /// Deletes every descriptor of the worker still registered with `poller`, before the
    /// record is dropped.
    pub(crate) fn forget(&mut self, poller: &Poller) {
        if self.open {
            self.open = false;
            let _ = poller.delete(self.link.channel());
        }
        self.exit.stop(poller, &self.child, &self.lifeline);
        if let Some(stderr) = self.stderr.take() {
            let _ = poller.delete(&stderr);
        }
    }
}

/// "worker 123 was killed by signal 9 (SIGKILL)", "worker 123 exited with status 3"...
pub(crate) fn describe(pid: u32, status: Option<ExitStatus>, killed: Option<&str>) -> String {
    let mut text = match status {
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("worker {pid} exited with status {code}"),
            (None, Some(signal)) => match sys::signal_name(signal) {
                Some(name) => format!("worker {pid} was killed by signal {signal} ({name})"),
                None => format!("worker {pid} was killed by signal {signal}"),
            },
            _ => format!("worker {pid} ended ({status})"),
        },
        None => format!("worker {pid} ended (its status could not be read)"),
    };
    if let Some(why) = killed {
        let _ = write!(text, "; the pool killed it because {why}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deaths_are_described_with_the_status_or_the_signal_and_why_the_pool_killed() {
        let exited = ExitStatus::from_raw(3 << 8);
        assert_eq!(
            describe(42, Some(exited), None),
            "worker 42 exited with status 3"
        );
        let kill = rustix::process::Signal::KILL.as_raw();
        assert_eq!(
            describe(
                42,
                Some(ExitStatus::from_raw(kill)),
                Some("its job timed out")
            ),
            format!(
                "worker 42 was killed by signal {kill} (SIGKILL); the pool killed it because \
                 its job timed out"
            )
        );
        let bus = rustix::process::Signal::BUS.as_raw();
        assert_eq!(
            describe(7, Some(ExitStatus::from_raw(bus)), None),
            format!("worker 7 was killed by signal {bus} (SIGBUS)")
        );
        assert!(describe(7, None, None).contains("could not be read"));
    }

    #[test]
    fn poller_keys_carry_the_generation_and_the_source() {
        for generation in [1u64, 2, 1 << 40] {
            for source in [CHANNEL, EXIT, STDERR] {
                let key = (generation as usize) << 2 | source;
                assert_eq!(split_key(key), (generation, source));
            }
        }
    }
}

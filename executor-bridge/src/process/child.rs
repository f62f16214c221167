//! Worker mode: what a worker process does once [`init`] finds that it is one.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::panic::{self, AssertUnwindSafe};
use std::process;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::panic_message;
use crate::process::frame::{self, Bytes, Call, Hello, Reply, CALL, HELLO, PROTOCOL, REPLY};
use crate::process::function::{CallError, Registry};
use crate::process::sys;

/// The environment variable that makes a process a worker. Its value,
/// `fd=<n>,lifeline=<n>,receipt=<n>,max=<bytes>,generation=<g>`, names the worker's ends of its
/// channel and of its lifeline, its receipt, the maximum frame size, and the generation the
/// pool gave the worker.
pub(crate) const WORKER_ENV: &str = "EVLOOP_PROCESS_WORKER";

/// Set once [`init`] has run in this process (in either mode).
static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Turns this process into a process-pool worker if it was started as one, and does nothing
/// otherwise. Call it **first thing in `main`** of every program that builds a
/// [`ProcessPool`](crate::ProcessPool), with the function building the program's
/// [`Registry`].
///
/// A pool starts its workers by running the program's own executable again with the
/// environment variable `EVLOOP_PROCESS_WORKER` set. In such a process, `init` never returns:
/// it builds the registry, serves calls on the private channel the pool gave it, and exits
/// when the pool closes that channel. In any other process it returns at once (without
/// calling `registry`).
///
/// **Everything `main` does before this call also runs in every worker**, each time one
/// starts: keep it to nothing, or to what workers need too (logging set-up, say).
///
/// - In a binary or an example: `init(functions)` as the first line of `main`.
/// - In a criterion bench (`harness = false`): a hand-written `main` calling `init` before
///   criterion's group functions, instead of `criterion_main!`.
/// - In an integration test, the harness's `main` is not yours: write a `#[test]` function
///   whose body is `init(functions)` (a no-op test in a normal run), and point the pool at it
///   with [`ProcessPoolBuilder::test_worker`](crate::ProcessPoolBuilder::test_worker); the
///   pool then runs the test binary filtered to that one test.
///
/// # Examples
///
/// ```
/// use evloop_bridge::process::{self, ProcessFn, Registry};
/// use evloop_bridge::ProcessPool;
///
/// const SQUARE: ProcessFn<u64, u64> = ProcessFn::new("square", |x| x * x);
///
/// fn functions() -> Registry {
///     Registry::new().register(SQUARE)
/// }
///
/// fn main() {
///     process::init(functions); // a worker never gets past this line
///     let pool = ProcessPool::builder(functions()).build().unwrap();
///     assert_eq!(pool.submit(&SQUARE, 12).wait(), Ok(144));
/// }
/// ```
pub fn init(registry: impl FnOnce() -> Registry) {
    INITIALIZED.store(true, Ordering::SeqCst);
    let Some(value) = std::env::var_os(WORKER_ENV) else {
        return;
    };
    // Not inherited by processes the worker's functions start.
    std::env::remove_var(WORKER_ENV);
    let settings = match WorkerSettings::parse(&value) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("evloop process worker: {WORKER_ENV}={value:?} is not valid: {error}");
            process::exit(2);
        }
    };
    // The pool that started this process made `fd`, `lifeline` and `receipt` the worker's
    // ends of its channel and lifeline and its receipt, and cleared their close-on-exec flags
    // for this process alone, and the variable naming them was just removed.
    #[allow(unsafe_code)]
    // SAFETY: so all three are open, and nothing else in this process owns or will claim them.
    let (channel, lifeline, receipt) = unsafe {
        (
            OwnedFd::from_raw_fd(settings.fd),
            OwnedFd::from_raw_fd(settings.lifeline),
            OwnedFd::from_raw_fd(settings.receipt),
        )
    };
    // Mapped, the receipt needs no descriptor: closing it leaves none for a job to inherit.
    let receipt = match sys::Receipt::open(&receipt) {
        Ok(mapped) => mapped,
        Err(error) => {
            eprintln!("evloop process worker: cannot map the pool's receipt ({error}); exiting");
            process::exit(3);
        }
    };
    // Nothing a job starts may inherit them: a subprocess holding the channel or the lifeline
    // would hide this worker's death from the pool.
    let watched = sys::set_cloexec(&channel)
        .and_then(|()| sys::set_cloexec(&lifeline))
        .and_then(|()| sys::watch_parent(lifeline));
    if let Err(error) = watched {
        eprintln!("evloop process worker: cannot watch the pool's process ({error}); exiting");
        process::exit(3);
    }
    let served = serve(
        UnixStream::from(channel),
        &receipt,
        &registry(),
        settings.max_frame,
        settings.generation,
    );
    let code = match served {
        Ok(()) => 0,
        // The pool closed the channel while this worker was writing: it is gone or no longer
        // wants this worker, which is no error of the worker's.
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) =>
        {
            0
        }
        Err(error) => {
            eprintln!("evloop process worker: {error}; exiting");
            3
        }
    };
    process::exit(code);
}

/// Whether [`init`] has been called in this process.
pub(crate) fn initialized() -> bool {
    INITIALIZED.load(Ordering::SeqCst)
}

/// Whether this process was started as a worker and has not called [`init`] (yet).
pub(crate) fn uninitialized_worker() -> bool {
    !initialized() && std::env::var_os(WORKER_ENV).is_some()
}

/// The exit status of a worker that built a pool before calling [`init`] (`EX_CONFIG` of
/// `sysexits.h`: a configuration error), by which its pool knows what happened.
pub(crate) const UNINITIALIZED_EXIT: i32 = 78;

/// In a worker that reached the construction of a pool without having called [`init`]: says
/// what to do on stderr, once, and exits with [`UNINITIALIZED_EXIT`]. It does not return to
/// the program, whose `unwrap` would print a panic per worker, and whose pool would start
/// workers of workers.
pub(crate) fn refuse_uninitialized() -> ! {
    eprintln!(
        "evloop process worker: {}",
        crate::error::UNINITIALIZED_WORKER
    );
    process::exit(UNINITIALIZED_EXIT)
}

/// What the pool told a worker through [`WORKER_ENV`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct WorkerSettings {
    /// The worker's end of its channel.
    pub(crate) fd: RawFd,
    /// The worker's end of its lifeline.
    pub(crate) lifeline: RawFd,
    /// The worker's receipt (a shared memory object).
    pub(crate) receipt: RawFd,
    /// The maximum frame size, in bytes.
    pub(crate) max_frame: usize,
    /// The worker's generation, unique within its pool.
    pub(crate) generation: u64,
}

impl WorkerSettings {
    /// The variable's value for these settings.
    pub(crate) fn to_env(&self) -> String {
        format!(
            "fd={},lifeline={},receipt={},max={},generation={}",
            self.fd, self.lifeline, self.receipt, self.max_frame, self.generation
        )
    }

    /// Parses the variable's value.
    fn parse(value: &OsString) -> Result<Self, String> {
        let value = value.to_str().ok_or("not UTF-8")?;
        let (mut fd, mut lifeline, mut receipt) = (None, None, None);
        let (mut max_frame, mut generation) = (None, None);
        for part in value.split(',') {
            let (key, number) = part.split_once('=').ok_or("expected key=value pairs")?;
            match key {
                "fd" => fd = number.parse().ok(),
                "lifeline" => lifeline = number.parse().ok(),
                "receipt" => receipt = number.parse().ok(),
                "max" => max_frame = number.parse().ok(),
                "generation" => generation = number.parse().ok(),
                _ => return Err(format!("unknown key {key:?}")),
            }
        }
        Ok(WorkerSettings {
            fd: fd.ok_or("no valid fd")?,
            lifeline: lifeline.ok_or("no valid lifeline")?,
            receipt: receipt.ok_or("no valid receipt")?,
            max_frame: max_frame.ok_or("no valid max")?,
            generation: generation.ok_or("no valid generation")?,
        })
    }
}

/// The worker's loop: hello, then one reply per call, until the pool closes the channel. Each
/// call's id goes to `receipt` once the call is read whole, before it runs.
fn serve(
    mut channel: UnixStream,
    receipt: &sys::Receipt,
    registry: &Registry,
    max_frame: usize,
    generation: u64,
) -> io::Result<()> {
    let mut out = Vec::new();
    let hello = Hello {
        protocol: PROTOCOL,
        fingerprint: registry.fingerprint(),
        pid: process::id(),
        generation,
    };
    frame::push(&mut out, HELLO, 0, &hello).map_err(io::Error::other)?;
    channel.write_all(&out)?;
    let mut input = Vec::new();
    let mut spin = Spin::new();
    loop {
        spin.await_briefly(&channel);
        let Some(used) = read_frame(&mut channel, &mut input, max_frame)? else {
            return Ok(()); // the pool closed the channel between calls: retire
        };
        let (frame, _) = frame::parse(&input[..used], max_frame)
            .map_err(io::Error::other)?
            .ok_or_else(|| io::Error::other("incomplete frame"))?;
        if frame.kind != CALL {
            let kind = frame.kind;
            return Err(io::Error::other(format!("unexpected frame kind {kind}")));
        }
        // Taken: from here on, a death fails the job rather than sending it to another worker
        // (a call this worker cannot decode would fail there too).
        receipt.record(frame.job);
        let call: Call<'_> = postcard::from_bytes(frame.payload)
            .map_err(|error| io::Error::other(format!("a call did not decode: {error}")))?;
        let results: Vec<_> = call
            .items
            .iter()
            .map(|args| run(registry, call.func, args.0))
            .collect();
        let replies: Vec<Reply<'_>> = results.iter().map(reply).collect();
        out.clear();
        if frame::push(&mut out, REPLY, frame.job, &replies).is_err() || out.len() > max_frame {
            let too_large = Reply::TooLarge {
                bytes: out.len() as u64,
                limit: max_frame as u64,
            };
            let replies = vec![too_large; call.items.len()];
            out.clear();
            frame::push(&mut out, REPLY, frame.job, &replies).map_err(io::Error::other)?;
        }
        channel.write_all(&out)?;
        input.drain(..used);
    }
}

/// Reads from `channel` until `input` holds one whole frame, usually in one `read`; returns
/// the frame's length, or `None` if the channel ended before any byte of a frame. The whole
/// frame is read before the worker records it as taken and runs it.
fn read_frame(
    channel: &mut UnixStream,
    input: &mut Vec<u8>,
    max_frame: usize,
) -> io::Result<Option<usize>> {
    loop {
        let wanted = match frame::parse(input, max_frame).map_err(io::Error::other)? {
            Some((_, used)) => return Ok(Some(used)),
            // The rest of an announced frame, or room for a small one.
            None => match input.get(..4) {
                Some(length) => {
                    4 + u32::from_le_bytes(length.try_into().expect("4 bytes")) as usize
                }
                None => 16 * 1024,
            },
        };
        let start = input.len();
        input.resize(start.max(wanted), 0);
        let read = channel.read(&mut input[start..]);
        input.truncate(start + read.as_ref().map_or(0, |&n| n));
        match read {
            Ok(0) if start == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// How long a worker that sent a reply polls its channel before it blocks in `read`.
///
/// A caller that awaits one job and submits the next one as soon as it resumes (a loop of
/// `submit(..).await`, a `map` window refilling) sends the next call within tens of
/// microseconds of the reply. A worker still polling takes it without being woken, which saves
/// a process wake-up (several microseconds, tens where an idle core must wake) per round trip.
/// The cost is bounded: at most this much CPU after each reply, none while the pool is idle.
const SPIN: Duration = Duration::from_micros(50);

/// How often, in replies, the worker looks at the machine's load to decide whether to spin.
const LOAD_EVERY: u32 = 64;

/// The worker's polling after each reply ([`SPIN`]), which it does only while the machine has
/// a core to spare.
///
/// On a machine whose cores are all busy (with other programs, or with the pool's other
/// workers), a worker that spins holds a core that the caller needs to run and send the next
/// call: the wait for the scheduler then costs more than the process wake-up the spin saves.
/// Measured on 2 cores busy with two other processes: a round trip of 12.2 µs with the spin
/// against 7.8 µs without (a socket-pair ping-pong between two processes took 4.6 µs), and on
/// the same machine idle, 24 µs with it against 76 µs without (waking an idle core is slow).
/// So the worker spins while the threads ready to run are no more than the cores, looked at
/// every [`LOAD_EVERY`] replies, where the system says cheaply (Linux's `/proc/loadavg`);
/// elsewhere (macOS, the BSDs) it never spins, as evloop's loop does not by default: a spin
/// that cannot see a crowded machine would take CPU time from its other programs.
struct Spin {
    /// The machine's cores (0 when unknown: the worker does not spin).
    cores: usize,
    /// Replies sent so far (wrapping).
    replies: u32,
    /// Whether the machine had more threads ready to run than cores when last looked at (or
    /// could not be looked at).
    crowded: bool,
}

impl Spin {
    /// The spin of a worker on this machine.
    fn new() -> Self {
        Spin {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            replies: 0,
            crowded: false,
        }
    }

    /// After a reply: polls the channel (without reading) until data or end-of-file arrives
    /// or [`SPIN`] passes, unless the machine is crowded.
    fn await_briefly(&mut self, channel: &UnixStream) {
        if self.replies % LOAD_EVERY == 0 {
            // Unknown (no count, or no core count) counts as crowded.
            self.crowded =
                sys::runnable_threads().is_none_or(|n| self.cores == 0 || n > self.cores);
        }
        self.replies = self.replies.wrapping_add(1);
        if self.crowded {
            return;
        }
        let start = Instant::now();
        loop {
            for _ in 0..16 {
                if sys::peek_nonblocking(channel) {
                    return; // data, end-of-file or an error: the blocking read sees it
                }
                std::hint::spin_loop();
            }
            if start.elapsed() >= SPIN {
                return;
            }
        }
    }
}

/// One item's outcome before encoding.
enum Ran {
    /// The encoded result.
    Ok(Vec<u8>),
    /// The panic message.
    Panicked(String),
    /// No function of that name.
    Unknown(String),
    /// The codec's error.
    Failed(CallError),
}

/// Calls `func` on one encoded argument, catching its panic.
fn run(registry: &Registry, func: &str, args: &[u8]) -> Ran {
    match panic::catch_unwind(AssertUnwindSafe(|| registry.call(func, args))) {
        Ok(Some(Ok(bytes))) => Ran::Ok(bytes),
        Ok(Some(Err(error))) => Ran::Failed(error),
        Ok(None) => Ran::Unknown(func.to_owned()),
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            // A payload whose destructor panics again is forgotten: the worker survives.
            if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
                std::mem::forget(again);
            }
            Ran::Panicked(message)
        }
    }
}

/// The wire form of an item's outcome.
fn reply(ran: &Ran) -> Reply<'_> {
    match ran {
        Ran::Ok(bytes) => Reply::Ok(Bytes(bytes)),
        Ran::Panicked(message) => Reply::Panicked(message.clone()),
        Ran::Unknown(name) => Reply::UnknownFunction(name.clone()),
        Ran::Failed(CallError::BadArgs(error)) => Reply::BadArgs(error.clone()),
        Ran::Failed(CallError::BadResult(error)) => Reply::BadResult(error.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_through_the_environment_value() {
        let settings = WorkerSettings {
            fd: 7,
            lifeline: 8,
            receipt: 9,
            max_frame: 1 << 20,
            generation: 12,
        };
        let value = OsString::from(settings.to_env());
        assert_eq!(WorkerSettings::parse(&value), Ok(settings));
        assert!(WorkerSettings::parse(&OsString::from(
            "fd=x,lifeline=2,receipt=3,max=1,generation=1"
        ))
        .is_err());
        assert!(WorkerSettings::parse(&OsString::from("fd=1")).is_err());
        assert!(WorkerSettings::parse(&OsString::from(
            "fd=1,lifeline=2,receipt=3,max=2,generation=3,what=4"
        ))
        .is_err());
    }
}

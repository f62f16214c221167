//! Registered functions for the process-pool tests, the test that is the workers' entry point,
//! and pools that use it.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use evloop_bridge::process::{self, ProcessFn, Registry};
use evloop_bridge::{ProcessPool, ProcessPoolBuilder};
use serde::{Serialize, Serializer};

/// The full name of [`worker`] in every test binary that declares `mod util;`.
pub const WORKER_TEST: &str = "util::procs::worker";

/// The worker's end of its channel, read from the variable that makes it a worker before
/// `init` takes (and removes) it: for the functions that tamper with the channel.
static CHANNEL: std::sync::OnceLock<i32> = std::sync::OnceLock::new();

/// The workers' `main`: in a worker started by a pool below, `init` serves calls and never
/// returns; in a normal test run it returns at once and this test passes.
#[test]
fn worker() {
    if let Some(value) = std::env::var_os("EVLOOP_PROCESS_WORKER") {
        let value = value.to_string_lossy().into_owned();
        let fd = value.split(',').find_map(|part| part.strip_prefix("fd="));
        if let Some(fd) = fd.and_then(|fd| fd.parse().ok()) {
            let _ = CHANNEL.set(fd);
        }
    }
    process::init(registry);
}

/// A worker entry point that takes a minute before it calls `init`: a worker that never
/// completes its start-up. (Does nothing in a normal test run.)
#[test]
fn slow_worker() {
    if std::env::var_os("EVLOOP_PROCESS_WORKER").is_some() {
        std::thread::sleep(Duration::from_secs(60));
        process::init(registry);
    }
}

/// A worker entry point that forgets `init`: it builds a pool first, as the `main` of a program
/// that forgot `process::init` would in every worker. (Does nothing in a normal test run.)
#[test]
fn forgetful_worker() {
    if std::env::var_os("EVLOOP_PROCESS_WORKER").is_some() {
        let _pool = ProcessPool::builder(registry()).build().unwrap();
        process::init(registry);
    }
}

/// A pool builder whose workers run this test binary's [`worker`] test.
pub fn pool() -> ProcessPoolBuilder {
    ProcessPool::builder(registry()).test_worker(WORKER_TEST)
}

/// Every function the tests call.
pub fn registry() -> Registry {
    Registry::new()
        .register(SQUARE)
        .register(PID)
        .register(SLEEP)
        .register(PID_FILE_THEN_SLEEP)
        .register(PANIC)
        .register(PRINT)
        .register(EXIT)
        .register(CORRUPT)
        .register(UNSERIALIZABLE)
        .register(SEED)
        .register(SEEDED)
        .register(SPIN)
        .register(HANG_UP)
        .register(RECORD)
        .register(SUBPROCESS_THEN_SLEEP)
        .register(RAISE)
}

pub const SQUARE: ProcessFn<u64, u64> = ProcessFn::new("square", |x| x * x);

/// The worker's process id.
pub const PID: ProcessFn<(), u32> = ProcessFn::new("pid", |()| std::process::id());

/// Sleeps for the given milliseconds, returns the worker's pid.
pub const SLEEP: ProcessFn<u64, u32> = ProcessFn::new("sleep", |ms| {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
});

/// Writes the worker's pid to the file, then sleeps for the milliseconds.
pub const PID_FILE_THEN_SLEEP: ProcessFn<(String, u64), ()> =
    ProcessFn::new("pid_file_then_sleep", |(path, ms)| {
        std::fs::write(path, std::process::id().to_string()).unwrap();
        std::thread::sleep(Duration::from_millis(ms));
    });

/// Panics with the message.
pub const PANIC: ProcessFn<String, ()> = ProcessFn::new("panic", |message| panic!("{message}"));

/// Prints lines to stdout (some of them frame-like bytes), returns the input.
pub const PRINT: ProcessFn<String, String> = ProcessFn::new("print", |text| {
    let mut out = std::io::stdout().lock();
    for _ in 0..100 {
        out.write_all(&[0xff, 0xff, 0, 0, 3, 1, 0, 0]).unwrap();
        writeln!(out, "{text}").unwrap();
    }
    out.flush().unwrap();
    text
});

/// Exits the worker with the code.
pub const EXIT: ProcessFn<i32, ()> = ProcessFn::new("exit", |code| std::process::exit(code));

/// The worker's end of its channel to the pool, as the pool named it in this worker's
/// environment before `init` read it ([`worker`] keeps it).
fn channel() -> std::os::fd::BorrowedFd<'static> {
    let fd = *CHANNEL.get().expect("a worker knows its channel");
    // SAFETY: the pool handed this descriptor to the worker, which keeps it open for its whole
    // life; it is only borrowed.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// Writes a frame header announcing 4 GiB on the worker's channel, as a stray write by a buggy
/// library would.
pub const CORRUPT: ProcessFn<(), ()> = ProcessFn::new("corrupt", |()| {
    let _ = rustix::io::write(channel(), &[0xff, 0xff, 0xff, 0xff, 3]);
});

/// Shuts down the worker's channel, then sleeps for a minute: a worker that hangs up on the
/// pool but does not exit.
pub const HANG_UP: ProcessFn<(), ()> = ProcessFn::new("hang_up", |()| {
    let _ = rustix::net::shutdown(channel(), rustix::net::Shutdown::Both);
    std::thread::sleep(Duration::from_secs(60));
});

/// A result whose `Serialize` always fails.
pub struct Unserializable;

impl Serialize for Unserializable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("Unserializable refuses"))
    }
}

impl<'de> serde::Deserialize<'de> for Unserializable {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Ok(Unserializable)
    }
}

pub const UNSERIALIZABLE: ProcessFn<(), Unserializable> =
    ProcessFn::new("unserializable", |()| Unserializable);

/// The value the initializer stored in this worker.
static SEEDED_VALUE: AtomicU64 = AtomicU64::new(0);

/// An initializer: stores its argument in the worker.
pub const SEED: ProcessFn<u64, ()> = ProcessFn::new("seed", |value| {
    SEEDED_VALUE.store(value, Ordering::SeqCst);
});

/// What the initializer stored.
pub const SEEDED: ProcessFn<(), u64> =
    ProcessFn::new("seeded", |()| SEEDED_VALUE.load(Ordering::SeqCst));

/// Keeps a CPU busy for the given milliseconds; returns the iterations.
pub const SPIN: ProcessFn<u64, u64> = ProcessFn::new("spin", |ms| {
    let end = Instant::now() + Duration::from_millis(ms);
    let mut n = 0u64;
    while Instant::now() < end {
        n = std::hint::black_box(n + 1);
    }
    n
});

/// Creates the file `{dir}/{id}`, failing (a panic, so `Panicked`) if it exists: a job that
/// runs twice is caught. Returns the worker's pid.
pub const RECORD: ProcessFn<(String, u64), u32> = ProcessFn::new("record", |(dir, id)| {
    let path = std::path::Path::new(&dir).join(id.to_string());
    if let Err(error) = std::fs::File::create_new(&path) {
        panic!("job {id} ran twice ({error})");
    }
    std::process::id()
});

/// Starts `sleep 30` (stdout and stderr inherited, as `sleep 30 &` in a shell would), writes
/// "<worker pid> <sleep pid>" to the file, then sleeps for the milliseconds.
pub const SUBPROCESS_THEN_SLEEP: ProcessFn<(String, u64), ()> =
    ProcessFn::new("subprocess_then_sleep", |(path, ms)| {
        let sleep = std::process::Command::new("sleep")
            .arg("30")
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("sleep starts");
        let pids = format!("{} {}", std::process::id(), sleep.id());
        // Left running on purpose, as a job's background process would be; the test kills it.
        std::mem::forget(sleep);
        std::fs::write(path, pids).unwrap();
        std::thread::sleep(Duration::from_millis(ms));
    });

/// Sends the signal of that number to the worker itself, with core dumps off. Twice: for
/// `SIGSEGV` and `SIGBUS`, the handler `std` installs to report stack overflows takes the
/// first one (it restores the default action and returns), and the second one kills.
pub const RAISE: ProcessFn<i32, ()> = ProcessFn::new("raise", |signal| {
    use rustix::process::{getpid, kill_process, setrlimit, Resource, Rlimit, Signal};
    let no_core = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    let _ = setrlimit(Resource::Core, no_core);
    let signal = Signal::from_named_raw(signal).expect("a named signal");
    for _ in 0..2 {
        kill_process(getpid(), signal).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(60));
});

/// How many times the pool's supervisor threads (named `evloop-procpool`) of this process have
/// been switched out so far: how often they slept and woke. For test binaries with one pool.
// Linux only: no other system counts another thread's context switches (testing/os.rs).
#[cfg(target_os = "linux")]
pub fn supervisor_switches() -> u64 {
    super::os::thread_switches("evloop-procpool")
}

/// A fresh path in the temporary directory for a job to write its worker's pid to.
pub fn pid_file(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("evloop-{name}-{}.pid", std::process::id()))
}

/// Waits for the pid a job wrote to `path`.
pub fn read_pid(path: &std::path::Path) -> u32 {
    let mut pid = None;
    assert!(
        super::eventually(|| {
            pid = std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.parse().ok());
            pid.is_some()
        }),
        "the job never wrote its pid"
    );
    pid.unwrap()
}

/// Submits a job that writes its worker's pid to the (fresh) pid file `name`, then sleeps for
/// `ms`; returns its handle and the pid file, which [`read_pid`] reads once the job runs.
pub fn submit_sleeper(
    pool: &ProcessPool,
    name: &str,
    ms: u64,
) -> (evloop_bridge::Handle<()>, std::path::PathBuf) {
    let path = pid_file(name);
    let _ = std::fs::remove_file(&path);
    let handle = pool.submit(
        &PID_FILE_THEN_SLEEP,
        (path.to_string_lossy().into_owned(), ms),
    );
    (handle, path)
}

/// Kills, with `SIGKILL`, the worker of a long job while `others` quick jobs are in flight on
/// a pool of two workers, and checks what a user relies on: only the long job fails, with
/// `WorkerDied` naming the pid and the signal; every other job completes; the pool is back at
/// two workers, neither of them the dead one. Returns the dead worker's pid.
pub fn kill_a_worker_mid_job(pool: &ProcessPool, name: &str, others: u64) -> u32 {
    use evloop_bridge::ExecError;
    use rustix::process::{kill_process, Pid, Signal};

    let (victim, path) = submit_sleeper(pool, name, 60_000);
    let quick: Vec<_> = (0..others).map(|x| pool.submit(&SQUARE, x)).collect();
    let pid = read_pid(&path);
    kill_process(Pid::from_raw(pid as i32).unwrap(), Signal::KILL).unwrap();
    let error = super::finish(victim).unwrap_err();
    match &error {
        ExecError::WorkerDied {
            pid: died, signal, ..
        } => {
            assert_eq!(*died, pid);
            assert_eq!(*signal, Some(9), "{error}");
        }
        other => panic!("expected WorkerDied, got {other:?}"),
    }
    assert!(error.to_string().contains("SIGKILL"), "{error}");
    for (x, handle) in (0..others).zip(quick) {
        assert_eq!(super::finish(handle), Ok(x * x));
    }
    // Back at full strength: two jobs run at the same time again, on live workers.
    let start = Instant::now();
    let both = [pool.submit(&SLEEP, 300), pool.submit(&SLEEP, 300)];
    let pids: std::collections::HashSet<_> = both
        .map(|h| super::finish(h).unwrap())
        .into_iter()
        .collect();
    assert_eq!(pids.len(), 2);
    assert!(!pids.contains(&pid));
    assert!(start.elapsed() < super::PATIENCE);
    let _ = std::fs::remove_file(&path);
    pid
}

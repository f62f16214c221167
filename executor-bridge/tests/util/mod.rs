//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::fs;
use std::future::Future;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use evloop_bridge::{ExecError, Handle, ThreadPool};

#[path = "../../../testing/os.rs"]
pub mod os;
pub mod procs;

/// The bound on anything a test waits for: far beyond what a loaded 2-core machine needs, but
/// a broken behaviour fails the test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The handle's outcome, waited for at most [`PATIENCE`]: a job that never finishes fails the
/// test instead of hanging it.
#[track_caller]
pub fn finish<T>(mut handle: Handle<T>) -> Result<T, ExecError> {
    handle
        .wait_timeout(PATIENCE)
        .expect("the job gave no outcome within the test's patience")
}

/// Submits to `pool` a job that returns `value` once `gate` opens, and returns its handle once
/// the job is running (it holds a worker until the gate opens).
pub fn submit_gated<T: Send + 'static>(pool: &ThreadPool, gate: &Gate, value: T) -> Handle<T> {
    let (started_tx, started) = std::sync::mpsc::channel();
    let gate = gate.clone();
    let handle = pool.submit(move || {
        started_tx.send(()).unwrap();
        gate.pass();
        value
    });
    started
        .recv_timeout(PATIENCE)
        .expect("the gated job never started");
    handle
}

/// Runs `f` on a helper thread and returns its result, or panics if it takes longer than
/// [`PATIENCE`] (the helper is left behind): for calls that would hang if the behaviour broke.
#[track_caller]
pub fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done_tx, done) = mpsc::channel();
    thread::spawn(move || done_tx.send(f()));
    match done.recv_timeout(PATIENCE) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} did not return within {PATIENCE:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// `futures_lite::future::block_on(future)`, run on a helper thread and bounded by
/// [`PATIENCE`] (see [`within`]).
#[track_caller]
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    within("block_on", move || futures_lite::future::block_on(future))
}

/// Polls `condition` every millisecond until it holds (true) or [`PATIENCE`] ran out (false).
pub fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Threads that keep CPUs busy until dropped: a loaded machine for the tests that need one.
pub struct Busy {
    /// Tells the threads to stop.
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The threads.
    threads: Vec<thread::JoinHandle<()>>,
}

impl Busy {
    /// Starts `n` threads that spin.
    pub fn start(n: usize) -> Busy {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        x = std::hint::black_box(x.wrapping_add(1));
                    }
                })
            })
            .collect();
        Busy { stop, threads }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A fresh, empty directory for this test binary's test `name`.
pub fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("evloop-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A one-shot signal a job can block on, so a test decides when a worker is free again.
#[derive(Clone)]
pub struct Gate {
    /// Whether the gate is open, and the condition variable blocked jobs wait on.
    state: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Gate {
        Gate {
            state: Default::default(),
        }
    }

    /// Opens the gate: every blocked and future [`pass`](Self::pass) returns.
    pub fn open(&self) {
        let (open, changed) = &*self.state;
        *open.lock().unwrap() = true;
        changed.notify_all();
    }

    /// Blocks until the gate is open; panics after [`PATIENCE`], so a job that the test forgot
    /// to release cannot hang it.
    pub fn pass(&self) {
        let (open, changed) = &*self.state;
        let (open, timeout) = changed
            .wait_timeout_while(open.lock().unwrap(), PATIENCE, |open| !*open)
            .unwrap();
        assert!(*open && !timeout.timed_out(), "the gate was never opened");
    }
}

/// Blocks until `count` threads are at the rendezvous, or panics after [`PATIENCE`]: proves that
/// `count` jobs run at the same time (a `std::sync::Barrier` would hang instead).
#[derive(Clone)]
pub struct Rendezvous {
    /// Arrivals so far, and the condition variable waiting jobs use.
    state: std::sync::Arc<(std::sync::Mutex<usize>, std::sync::Condvar)>,
    /// How many must arrive.
    count: usize,
}

impl Rendezvous {
    /// A rendezvous of `count` threads.
    pub fn new(count: usize) -> Rendezvous {
        Rendezvous {
            state: Default::default(),
            count,
        }
    }

    /// Arrives and waits for the others; returns whether they all came within [`PATIENCE`].
    pub fn meet(&self) -> bool {
        let (arrived, changed) = &*self.state;
        let mut arrived = arrived.lock().unwrap();
        *arrived += 1;
        changed.notify_all();
        let (arrived, _) = changed
            .wait_timeout_while(arrived, PATIENCE, |arrived| *arrived < self.count)
            .unwrap();
        *arrived >= self.count
    }
}

//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[path = "../../../testing/os.rs"]
pub mod os;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts how many of its clones have been dropped.
#[derive(Clone, Default)]
pub struct DropCounter(pub Arc<AtomicUsize>);

impl DropCounter {
    pub fn guard(&self) -> DropGuard {
        DropGuard(self.0.clone())
    }

    pub fn dropped(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Increments its counter when dropped.
pub struct DropGuard(Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// CPU time consumed by the calling thread.
pub fn thread_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Fails the test instead of hanging when `f` does not finish within `limit`.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

/// Runs this test binary again with only the test `test` selected and `env` set (the child
/// sees the variable and plays its part), and returns its output. Fails the test instead of
/// hanging if the child does not exit within `limit`: it is killed and its output shown.
pub fn run_child(test: &str, env: &[(&str, &str)], limit: Duration) -> std::process::Output {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the child running {test} did not exit within {limit:?}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

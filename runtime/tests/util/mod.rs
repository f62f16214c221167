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

/// The thread counts a child printed as `threads before: B; after: A` (with the child's output
/// checked first): fails the test unless the child succeeded and the counts are equal.
pub fn assert_threads_back(out: &std::process::Output, what: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("threads before: ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("{stdout}"));
    let counts: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert_eq!(counts[0], counts[1], "{what}: {line}");
}

/// A test of this binary run as a child process that serves until it is signalled (a
/// server example's `main`), with its standard output read line by line; killed if the test
/// fails before it exits.
pub struct ChildServer {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// How long to wait for a line or for the exit.
    limit: Duration,
    /// Every line read so far.
    pub seen: Vec<String>,
}

impl ChildServer {
    /// Starts the ignored test `test` of this binary with `env` set.
    pub fn start(test: &str, env: &[(&str, &str)], limit: Duration) -> ChildServer {
        use std::io::BufRead;
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args([
                test,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ChildServer {
            child,
            lines,
            limit,
            seen: Vec::new(),
        }
    }

    /// Waits for a line that contains `text` and returns it.
    pub fn wait_for(&mut self, text: &str) -> String {
        loop {
            match self.lines.recv_timeout(self.limit) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "the server did not print {text:?} within {:?}; it printed {:#?}",
                        self.limit, self.seen
                    );
                }
            }
        }
    }

    /// Waits for a line that contains `text` and returns what follows `text` on it, up to
    /// the first character in `end` (the rest of the line if none).
    pub fn value_after(&mut self, text: &str, end: &[char]) -> String {
        let line = self.wait_for(text);
        let (_, rest) = line.split_once(text).unwrap();
        rest.split(end).next().unwrap().to_owned()
    }

    pub fn signal(&self, signal: rustix::process::Signal) {
        rustix::process::kill_process(rustix::process::Pid::from_child(&self.child), signal)
            .expect("kill");
    }

    /// Waits for the child to exit, checks that it exited successfully and printed every line
    /// of `expected` (whole lines), and returns every line.
    pub fn finish_with(self, expected: &[&str]) -> Vec<String> {
        let (ok, lines) = self.finish();
        assert!(ok, "the server failed: {lines:#?}");
        for line in expected {
            assert!(
                lines.iter().any(|l| l == line),
                "no line {line:?} in {lines:#?}"
            );
        }
        lines
    }

    /// Waits for the child to exit; returns whether it exited successfully and every line.
    pub fn finish(mut self) -> (bool, Vec<String>) {
        while let Ok(line) = self.lines.recv_timeout(self.limit) {
            self.seen.push(line);
        }
        let mut status = None;
        for _ in 0..self.limit.as_millis() / 10 {
            status = self.child.try_wait().unwrap();
            if status.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let status = status.unwrap_or_else(|| {
            panic!(
                "the server did not exit within {:?} of closing its output: {:#?}",
                self.limit, self.seen
            )
        });
        (status.success(), std::mem::take(&mut self.seen))
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        // A failed test must not leave its server running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

//! Child processes of the report, and Ctrl-C: every child runs in its own process group, is
//! registered here while it lives, and is killed (with its own children) when its guard drops
//! or when the report is interrupted.

use std::io::{self, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, Pid, Signal};

/// Environment variable set in every child to the report's process id, so that a test (or a
/// person) can find a report's children.
pub const PARENT_ENV: &str = "EVLOOP_REPORT_PARENT";

/// Set by Ctrl-C or SIGTERM.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Process-group ids of the children alive now.
static LIVE: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Installs the Ctrl-C / SIGTERM handler: it marks the run interrupted and kills every child
/// process group at once; the experiment in progress then stops at its next check.
///
/// # Errors
///
/// Returns a message if a handler could not be installed.
pub fn install_interrupt_handler() -> Result<(), String> {
    // Once per process: a second report run in the same process reuses the handler.
    static INSTALLED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                INTERRUPTED.store(true, Ordering::SeqCst);
                kill_all();
            })
            .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))
        })
        .clone()
}

/// Whether Ctrl-C or SIGTERM arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Kills every live child's process group.
pub fn kill_all() {
    let live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    for &pgid in live.iter() {
        if let Some(pid) = Pid::from_raw(pgid) {
            let _ = kill_process_group(pid, Signal::KILL);
        }
    }
}

/// A child process that is killed, with its process group, when dropped.
#[derive(Debug)]
pub struct ChildGuard {
    /// The child; `None` once reaped.
    child: Option<Child>,
    /// Its process id, which is also its process-group id.
    pgid: i32,
}

/// Starts `cmd` in a new process group, registered for cleanup. Stdin, stdout and stderr are
/// piped unless `cmd` set them.
///
/// # Errors
///
/// Returns the error of starting the process, or `Interrupted` if the report was interrupted.
pub fn spawn(mut cmd: Command) -> io::Result<ChildGuard> {
    use std::os::unix::process::CommandExt;
    if interrupted() {
        return Err(io::ErrorKind::Interrupted.into());
    }
    cmd.process_group(0)
        .env(PARENT_ENV, std::process::id().to_string());
    // Register under the lock so that a Ctrl-C between spawn and registration still kills it.
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let child = cmd.spawn()?;
    let pgid = child.id() as i32;
    live.push(pgid);
    drop(live);
    if interrupted() {
        kill_all();
    }
    Ok(ChildGuard {
        child: Some(child),
        pgid,
    })
}

/// A command that re-executes this binary with the hidden subcommand `args`, stdio piped.
///
/// # Errors
///
/// Returns the error of finding this executable.
pub fn self_command(args: &[&str]) -> io::Result<Command> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Ok(cmd)
}

impl ChildGuard {
    /// The child, for its pipes.
    pub fn child(&mut self) -> &mut Child {
        self.child
            .as_mut()
            .expect("the child is reaped only by finish or drop")
    }

    /// Waits for the child to exit, at most `timeout`, and returns its stdout.
    ///
    /// # Errors
    ///
    /// `TimedOut` if it ran longer (it is killed), `Interrupted` on Ctrl-C, `Other` with its
    /// stderr if it exited with a failure.
    pub fn finish(mut self, timeout: Duration) -> io::Result<String> {
        let mut child = self.child.take().expect("finish is called once");
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let out = thread::spawn(move || read_all(stdout.as_mut()));
        let err = thread::spawn(move || read_all(stderr.as_mut()));
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Ok(status);
            }
            if interrupted() {
                break Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            if Instant::now() >= deadline {
                break Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("child process ran longer than {timeout:?} and was killed"),
                ));
            }
            thread::sleep(Duration::from_millis(2));
        };
        if status.is_err() {
            self.kill_group();
            let _ = child.wait();
        }
        self.unregister();
        let status = status?;
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        if status.success() {
            Ok(stdout)
        } else {
            Err(io::Error::other(format!(
                "child process failed ({status}): {}",
                stderr.trim()
            )))
        }
    }

    fn kill_group(&self) {
        if let Some(pid) = Pid::from_raw(self.pgid) {
            let _ = kill_process_group(pid, Signal::KILL);
        }
    }

    fn unregister(&self) {
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|&p| p != self.pgid);
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.kill_group();
            let _ = child.wait();
            self.unregister();
        }
    }
}

fn read_all<R: Read>(r: Option<&mut R>) -> String {
    let mut s = String::new();
    if let Some(r) = r {
        let _ = r.read_to_string(&mut s);
    }
    s
}

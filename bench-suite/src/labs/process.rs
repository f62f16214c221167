//! Lab programs in child processes: this binary started again as `lab run N --program P`, with
//! its output read line by line, a time limit on everything, and a kill when dropped.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::lab::{Lab, Program};
use super::verdict::LabError;

/// The prefix of the one line on which a lab program's harness prints its figures, as JSON.
pub const RESULT_PREFIX: &str = "lab-result ";

/// Prints a harness's figures on the result line.
pub fn print_result<T: serde::Serialize>(result: &T) {
    println!(
        "{RESULT_PREFIX}{}",
        serde_json::to_string(result).expect("lab results serialize")
    );
}

/// Builds the event loop a lab program runs on.
///
/// # Errors
///
/// [`LabError::Io`] if the OS refuses its poller.
pub fn build_loop(builder: evloop::Builder) -> Result<evloop::Runtime, LabError> {
    builder
        .build()
        .map_err(LabError::io("build the event loop"))
}

/// The loop of a lab that measures a heartbeat's lateness: no slow-poll report and no
/// watchdog, whose output and work would land in the measurement.
///
/// # Errors
///
/// [`LabError::Io`] if the OS refuses its poller.
pub fn quiet_loop(name: &str) -> Result<evloop::Runtime, LabError> {
    build_loop(
        evloop::Builder::new()
            .name(name)
            .slow_poll_reports(false)
            .stall_watchdog(false),
    )
}

/// A lab program running in a child process; killed when dropped.
#[derive(Debug)]
pub struct Running {
    /// The child.
    child: Child,
    /// What to call it in messages, e.g. "the starter of lab 3".
    label: String,
    /// Lines of its stdout, as they come.
    stdout: Receiver<String>,
    /// Every line of its stderr so far.
    stderr: Arc<Mutex<Vec<String>>>,
    /// The threads that read its output.
    readers: Vec<JoinHandle<()>>,
}

/// Starts `program` of `lab` under its harness, with `extra` arguments for `lab run`.
///
/// # Errors
///
/// [`LabError::Io`] if this binary cannot be started again.
pub fn start(lab: Lab, program: Program, quick: bool, extra: &[&str]) -> Result<Running, LabError> {
    let exe = std::env::current_exe().map_err(LabError::io("find the evloop-bench executable"))?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "lab",
        "run",
        &lab.number.to_string(),
        "--program",
        program.name(),
    ]);
    if quick {
        cmd.arg("--quick");
    }
    cmd.args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let label = match program {
        Program::Yours => format!("your program for lab {}", lab.number),
        other => format!("the {} of lab {}", other.name(), lab.number),
    };
    let mut child = cmd
        .spawn()
        .map_err(LabError::io(format!("start {label}")))?;
    let (tx, stdout) = mpsc::channel();
    let out = child.stdout.take().expect("stdout is piped");
    let err = child.stderr.take().expect("stderr is piped");
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let readers = vec![
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        }),
        {
            let stderr = stderr.clone();
            std::thread::spawn(move || read_lines(err, &stderr))
        },
    ];
    Ok(Running {
        child,
        label,
        stdout,
        stderr,
        readers,
    })
}

/// Appends each line of `from` to `into`.
fn read_lines(from: impl Read, into: &Mutex<Vec<String>>) {
    for line in BufReader::new(from).lines().map_while(Result::ok) {
        into.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
}

impl Running {
    /// What the program is called in messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Waits up to `limit` for a line of stdout that starts with `prefix` and returns the rest
    /// of it.
    ///
    /// # Errors
    ///
    /// [`LabError::TimedOut`] or [`LabError::NoResult`] if the line does not come.
    pub fn line(&mut self, prefix: &str, limit: Duration) -> Result<String, LabError> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Ok(rest.to_owned());
                    }
                    println!("  | {line}");
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(LabError::TimedOut {
                        program: self.label.clone(),
                        waiting_for: format!("print `{}`", prefix.trim()),
                        seconds: limit.as_secs().max(1),
                        stderr: self.stderr_tail(),
                    })
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self
                        .child
                        .wait()
                        .map_or_else(|e| e.to_string(), |s| s.to_string());
                    return Err(LabError::NoResult {
                        program: self.label.clone(),
                        status,
                        stderr: self.stderr_tail(),
                    });
                }
            }
        }
    }

    /// Waits up to `limit` for the result line and parses it.
    ///
    /// # Errors
    ///
    /// As [`line`](Self::line), and [`LabError::BadResult`] if the line does not parse.
    pub fn result<T: DeserializeOwned>(&mut self, limit: Duration) -> Result<T, LabError> {
        let line = self.line(RESULT_PREFIX, limit)?;
        serde_json::from_str(&line).map_err(|e| LabError::BadResult {
            program: self.label.clone(),
            line,
            error: e.to_string(),
        })
    }

    /// The lines the program wrote on stderr that start with `evloop:` (slow-poll reports,
    /// stall reports, the cycle trace), with the paths of the lab's files as the student sees
    /// them (`bench-suite/labs/..`, not the `bench-suite/src/labs/../../labs/..` that the
    /// module's `#[path]` gives the compiler).
    pub fn reports(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|l| l.starts_with("evloop:"))
            .map(|l| tidy_paths(l))
            .collect()
    }

    /// Every line the program wrote on stderr so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The last lines of stderr, indented, for error messages.
    fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        let from = lines.len().saturating_sub(15);
        if lines.is_empty() {
            return "    (nothing)".into();
        }
        lines[from..]
            .iter()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

/// `line` with every `segment/../` in its paths taken out: `a/b/../../c` becomes `c`.
fn tidy_paths(line: &str) -> String {
    let mut line = line.to_owned();
    while let Some(at) = line.find("/../") {
        let start = line[..at]
            .rfind(|c: char| c == '/' || c.is_whitespace() || c == '(')
            .map_or(0, |i| i + 1);
        if start == at || &line[start..at] == ".." {
            break; // a path that starts with `..`: nothing to take out
        }
        line.replace_range(start..at + 4, "");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::tidy_paths;

    #[test]
    fn lab_paths_are_given_as_the_student_sees_them() {
        assert_eq!(
            tidy_paths("evloop: ... (at bench-suite/src/labs/../../labs/03-frozen-server/lab.rs:31:14) ..."),
            "evloop: ... (at bench-suite/labs/03-frozen-server/lab.rs:31:14) ..."
        );
        assert_eq!(tidy_paths("no path here"), "no path here");
        assert_eq!(tidy_paths("at ../x/y.rs:1:1"), "at ../x/y.rs:1:1");
    }
}

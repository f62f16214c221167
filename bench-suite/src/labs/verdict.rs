//! What a checker concludes, and what can keep it from concluding.

use std::fmt;
use std::io;
use std::process::ExitCode;

/// A checker's conclusion: PASS or FAIL, the measurements, and the rule that decided.
#[derive(Debug)]
pub struct Verdict {
    /// Whether the program passed.
    pub pass: bool,
    /// One line per measured program or quantity, printed before the verdict.
    pub measured: Vec<String>,
    /// Why it passed or failed, in terms of the measured numbers.
    pub reason: String,
}

impl Verdict {
    /// Prints the measurements and `PASS: ...` or `FAIL: ...`; returns the exit status (0 for
    /// PASS, 1 for FAIL).
    pub fn print(&self) -> ExitCode {
        for line in &self.measured {
            println!("  {line}");
        }
        if self.pass {
            println!("PASS: {}", self.reason);
            ExitCode::SUCCESS
        } else {
            println!("FAIL: {}", self.reason);
            ExitCode::FAILURE
        }
    }
}

/// Why a lab command could not do its work (as opposed to a program that fails its check).
#[derive(Debug)]
pub enum LabError {
    /// No lab has this number.
    NoSuchLab(u8),
    /// A file or process operation failed.
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: io::Error,
    },
    /// The lab program did not finish (or answer) in time: it may be frozen.
    TimedOut {
        /// Which program.
        program: String,
        /// What it was expected to do.
        waiting_for: String,
        /// How long the checker waited, in seconds.
        seconds: u64,
        /// The last lines it wrote on stderr.
        stderr: String,
    },
    /// The lab program exited without printing its result line.
    NoResult {
        /// Which program.
        program: String,
        /// How it exited.
        status: String,
        /// The last lines it wrote on stderr (a panic message, a compile-time choice gone wrong).
        stderr: String,
    },
    /// The lab program's result line did not parse.
    BadResult {
        /// Which program.
        program: String,
        /// The line.
        line: String,
        /// The parse error.
        error: String,
    },
}

impl LabError {
    /// For `map_err`: the OS error of the step that `what` describes ("build the event loop").
    pub fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> LabError {
        let what = what.into();
        move |source| LabError::Io { what, source }
    }
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabError::NoSuchLab(n) => write!(
                f,
                "there is no lab {n} with a checker; `evloop-bench lab list` shows the labs"
            ),
            LabError::Io { what, source } => write!(f, "could not {what}: {source}"),
            LabError::TimedOut {
                program,
                waiting_for,
                seconds,
                stderr,
            } => write!(
                f,
                "{program} did not {waiting_for} within {seconds} s, so it was stopped; a loop \
                 that never yields or a deadlock would do this. Its last lines on stderr:\n{stderr}"
            ),
            LabError::NoResult {
                program,
                status,
                stderr,
            } => write!(
                f,
                "{program} exited ({status}) without printing its result; its last lines on \
                 stderr:\n{stderr}"
            ),
            LabError::BadResult {
                program,
                line,
                error,
            } => write!(
                f,
                "{program} printed a result that does not parse ({error}): {line}"
            ),
        }
    }
}

impl std::error::Error for LabError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LabError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

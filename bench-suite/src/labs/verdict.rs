//! What a checker concludes, and what can keep it from concluding.

use std::collections::BTreeMap;
use std::fmt;
use std::io;

use serde::Serialize;

/// One rule of a checker: what it requires, whether the program met it, and the figures it
/// compared.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What the rule requires, in a line.
    pub rule: String,
    /// Whether the program met it.
    pub pass: bool,
    /// The figures the rule compared, by name (the unit ends the name: `_ms`, `_x`, `_pct`).
    pub figures: BTreeMap<String, f64>,
    /// What went wrong and what to do, when it failed (empty when it passed).
    pub failure: String,
}

impl Check {
    /// A rule, whether it passed, and the message to show if it did not.
    pub fn new(rule: impl Into<String>, pass: bool, failure: impl Into<String>) -> Check {
        Check {
            rule: rule.into(),
            pass,
            figures: BTreeMap::new(),
            failure: if pass { String::new() } else { failure.into() },
        }
    }

    /// Adds a figure the rule compared.
    pub fn figure(mut self, name: &str, value: f64) -> Check {
        self.figures.insert(name.to_owned(), value);
        self
    }
}

/// A checker's conclusion: PASS or FAIL, the measurements, and the rules that decided.
#[derive(Debug, Serialize)]
pub struct Verdict {
    /// Whether the program passed: every check passed.
    pub pass: bool,
    /// One line per measured program or quantity, printed before the verdict.
    pub measured: Vec<String>,
    /// Why it passed or failed, in terms of the measured numbers.
    pub reason: String,
    /// Every rule, with its figures and its own verdict.
    pub checks: Vec<Check>,
}

impl Verdict {
    /// The verdict of `checks`: PASS with `pass_reason` if every one passed, else FAIL with the
    /// failed ones' messages.
    pub fn from_checks(measured: Vec<String>, checks: Vec<Check>, pass_reason: String) -> Verdict {
        let failures: Vec<&str> = checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| c.failure.as_str())
            .collect();
        let pass = failures.is_empty();
        Verdict {
            pass,
            measured,
            reason: if pass {
                pass_reason
            } else {
                failures.join("; ")
            },
            checks,
        }
    }

    /// Prints the measurements and `PASS: ...` or `FAIL: ...`.
    pub fn print(&self) {
        for line in &self.measured {
            println!("  {line}");
        }
        println!("{}: {}", self.word(), self.reason);
    }

    /// `PASS` or `FAIL`.
    pub fn word(&self) -> &'static str {
        if self.pass {
            "PASS"
        } else {
            "FAIL"
        }
    }
}

/// Why a lab command could not do its work (as opposed to a program that fails its check).
#[derive(Debug)]
pub enum LabError {
    /// No lab has this number.
    NoSuchLab(u8),
    /// This copy of the repository is a student edition, without the reference solutions:
    /// what was asked for needs them.
    NoSolutions(String),
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
            LabError::NoSolutions(what) => write!(
                f,
                "{what}: this is the student edition of the labs, without the reference \
                 solutions; check your copy (the default) or the starter (`--program starter`)"
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

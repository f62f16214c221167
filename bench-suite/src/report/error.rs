//! The report's errors.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why the report could not be written at all.
#[derive(Debug)]
pub enum ReportError {
    /// The output directory cannot be created or written; checked before any experiment.
    OutputDir {
        /// The directory.
        dir: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// `--only` named no section.
    UnknownSection {
        /// What was given.
        given: String,
        /// The section names there are.
        known: Vec<&'static str>,
    },
    /// Writing a result file failed after the experiments ran.
    Write {
        /// The file.
        file: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The Ctrl-C handler could not be installed.
    Signal(String),
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::OutputDir { dir, source } => write!(
                f,
                "cannot write the report to {}: {source}; choose another directory with --out DIR",
                dir.display()
            ),
            ReportError::UnknownSection { given, known } => write!(
                f,
                "no section named {given:?}; --only takes one of: {}",
                known.join(", ")
            ),
            ReportError::Write { file, source } => {
                write!(f, "cannot write {}: {source}", file.display())
            }
            ReportError::Signal(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReportError::OutputDir { source, .. } | ReportError::Write { source, .. } => {
                Some(source)
            }
            _ => None,
        }
    }
}

/// Why a section stopped early.
#[derive(Debug)]
pub enum SectionError {
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// An experiment failed; the message says which and why.
    Failed(String),
}

impl fmt::Display for SectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SectionError::Interrupted => f.write_str("interrupted"),
            SectionError::Failed(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for SectionError {}

impl From<io::Error> for SectionError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::Interrupted || crate::report::children::interrupted() {
            SectionError::Interrupted
        } else if e.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error()) {
            SectionError::Failed(format!(
                "{e}: the file-descriptor limit is too low for this experiment; raise it \
                 (`ulimit -n`, and the hard limit `ulimit -Hn` as root) or use --quick"
            ))
        } else {
            SectionError::Failed(e.to_string())
        }
    }
}

//! [`Lab`] and [`Program`]: what a lab is (its number, files, checker and harness) and which
//! of its three versions is meant. The labs themselves are listed in `catalog.rs`.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use super::verdict::{LabError, Verdict};

/// One of the three versions of a lab program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Program {
    /// The student's working copy, `lab.rs`.
    Yours,
    /// The pristine starter, `starter.rs`.
    Starter,
    /// The reference solution, `solution.rs`.
    Solution,
}

impl Program {
    /// The name the command line uses.
    pub fn name(self) -> &'static str {
        match self {
            Program::Yours => "yours",
            Program::Starter => "starter",
            Program::Solution => "solution",
        }
    }

    /// Its index in [`Lab::files`].
    fn index(self) -> usize {
        match self {
            Program::Yours => 0,
            Program::Starter => 1,
            Program::Solution => 2,
        }
    }
}

/// What a checker may tell the harness it starts, beyond the version and `quick`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// A directory the program may write to (lab 3's snapshots).
    pub dir: Option<PathBuf>,
    /// Which of the checker's runs this is (lab 7 varies its bookings by run).
    pub round: u32,
}

/// One lab: where it lives and what it is called.
#[derive(Clone, Copy)]
pub struct Lab {
    /// Its number in `docs/labs/`.
    pub number: u8,
    /// Its directory name under `bench-suite/labs/` and its statement's name under `docs/labs/`.
    pub slug: &'static str,
    /// Its title.
    pub title: &'static str,
    /// The files of its three versions, in its directory: the student's copy, the starter, the
    /// reference solution.
    pub files: [&'static str; 3],
    /// Its checker: measures a version and gives the verdict (`quick`: shorter runs).
    pub check: fn(Lab, Program, bool) -> Result<Verdict, LabError>,
    /// Runs a version under its harness in this process and prints what it measured (what
    /// the checker starts as `lab run N`): the version, `quick`, and the checker's options.
    pub run: fn(Program, bool, RunOptions) -> Result<(), LabError>,
}

impl Lab {
    /// Looks a lab up by number.
    ///
    /// # Errors
    ///
    /// [`LabError::NoSuchLab`] if no lab has that number.
    pub fn find(number: u8) -> Result<Lab, LabError> {
        super::catalog::LABS
            .iter()
            .copied()
            .find(|l| l.number == number)
            .ok_or(LabError::NoSuchLab(number))
    }

    /// The lab's directory, `bench-suite/labs/NN-topic/`, in the source tree this binary was
    /// built from.
    pub fn dir(self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("labs")
            .join(self.slug)
    }

    /// The name of a version's file in the lab's directory.
    pub fn file_name(self, program: Program) -> &'static str {
        self.files[program.index()]
    }

    /// A version's file, relative to the workspace root (for messages).
    pub fn file(self, program: Program) -> String {
        format!("bench-suite/labs/{}/{}", self.slug, self.file_name(program))
    }

    /// The statement, relative to the workspace root.
    pub fn statement(self) -> String {
        format!("docs/labs/{}.md", self.slug)
    }
}

impl fmt::Debug for Lab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lab")
            .field("number", &self.number)
            .field("slug", &self.slug)
            .finish()
    }
}

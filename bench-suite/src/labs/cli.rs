//! The `lab` subcommand: its arguments, the table of labs, and `list`, `reset` and `check`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgMatches, Args, FromArgMatches, Subcommand, ValueEnum};

use super::verdict::{LabError, Verdict};
use super::{lab01, lab02, lab03, lab04, lab05, lab06};

/// The labs of `docs/labs/` (learn the event loop by breaking and fixing it).
#[derive(Debug, Args)]
struct LabArgs {
    /// What to do.
    #[command(subcommand)]
    command: LabCommand,
}

/// What `lab` does.
#[derive(Debug, Subcommand)]
enum LabCommand {
    /// List the labs, their statements and the file you edit in each.
    List,
    /// Build (with `cargo run --release`) and run a lab program, and print PASS or FAIL with
    /// the measured numbers that decided it.
    Check {
        /// The lab's number.
        lab: u8,
        /// Which version to check: your copy (`lab.rs`), the starter or the reference
        /// solution.
        #[arg(long, value_enum, default_value_t = Program::Yours)]
        program: Program,
        /// Shorter runs (CI); the verdict rules are the same.
        #[arg(long)]
        quick: bool,
    },
    /// Restore the starter over your copy of a lab (`lab.rs`).
    Reset {
        /// The lab's number.
        lab: u8,
    },
    /// Run one lab program under its harness and print what it measured (the checkers run
    /// this in a child process).
    #[command(hide = true)]
    Run {
        /// The lab's number.
        lab: u8,
        /// Which version to run.
        #[arg(long, value_enum, default_value_t = Program::Yours)]
        program: Program,
        /// Shorter runs.
        #[arg(long)]
        quick: bool,
        /// A directory the program may write to (lab 3's snapshots).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

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

/// One lab: where it lives and what it is called.
#[derive(Debug, Clone, Copy)]
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
}

/// Every lab that has a checker, in order.
pub const LABS: [Lab; 6] = [
    Lab {
        number: 1,
        slug: "01-build-the-loop",
        title: "build the loop",
        files: PROGRAM_FILES,
    },
    Lab {
        number: 2,
        slug: "02-watch-the-cycle",
        title: "watch the cycle",
        files: ["answers.txt", "starter.txt", "solution.txt"],
    },
    Lab {
        number: 3,
        slug: "03-frozen-server",
        title: "the frozen server",
        files: PROGRAM_FILES,
    },
    Lab {
        number: 4,
        slug: "04-legacy-code",
        title: "legacy code",
        files: PROGRAM_FILES,
    },
    Lab {
        number: 5,
        slug: "05-cpu-bound",
        title: "CPU-bound work",
        files: PROGRAM_FILES,
    },
    Lab {
        number: 6,
        slug: "06-yield-batch",
        title: "yield batch size",
        files: PROGRAM_FILES,
    },
];

/// The files of a lab whose versions are Rust programs.
const PROGRAM_FILES: [&str; 3] = ["lab.rs", "starter.rs", "solution.rs"];

impl Lab {
    /// Looks a lab up by number.
    ///
    /// # Errors
    ///
    /// [`LabError::NoSuchLab`] if no lab has that number.
    pub fn find(number: u8) -> Result<Lab, LabError> {
        LABS.iter()
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

/// The `lab` subcommand, to add to the binary's command line.
pub fn command() -> clap::Command {
    LabArgs::augment_args(clap::Command::new("lab"))
        .about("The course labs: check your solution, reset a lab to its starter, list them")
}

/// Runs `lab` with the arguments clap matched.
pub fn main(matches: &ArgMatches) -> ExitCode {
    let args = match LabArgs::from_arg_matches(matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    match run(args.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Does what the command says.
fn run(command: LabCommand) -> Result<ExitCode, LabError> {
    match command {
        LabCommand::List => {
            for lab in LABS {
                println!(
                    "lab {}: {:<18} statement {:<33} edit {}",
                    lab.number,
                    lab.title,
                    lab.statement(),
                    lab.file(Program::Yours)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Reset { lab } => {
            let lab = Lab::find(lab)?;
            let from = lab.dir().join(lab.file_name(Program::Starter));
            let to = lab.dir().join(lab.file_name(Program::Yours));
            std::fs::copy(&from, &to).map_err(LabError::io(format!(
                "copy {} over {}",
                from.display(),
                to.display()
            )))?;
            println!(
                "lab {}: {} is the starter again",
                lab.number,
                lab.file(Program::Yours)
            );
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Check {
            lab,
            program,
            quick,
        } => {
            let lab = Lab::find(lab)?;
            println!(
                "lab {} ({}): checking {} ({})",
                lab.number,
                lab.title,
                program.name(),
                lab.file(program)
            );
            if cfg!(debug_assertions) {
                println!(
                    "note: this is a debug build; the labs are meant to be checked with \
                     `cargo run --release -p evloop-bench -- lab check {}`",
                    lab.number
                );
            }
            let verdict: Verdict = match lab.number {
                1 => lab01::check(lab, program, quick)?,
                2 => lab02::check(lab, program, quick)?,
                3 => lab03::check(lab, program, quick)?,
                4 => lab04::check(lab, program, quick)?,
                5 => lab05::check(lab, program, quick)?,
                _ => lab06::check(lab, program, quick)?,
            };
            Ok(verdict.print())
        }
        LabCommand::Run {
            lab,
            program,
            quick,
            dir,
        } => {
            let lab = Lab::find(lab)?;
            match lab.number {
                1 => lab01::run(program),
                2 => lab02::run()?,
                3 => lab03::run(program, dir)?,
                4 => lab04::run(program, quick)?,
                5 => lab05::run(program, quick)?,
                _ => lab06::run(program, quick)?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

//! The `lab` subcommand: its arguments, and `list`, `reset` and `check`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, Args, FromArgMatches, Subcommand};

use super::catalog::LABS;
use super::edition;
use super::lab::{Lab, Program, RunOptions};
use super::report::Report;
use super::verdict::LabError;

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
        /// Print the verdict as one JSON object on stdout (every check with its figures and
        /// verdict, the overall result and the exit code) instead of text; see
        /// docs/labs/grading.md.
        #[arg(long)]
        json: bool,
        /// Also write the verdict as JUnit XML to this file (one test case per check), for
        /// grading systems and CI servers that read JUnit.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Write a copy of this repository for students: without the labs' reference solutions
    /// and without git history, every lab's copy the starter (for instructors; see
    /// docs/labs/grading.md).
    StudentEdition {
        /// The directory to write it to (new, or empty).
        dir: PathBuf,
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
        /// Which of the checker's runs this is.
        #[arg(long, default_value_t = 0)]
        round: u32,
    },
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
    if let LabCommand::Check {
        lab,
        program,
        quick,
        json,
        junit,
    } = args.command
    {
        return check(lab, program, quick, json, junit);
    }
    match run(args.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The exit status of a lab that could not be checked (a program that crashed or froze, a
/// file that could not be read), as opposed to PASS (0) and FAIL (1).
const CANNOT_CHECK: u8 = 2;

/// `lab check`: checks one version of a lab and reports the verdict as text, or as JSON, and
/// as JUnit XML if asked.
fn check(
    number: u8,
    program: Program,
    quick: bool,
    json: bool,
    junit: Option<PathBuf>,
) -> ExitCode {
    let verdict = Lab::find(number).and_then(|lab| {
        if !json {
            println!(
                "lab {} ({}): checking {} ({})",
                lab.number,
                lab.title,
                program.name(),
                lab.file(program)
            );
        }
        if cfg!(debug_assertions) {
            eprintln!(
                "note: this is a debug build; the labs are meant to be checked with \
                 `cargo run --release -p evloop-bench -- lab check {}`",
                lab.number
            );
        }
        if program == Program::Solution && !edition::SOLUTIONS_INCLUDED {
            return Err(LabError::NoSolutions(format!(
                "lab {} has no reference solution here",
                lab.number
            )));
        }
        Ok((lab, (lab.check)(lab, program, quick)?))
    });
    let report = Report::new(number, program, quick, &verdict);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a lab report serializes")
        );
    } else {
        match &verdict {
            Ok((_, v)) => v.print(),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    if let Some(path) = junit {
        if let Err(e) = std::fs::write(&path, report.junit()) {
            eprintln!("error: could not write {}: {e}", path.display());
            return ExitCode::from(CANNOT_CHECK);
        }
    }
    ExitCode::from(report.exit_code)
}

/// Does what the command says.
fn run(command: LabCommand) -> Result<ExitCode, LabError> {
    match command {
        LabCommand::List => {
            let title = LABS.iter().map(|l| l.title.len()).max().unwrap_or(0);
            let statement = LABS.iter().map(|l| l.statement().len()).max().unwrap_or(0);
            for lab in LABS {
                println!(
                    "lab {}: {:<title$} statement {:<statement$} edit {}",
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
            match reset(lab)? {
                Some(backup) => println!(
                    "lab {}: {} is the starter again; your version is saved as {}",
                    lab.number,
                    lab.file(Program::Yours),
                    backup
                ),
                None => println!(
                    "lab {}: {} was already the starter; nothing to save",
                    lab.number,
                    lab.file(Program::Yours)
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::StudentEdition { dir } => {
            let written = edition::write(&dir)?;
            println!(
                "wrote the student edition to {}: {} files, every lab's copy its starter; left \
                 out: {}",
                dir.display(),
                written.files,
                written.left_out.join(", ")
            );
            println!(
                "it has no git history: `git init` there to start its own; \
                 `cargo test -p evloop-bench --test labs` there checks that every starter FAILs"
            );
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Check { lab, .. } => {
            unreachable!("lab check {lab} is handled by `check`")
        }
        LabCommand::Run {
            lab,
            program,
            quick,
            dir,
            round,
        } => {
            let lab = Lab::find(lab)?;
            (lab.run)(program, quick, RunOptions { dir, round })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Puts the starter back over the student's copy of `lab`, after saving the copy (unless it
/// is the starter already) as `<file>.backup-N` next to it, N the first number not taken: a
/// second reset never overwrites the first one's backup. Returns the backup's path, relative
/// to the workspace root.
///
/// # Errors
///
/// [`LabError::Io`] if a file cannot be read, copied or written.
fn reset(lab: Lab) -> Result<Option<String>, LabError> {
    let name = lab.file_name(Program::Yours);
    let saved = reset_in(&lab.dir(), name, lab.file_name(Program::Starter))?;
    Ok(saved.map(|n| format!("{}.backup-{n}", lab.file(Program::Yours))))
}

/// [`reset`] in directory `dir`, for the files named `yours` and `starter`; returns the number
/// of the backup it made, if it made one.
fn reset_in(dir: &std::path::Path, yours: &str, starter: &str) -> Result<Option<u32>, LabError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(LabError::io(format!("read {}", path.display())))
    };
    let (copy, starter) = (dir.join(yours), dir.join(starter));
    let starter_text = read(&starter)?;
    let mut backup = None;
    if copy.exists() {
        let text = read(&copy)?;
        if text != starter_text {
            let n = (1..)
                .find(|n| !dir.join(format!("{yours}.backup-{n}")).exists())
                .expect("a free number");
            let saved = dir.join(format!("{yours}.backup-{n}"));
            // `create_new`: a backup that appeared meanwhile is not overwritten either.
            let mut file = std::fs::File::create_new(&saved)
                .map_err(LabError::io(format!("create {}", saved.display())))?;
            std::io::Write::write_all(&mut file, &text)
                .map_err(LabError::io(format!("write {}", saved.display())))?;
            backup = Some(n);
        }
    }
    std::fs::write(&copy, &starter_text)
        .map_err(LabError::io(format!("write {}", copy.display())))?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::reset_in;

    #[test]
    fn reset_keeps_every_version_it_replaces_and_never_overwrites_a_backup() {
        let dir = std::env::temp_dir().join(format!("evloop-lab-reset-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        write("starter.rs", "starter");
        write("lab.rs", "my first try");
        assert_eq!(reset_in(&dir, "lab.rs", "starter.rs").unwrap(), Some(1));
        assert_eq!(read("lab.rs"), "starter");
        assert_eq!(read("lab.rs.backup-1"), "my first try");
        // Nothing to save: no backup.
        assert_eq!(reset_in(&dir, "lab.rs", "starter.rs").unwrap(), None);
        write("lab.rs", "my second try");
        assert_eq!(reset_in(&dir, "lab.rs", "starter.rs").unwrap(), Some(2));
        assert_eq!(
            read("lab.rs.backup-1"),
            "my first try",
            "the first backup was kept"
        );
        assert_eq!(read("lab.rs.backup-2"), "my second try");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

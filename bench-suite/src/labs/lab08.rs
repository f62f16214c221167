//! Lab 8, the loop's lifecycle: the harness that runs the program's four scenes, and the
//! checker, which compares the student's predictions (an answers file) with what the loop did
//! on this run.

use serde::{Deserialize, Serialize};

use super::lab::{Lab, Program};
use super::predict;
use super::process;
use super::verdict::{LabError, Verdict};

/// What the program did, in the answers' words, printed for the checker.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    /// Scene 1: `waited-for`, `cancelled` or `leaked`.
    pending: String,
    /// Scene 1: tasks in the dump.
    dumped: usize,
    /// Scene 2: `finished` or `cancelled`.
    detached: String,
    /// Scene 3: `works`, `error` or `refused`.
    resource: String,
    /// Scene 4: `runs` or `refused`.
    nested: String,
}

/// Runs the program's scenes and prints their [`Outcome`] (the log, the task dump and the
/// loop's messages go to stderr as the program runs).
///
/// # Errors
///
/// None so far: the scenes build their own loops, and a loop that cannot be built panics.
pub fn run() -> Result<(), LabError> {
    let seen = super::lab08_program::main();
    let pending = if seen.pending_woke && seen.pending_run_ms >= 2_000 {
        "waited-for"
    } else if seen.pending_dropped_before_return {
        "cancelled"
    } else {
        "leaked"
    };
    eprintln!(
        "scene 1: evloop::run took {} ms; P {} its sleep; its guard was {}dropped before run \
         returned; outer loop of scene 4 {}",
        seen.pending_run_ms,
        if seen.pending_woke {
            "finished"
        } else {
            "never finished"
        },
        if seen.pending_dropped_before_return {
            ""
        } else {
            "not "
        },
        if seen.outer_finished {
            "finished"
        } else {
            "did not finish"
        },
    );
    process::print_result(&Outcome {
        pending: pending.into(),
        dumped: seen.dumped,
        detached: if seen.detached_finished {
            "finished"
        } else {
            "cancelled"
        }
        .into(),
        resource: seen.resource,
        nested: seen.nested,
    });
    Ok(())
}

/// Checks the answers file of `program` against a run of the program.
///
/// # Errors
///
/// The answers file cannot be read, or the program does not finish.
pub fn check(lab: Lab, program: Program, quick: bool) -> Result<Verdict, LabError> {
    predict::check_run(
        lab,
        program,
        quick,
        |actual: Outcome| {
            vec![
                ("pending", actual.pending),
                ("dumped", actual.dumped.to_string()),
                ("detached", actual.detached),
                ("resource", actual.resource),
                ("nested", actual.nested),
            ]
        },
        "the log, the task dump and the loop's messages",
    )
}

//! Lab 2, watch the cycle: the harness that runs the program with the cycle trace on, and the
//! checker, which compares the student's predictions (an answers file) with what the program
//! did on this run.

use serde::{Deserialize, Serialize};

use super::lab::{Lab, Program};
use super::predict;
use super::process;
use super::verdict::{LabError, Verdict};

/// What the program did, printed for the checker.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    /// The labels, in order, separated by spaces.
    order: String,
    /// Cycles completed when the main future ended.
    cycles: u64,
    /// Tasks the dump listed.
    dumped: usize,
}

/// Runs the program with the cycle trace on and prints its [`Outcome`] (the trace and the
/// task dump go to stderr and stdout as the program runs).
///
/// # Errors
///
/// The runtime could not be built.
pub fn run() -> Result<(), LabError> {
    let rt = process::build_loop(evloop::Builder::new().name("lab02").trace_cycles(true))?;
    let seen = rt.block_on(super::lab02_program::main());
    process::print_result(&Outcome {
        order: seen.order.join(" "),
        cycles: seen.cycles,
        dumped: seen.dumped,
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
                ("order", actual.order),
                ("cycles", actual.cycles.to_string()),
                ("dumped", actual.dumped.to_string()),
            ]
        },
        "the cycle trace, the task dump",
    )
}

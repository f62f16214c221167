//! `evloop-bench lab`: the course labs of `docs/labs/`, their programs and their checkers.
//!
//! Each lab has a directory under `bench-suite/labs/NN-topic/` holding three versions of one
//! Rust file: `lab.rs`, the student's working copy, `starter.rs`, the pristine starter that
//! `lab reset N` copies over `lab.rs`, and `solution.rs`, the reference solution. All three
//! are compiled into this binary as modules (below), so `cargo run --release -p evloop-bench --
//! lab check N` rebuilds the student's edits in release mode before it checks them, with no
//! nested build. (Lab 2 is the exception: its versions are answer files, `answers.txt`,
//! `starter.txt` and `solution.txt`, about one program, `program.rs`.)
//!
//! A checker never calls a lab program in its own process: it starts this binary again as
//! `evloop-bench lab run N --program P` (a hidden subcommand), with a time limit, reads the
//! figures the program's harness prints on its last line, and compares the student's program
//! with the starter, or with a baseline measured in the same run, on the same machine.

mod catalog;
mod cli;
mod edition;
mod heartbeat;
mod lab;
mod lab01;
mod lab02;
mod lab03;
mod lab04;
mod lab05;
mod lab06;
mod lab07;
mod lab08;
mod lab09;
mod predict;
mod process;
mod report;
mod verdict;

pub use cli::{command, main};

/// Lab 1, the reference solution.
#[cfg(lab_solutions)]
#[path = "../../labs/01-build-the-loop/solution.rs"]
mod lab01_solution;
/// Lab 1 in a student edition, which has no reference solution: the command line refuses
/// `--program solution` there, so this name is never run.
#[cfg(not(lab_solutions))]
use lab01_starter as lab01_solution;
/// Lab 1, the starter.
#[path = "../../labs/01-build-the-loop/starter.rs"]
mod lab01_starter;
/// Lab 1, the student's copy.
#[path = "../../labs/01-build-the-loop/lab.rs"]
mod lab01_yours;

/// Lab 2, the program whose cycles the student predicts (the same for every version: the
/// versions are answer files).
#[path = "../../labs/02-watch-the-cycle/program.rs"]
mod lab02_program;
/// Lab 3, the reference solution.
#[cfg(lab_solutions)]
#[path = "../../labs/03-frozen-server/solution.rs"]
mod lab03_solution;
/// Lab 8, the program whose scenes the student predicts (the same for every version: the
/// versions are answer files).
#[path = "../../labs/08-loop-lifecycle/program.rs"]
mod lab08_program;
/// Lab 3 in a student edition, which has no reference solution: the command line refuses
/// `--program solution` there, so this name is never run.
#[cfg(not(lab_solutions))]
use lab03_starter as lab03_solution;
/// Lab 3, the starter.
#[path = "../../labs/03-frozen-server/starter.rs"]
mod lab03_starter;

/// Lab 3, the student's copy.
#[path = "../../labs/03-frozen-server/lab.rs"]
mod lab03_yours;

/// Lab 4, the reference solution.
#[cfg(lab_solutions)]
#[path = "../../labs/04-legacy-code/solution.rs"]
mod lab04_solution;
/// Lab 4 in a student edition, which has no reference solution: the command line refuses
/// `--program solution` there, so this name is never run.
#[cfg(not(lab_solutions))]
use lab04_starter as lab04_solution;
/// Lab 4, the starter.
#[path = "../../labs/04-legacy-code/starter.rs"]
mod lab04_starter;
/// Lab 4, the student's copy.
#[path = "../../labs/04-legacy-code/lab.rs"]
mod lab04_yours;

/// Lab 5, the reference solution.
#[cfg(lab_solutions)]
#[path = "../../labs/05-cpu-bound/solution.rs"]
mod lab05_solution;
/// Lab 5 in a student edition, which has no reference solution: the command line refuses
/// `--program solution` there, so this name is never run.
#[cfg(not(lab_solutions))]
use lab05_starter as lab05_solution;
/// Lab 5, the starter.
#[path = "../../labs/05-cpu-bound/starter.rs"]
mod lab05_starter;
/// Lab 5, the student's copy.
#[path = "../../labs/05-cpu-bound/lab.rs"]
mod lab05_yours;

/// Lab 6, the reference solution.
#[cfg(lab_solutions)]
#[path = "../../labs/06-yield-batch/solution.rs"]
mod lab06_solution;
/// Lab 6 in a student edition, which has no reference solution: the command line refuses
/// `--program solution` there, so this name is never run.
#[cfg(not(lab_solutions))]
use lab06_starter as lab06_solution;
/// Lab 6, the starter.
#[path = "../../labs/06-yield-batch/starter.rs"]
mod lab06_starter;
/// Lab 6, the student's copy.
#[path = "../../labs/06-yield-batch/lab.rs"]
mod lab06_yours;

/// Lab 7, the reference solution.
#[cfg(lab_solutions)]
#[path = "../../labs/07-lost-update/solution.rs"]
mod lab07_solution;
/// Lab 7 in a student edition, which has no reference solution: the command line refuses
/// `--program solution` there, so this name is never run.
#[cfg(not(lab_solutions))]
use lab07_starter as lab07_solution;
/// Lab 7, the starter.
#[path = "../../labs/07-lost-update/starter.rs"]
mod lab07_starter;
/// Lab 7, the student's copy.
#[path = "../../labs/07-lost-update/lab.rs"]
mod lab07_yours;

/// Lab 9, the reference solution.
#[cfg(lab_solutions)]
#[path = "../../labs/09-memory-per-unit/solution.rs"]
mod lab09_solution;
/// Lab 9 in a student edition, which has no reference solution: the command line refuses
/// `--program solution` there, so this name is never run.
#[cfg(not(lab_solutions))]
use lab09_starter as lab09_solution;
/// Lab 9, the starter.
#[path = "../../labs/09-memory-per-unit/starter.rs"]
mod lab09_starter;
/// Lab 9, the student's copy.
#[path = "../../labs/09-memory-per-unit/lab.rs"]
mod lab09_yours;

//! Lab 9, memory per unit: the harness that runs the student's measurements, each in a fresh
//! child process, and the checker, which compares them with the report's method (section 1,
//! `report::sections::memory`) run in fresh processes beside them.

use std::time::Duration;

use evloop_bench::report::format::bytes;
use evloop_bench::report::sections::memory::{measure, SMALL_STACK};
use serde::{Deserialize, Serialize};

use super::lab::{Lab, Program};
use super::process;
use super::verdict::{Check, LabError, Verdict};

/// How long the measured tasks sleep: long enough that none wakes during a measurement.
pub const NAP: Duration = Duration::from_secs(60);

/// How far the student's figure may be from the report's, as a share of the report's. The two
/// methods agree within a few percent when both measure many units in a fresh process; a size
/// computed from the code is off by a factor of several.
const TOLERANCE: f64 = 0.35;

/// The resident memory of this process, in bytes (`/proc/self/statm` on Linux, `ps`
/// elsewhere).
///
/// # Panics
///
/// If the system will not say (no `/proc` on Linux, no `ps` elsewhere).
// The starter does not measure yet (the reference solution and the student's do).
#[cfg_attr(not(lab_solutions), allow(dead_code))]
pub fn resident_bytes() -> u64 {
    evloop_bench::workloads::memory::usage()
        .expect("read this process's memory use")
        .resident
}

/// The three measurements: what, how many units, and the thread stack.
const UNITS: [(&str, Option<usize>); 3] = [
    ("sleeping task", None),
    ("thread, default stack", None),
    ("thread, 64 KiB stack", Some(SMALL_STACK)),
];

/// How many units each measurement uses: tasks, threads.
fn counts(quick: bool) -> (usize, usize) {
    if quick {
        (20_000, 200)
    } else {
        (100_000, 1_000)
    }
}

/// What one of the student's measurements gave.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    /// Units measured.
    count: usize,
    /// Resident bytes per unit.
    bytes: f64,
    /// The student's `WHY`.
    why: String,
}

/// Runs measurement `round` (an index into [`UNITS`]) of `program` and prints its
/// [`Outcome`].
///
/// # Errors
///
/// An unknown round.
pub fn run(program: Program, quick: bool, round: u32) -> Result<(), LabError> {
    let (tasks, threads) = counts(quick);
    let (_, stack) = *UNITS.get(round as usize).ok_or_else(|| LabError::Io {
        what: format!("run measurement {round} of lab 9"),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "there are three: 0 to 2"),
    })?;
    let count = if round == 0 { tasks } else { threads };
    let (bytes, why) = match (program, round) {
        (Program::Yours, 0) => (
            super::lab09_yours::bytes_per_sleeping_task(count),
            super::lab09_yours::WHY,
        ),
        (Program::Yours, _) => (
            super::lab09_yours::bytes_per_thread(count, stack),
            super::lab09_yours::WHY,
        ),
        (Program::Starter, 0) => (
            super::lab09_starter::bytes_per_sleeping_task(count),
            super::lab09_starter::WHY,
        ),
        (Program::Starter, _) => (
            super::lab09_starter::bytes_per_thread(count, stack),
            super::lab09_starter::WHY,
        ),
        (Program::Solution, 0) => (
            super::lab09_solution::bytes_per_sleeping_task(count),
            super::lab09_solution::WHY,
        ),
        (Program::Solution, _) => (
            super::lab09_solution::bytes_per_thread(count, stack),
            super::lab09_solution::WHY,
        ),
    };
    process::print_result(&Outcome {
        count,
        bytes,
        why: why.to_owned(),
    });
    Ok(())
}

/// Resident bytes per unit by the report's method, in a fresh child process.
fn reference(round: usize, quick: bool) -> Result<f64, LabError> {
    let (tasks, threads) = counts(quick);
    let (unit, count) = if round == 0 {
        ("evloop", tasks)
    } else {
        ("threads", threads)
    };
    let usage = measure(unit, count, UNITS[round].1).map_err(|e| LabError::Io {
        what: format!("measure {} by the report's method", UNITS[round].0),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(usage.resident as f64 / count as f64)
}

/// Checks `program`'s three measurements against the report's method.
///
/// # Errors
///
/// A program or a reference measurement that cannot be started, or that does not finish.
pub fn check(lab: Lab, program: Program, quick: bool) -> Result<Verdict, LabError> {
    let limit = Duration::from_secs(120);
    let who = if program == Program::Yours {
        "yours"
    } else {
        program.name()
    };
    let mut measured = Vec::new();
    let mut checks = Vec::new();
    let mut figures = Vec::new();
    let mut why = String::new();
    for (round, (name, _)) in UNITS.iter().enumerate() {
        let arg = round.to_string();
        let yours: Outcome =
            process::start(lab, program, quick, &["--round", &arg])?.result(limit)?;
        let reference = reference(round, quick)?;
        why = yours.why.clone();
        let off = yours.bytes / reference.max(1.0) - 1.0;
        measured.push(format!(
            "{name:<22} {who}: {} per unit ({} units); the report's method: {} ({:+.0}%)",
            bytes(yours.bytes),
            yours.count,
            bytes(reference),
            off * 100.0
        ));
        let key = ["task", "thread_default", "thread_small"][round];
        checks.push(
            Check::new(
                format!(
                    "resident bytes per {name} within {:.0}% of the report's method",
                    TOLERANCE * 100.0
                ),
                off.abs() <= TOLERANCE,
                format!(
                    "{name}: {} per unit is {:+.0}% off the {} that the machine shows (at most \
                     {:.0}% either way): measure the process's resident memory before and after \
                     starting many units, rather than computing a size from the code",
                    bytes(yours.bytes),
                    off * 100.0,
                    bytes(reference),
                    TOLERANCE * 100.0
                ),
            )
            .figure(&format!("{key}_yours_bytes"), yours.bytes)
            .figure(&format!("{key}_reference_bytes"), reference)
            .figure(&format!("{key}_off_pct"), off * 100.0),
        );
        figures.push(reference);
    }
    measured.push(format!(
        "so a thread with the default stack costs {:.0}x a sleeping task's resident memory \
         here (the report's figures)",
        figures[1] / figures[0].max(1.0)
    ));
    measured.push(format!(
        "WHY: {}",
        if why.trim().is_empty() {
            "(WHY is empty)"
        } else {
            why.trim()
        }
    ));
    checks.push(Check::new(
        "WHY explains the gap between a task and a thread",
        !why.trim().is_empty(),
        "WHY is empty: say in a line or two where a thread's extra bytes come from",
    ));
    let pass_reason = format!(
        "your three figures are within {:.0}% of the report's method, and WHY says where the \
         gap comes from",
        TOLERANCE * 100.0
    );
    Ok(Verdict::from_checks(measured, checks, pass_reason))
}

//! The labs: one table, as the report's `SECTIONS`. Adding a lab is a row here, its module
//! (`labNN.rs`), its three versions (below in `mod.rs`), and its statement.

use super::lab::Lab;
use super::{lab01, lab02, lab03, lab04, lab05, lab06, lab07, lab08, lab09};

/// Every lab that has a checker, in order.
pub const LABS: [Lab; 9] = [
    Lab {
        number: 1,
        slug: "01-build-the-loop",
        title: "build the loop",
        files: PROGRAM_FILES,
        check: lab01::check,
        run: |program, _, _| lab01::run(program),
    },
    Lab {
        number: 2,
        slug: "02-watch-the-cycle",
        title: "watch the cycle",
        files: ANSWER_FILES,
        check: lab02::check,
        run: |_, _, _| lab02::run(),
    },
    Lab {
        number: 3,
        slug: "03-frozen-server",
        title: "the frozen server",
        files: PROGRAM_FILES,
        check: lab03::check,
        run: |program, _, options| lab03::run(program, options.dir),
    },
    Lab {
        number: 4,
        slug: "04-legacy-code",
        title: "legacy code",
        files: PROGRAM_FILES,
        check: lab04::check,
        run: |program, quick, _| lab04::run(program, quick),
    },
    Lab {
        number: 5,
        slug: "05-cpu-bound",
        title: "CPU-bound work",
        files: PROGRAM_FILES,
        check: lab05::check,
        run: |program, quick, _| lab05::run(program, quick),
    },
    Lab {
        number: 6,
        slug: "06-yield-batch",
        title: "yield batch size",
        files: PROGRAM_FILES,
        check: lab06::check,
        run: |program, quick, _| lab06::run(program, quick),
    },
    Lab {
        number: 7,
        slug: "07-lost-update",
        title: "the lost update",
        files: PROGRAM_FILES,
        check: lab07::check,
        run: |program, _, options| lab07::run(program, options.round),
    },
    Lab {
        number: 8,
        slug: "08-loop-lifecycle",
        title: "the loop's lifecycle",
        files: ANSWER_FILES,
        check: lab08::check,
        run: |_, _, _| lab08::run(),
    },
    Lab {
        number: 9,
        slug: "09-memory-per-unit",
        title: "memory per unit",
        files: PROGRAM_FILES,
        check: lab09::check,
        run: |program, quick, options| lab09::run(program, quick, options.round),
    },
];

/// The files of a lab whose versions are answer files about one program.
const ANSWER_FILES: [&str; 3] = ["answers.txt", "starter.txt", "solution.txt"];

/// The files of a lab whose versions are Rust programs.
const PROGRAM_FILES: [&str; 3] = ["lab.rs", "starter.rs", "solution.rs"];

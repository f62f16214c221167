//! The report: `evloop-bench report` runs the sections (the seventh, the scale curve, with
//! `--scale`), prints a summary and writes
//! `REPORT.md`, SVG plots and `report.json` into the output directory.
//!
//! The output directory is checked (created, and a file written and removed) before any
//! experiment runs. Each section runs in turn, guarded: a failed experiment or a panic marks
//! its section failed and keeps the figures measured before it; Ctrl-C marks the section
//! running interrupted and every later one not run. The files are written in every case.

pub mod children;
pub mod cli;
pub mod error;
pub mod format;
pub mod limits;
pub mod machine;
pub mod markdown;
pub mod model;
pub mod plot;
pub mod progress;
pub mod sections;
pub mod stats;

use std::fs;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

use crate::report::cli::ReportArgs;
use crate::report::error::{ReportError, SectionError};
use crate::report::model::{Report, Section, Status};
use crate::report::sections::{Ctx, Shared, Sizes, SECTIONS};

/// Runs the report as `args` asks and writes its files; returns the report.
///
/// # Errors
///
/// Returns [`ReportError::OutputDir`] before any experiment if the output directory cannot be
/// written, [`ReportError::UnknownSection`] for a bad `--only`, and [`ReportError::Write`] if
/// writing the results fails. A failed or interrupted experiment is not an error: it is
/// recorded in the report.
pub fn run(args: &ReportArgs) -> Result<Report, ReportError> {
    if let Some(only) = &args.only {
        if !SECTIONS.iter().any(|s| s.id == only) {
            return Err(ReportError::UnknownSection {
                given: only.clone(),
                known: SECTIONS.iter().map(|s| s.id).collect(),
            });
        }
    }
    check_output_dir(&args.out)?;
    children::install_interrupt_handler().map_err(ReportError::Signal)?;

    let started = Instant::now();
    let machine = machine::describe();
    if let Some(warning) = markdown::busy_warning(&machine) {
        eprintln!("evloop-bench report: warning: {warning}");
    }
    let sizes = Sizes::new(args.quick);
    let mut shared = Shared::default();
    let mut sections = Vec::new();
    for spec in SECTIONS {
        let mut section = Section {
            id: spec.id.into(),
            title: spec.title.into(),
            status: Status::Done,
            notes: Vec::new(),
            tables: Vec::new(),
            plots: Vec::new(),
            seconds: 0.0,
        };
        if args.only.as_deref().is_some_and(|only| only != spec.id) {
            section.status = Status::NotRun(format!("--only {}", args.only.as_deref().unwrap()));
        } else if spec.needs_scale && !args.scale {
            section.status = Status::NotRun(
                "it takes minutes and tens of thousands of connections: run with --scale".into(),
            );
        } else if children::interrupted() {
            section.status = Status::NotRun("interrupted before this section".into());
        } else {
            let t = Instant::now();
            let mut ctx = Ctx::new(spec.id, &sizes, &args.out, &mut shared);
            let outcome = catch_unwind(AssertUnwindSafe(|| (spec.run)(&mut ctx, &mut section)));
            section.status = match outcome {
                Ok(Ok(())) => Status::Done,
                Ok(Err(SectionError::Interrupted)) => Status::Interrupted,
                Ok(Err(SectionError::Failed(e))) => Status::Failed(e),
                Err(panic) => Status::Failed(format!(
                    "an experiment panicked: {}",
                    panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("(no message)")
                )),
            };
            if children::interrupted() && section.status == Status::Done {
                section.status = Status::Interrupted;
            }
            ctx.progress.finish(match section.status {
                Status::Done => "done",
                Status::Interrupted => "interrupted",
                _ => "failed",
            });
            section.seconds = t.elapsed().as_secs_f64();
        }
        for t in &mut section.tables {
            t.compute_ratios();
        }
        sections.push(section);
    }
    let report = Report {
        machine,
        quick: args.quick,
        only: args.only.clone(),
        run_seconds: started.elapsed().as_secs_f64(),
        sections,
    };
    write_files(&args.out, &report)?;
    Ok(report)
}

/// Creates `dir` and proves it writable by writing and removing a file.
fn check_output_dir(dir: &Path) -> Result<(), ReportError> {
    let fail = |source| ReportError::OutputDir {
        dir: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(".evloop-report-probe");
    fs::File::create(&probe)
        .and_then(|mut f| f.write_all(b"probe"))
        .map_err(fail)?;
    fs::remove_file(&probe).map_err(fail)
}

fn write_files(dir: &Path, report: &Report) -> Result<(), ReportError> {
    let write = |name: &str, text: &str| {
        let file = dir.join(name);
        fs::write(&file, text).map_err(|source| ReportError::Write { file, source })
    };
    write("REPORT.md", &markdown::report(report))?;
    let json = serde_json::to_string_pretty(report).expect("the model serializes");
    write("report.json", &json)
}

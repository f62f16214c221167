//! The sections, their sizes (`--quick` or full), and what they share.

pub mod loops;
pub mod memory;
pub mod offload;
pub mod overhead;
pub mod peers;
pub mod scale;
pub mod threads;
pub mod yield_batch;

use std::path::Path;
use std::time::Duration;

use crate::report::children;
use crate::report::error::SectionError;
use crate::report::model::{Better, Cell, Column, ColumnKind, Plot, Row, Section, Table};
use crate::report::progress::Progress;

/// A section: its `--only` name, its title, and the function that runs it.
#[derive(Debug)]
pub struct Spec {
    /// Short name.
    pub id: &'static str,
    /// Title with the slides it measures.
    pub title: &'static str,
    /// Runs the experiments, adding tables, notes and plots to the section as they complete.
    pub run: fn(&mut Ctx<'_>, &mut Section) -> Result<(), SectionError>,
    /// Whether the section runs only when asked for with `--scale` (it takes minutes).
    pub needs_scale: bool,
}

/// The sections in report order.
pub const SECTIONS: [Spec; 8] = [
    Spec {
        id: "memory",
        title: "Memory per unit (slides 2 and 11)",
        run: memory::run,
        needs_scale: false,
    },
    Spec {
        id: "offload",
        title: "Blocking versus offloading (slides 7 and 8)",
        run: offload::run,
        needs_scale: false,
    },
    Spec {
        id: "yield",
        title: "Yield batch size (slide 9)",
        run: yield_batch::run,
        needs_scale: false,
    },
    Spec {
        id: "threads",
        title: "Event loop versus threads (slide 11)",
        run: threads::run,
        needs_scale: false,
    },
    Spec {
        id: "peers",
        title: "evloop against its peers",
        run: peers::run,
        needs_scale: false,
    },
    Spec {
        id: "overhead",
        title: "Instrumentation overhead",
        run: overhead::run,
        needs_scale: false,
    },
    Spec {
        id: "loops",
        title: "One loop per core: a server on two threads",
        run: loops::run,
        needs_scale: false,
    },
    Spec {
        id: "scale",
        title: "Scale: connections on one thread, as far as the machine allows (slide 11)",
        run: scale::run,
        needs_scale: true,
    },
];

/// How big each experiment is.
#[derive(Clone, Debug)]
pub struct Sizes {
    /// Whether these are the `--quick` sizes.
    pub quick: bool,
    /// Interleaved rounds of each comparison (the median is reported).
    pub rounds: usize,
    /// Sleeping tasks per memory measurement.
    pub mem_tasks: usize,
    /// Parked threads per memory measurement.
    pub mem_threads: usize,
    /// Length of each blocking-versus-offloading run.
    pub offload_window: Duration,
    /// Heartbeat tasks next to the blocking work.
    pub heartbeats: usize,
    /// Length of one blocking call or one piece of CPU work.
    pub block: Duration,
    /// Items of the yield-batch loop.
    pub yield_items: u64,
    /// Concurrent connections wanted in the loop-versus-threads section.
    pub conns: usize,
    /// Seconds of echo traffic per server.
    pub echo_seconds: f64,
    /// Operations per sample in the peers and overhead sections (scaled per workload).
    pub ops: u64,
    /// Idle connections registered for the second `yield_now` row.
    pub idle_conns: usize,
}

impl Sizes {
    /// The full sizes, or the `--quick` ones. A debug build (the test profile) takes smaller
    /// quick sizes still, so that `cargo test` runs the quick report in seconds.
    pub fn new(quick: bool) -> Sizes {
        let debug = cfg!(debug_assertions);
        if quick {
            Sizes {
                quick,
                rounds: if debug { 3 } else { 5 },
                mem_tasks: 20_000,
                mem_threads: 200,
                offload_window: Duration::from_millis(if debug { 300 } else { 1_000 }),
                heartbeats: 100,
                block: Duration::from_millis(50),
                yield_items: if debug { 100_000 } else { 300_000 },
                conns: if debug { 200 } else { 1_000 },
                echo_seconds: if debug { 0.3 } else { 1.0 },
                ops: if debug { 2_000 } else { 10_000 },
                idle_conns: if debug { 100 } else { 1_000 },
            }
        } else {
            Sizes {
                quick,
                rounds: 11,
                mem_tasks: 100_000,
                mem_threads: 2_000,
                offload_window: Duration::from_secs(2),
                heartbeats: 100,
                block: Duration::from_millis(50),
                yield_items: 1_000_000,
                conns: 10_000,
                echo_seconds: 3.0,
                ops: 50_000,
                idle_conns: 1_000,
            }
        }
    }

    /// How samples of a comparison were taken, for a row's `method`.
    pub fn method(&self, ops: u64) -> String {
        format!(
            "median of {} interleaved rounds of {} operations",
            self.rounds,
            crate::report::format::number(ops as f64)
        )
    }
}

/// Figures one section measures for a later one.
#[derive(Clone, Debug, Default)]
pub struct Shared {
    /// Resident and virtual bytes per sleeping task, per runtime name.
    pub task_usage: Vec<(String, f64, f64)>,
    /// Resident and virtual bytes per parked thread with Rust's default stack.
    pub thread_default: Option<(f64, f64)>,
}

/// What a section runs with.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// Experiment sizes.
    pub sizes: &'a Sizes,
    /// Output directory, for plots and shipped scripts.
    pub out_dir: &'a Path,
    /// The section's progress bar.
    pub progress: Progress,
    /// Figures shared between sections.
    pub shared: &'a mut Shared,
}

impl<'a> Ctx<'a> {
    /// The context of section `id`.
    pub fn new(id: &str, sizes: &'a Sizes, out_dir: &'a Path, shared: &'a mut Shared) -> Self {
        Ctx {
            sizes,
            out_dir,
            progress: Progress::new(id, 0),
            shared,
        }
    }

    /// Starts a step: checks for Ctrl-C first.
    ///
    /// # Errors
    ///
    /// [`SectionError::Interrupted`] after Ctrl-C.
    pub fn step(&self, what: &str) -> Result<(), SectionError> {
        if children::interrupted() {
            return Err(SectionError::Interrupted);
        }
        self.progress.step(what);
        Ok(())
    }

    /// Draws a plot with `draw` into `file` in the output directory and lists it in `section`.
    ///
    /// # Errors
    ///
    /// [`SectionError::Failed`] if drawing fails.
    pub fn plot(
        &self,
        section: &mut Section,
        file: &str,
        caption: &str,
        draw: impl FnOnce(&Path) -> Result<(), String>,
    ) -> Result<(), SectionError> {
        draw(&self.out_dir.join(file)).map_err(SectionError::Failed)?;
        section.plots.push(Plot {
            file: file.into(),
            caption: caption.into(),
        });
        Ok(())
    }
}

/// The columns of a runtime comparison: evloop, tokio, smol, then `extra` (asyncio, floors).
pub fn runtime_columns(extra: &[(&str, ColumnKind)]) -> Vec<Column> {
    let mut cols = vec![
        column("evloop", ColumnKind::Subject),
        column("tokio", ColumnKind::Peer),
        column("smol", ColumnKind::Peer),
    ];
    cols.extend(extra.iter().map(|(n, k)| column(n, *k)));
    cols
}

/// A column with no fixed unit.
pub fn column(name: &str, kind: ColumnKind) -> Column {
    Column {
        name: name.into(),
        unit: None,
        kind,
    }
}

/// A table with no rows yet.
pub fn table(caption: &str, columns: Vec<Column>) -> Table {
    Table {
        caption: caption.into(),
        columns,
        rows: Vec::new(),
    }
}

/// A row of a comparison.
pub fn row(measured: &str, unit: &str, method: String, better: Better, cells: Vec<Cell>) -> Row {
    Row {
        measured: measured.into(),
        unit: Some(unit.into()),
        method,
        better,
        cells,
        summary: false,
        vs_best_peer: None,
    }
}

/// The median of `samples` as a cell, or "not run" if there are none (the experiment stopped
/// before it).
pub fn median_cell(mut samples: Vec<f64>) -> Cell {
    let n = samples.len() as u64;
    match crate::report::stats::median(&mut samples) {
        Some(v) => Cell::value(v, n),
        None => Cell::missing("not run"),
    }
}

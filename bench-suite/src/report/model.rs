//! What the report holds: sections of tables of figures, and the machine they were measured on.
//! `report.json` is this model serialized; `REPORT.md` and the terminal summary render it.
//!
//! # Ratios
//!
//! Every ratio in the report, wherever it is shown, compares **costs**: a figure's cost is the
//! figure itself where lower is better (time, memory) and its inverse where higher is better
//! (throughput). A ratio above 1 is therefore always the worse side, whatever the row measures:
//!
//! - a cell's [`Cell::ratio_to_best`] is its cost over the cost of the best runtime of its row
//!   (the best shows `1.00×`);
//! - a row's [`Row::vs_best_peer`] is evloop's cost over the best peer's: below 1 evloop is
//!   ahead, above 1 behind. The summary table, the sections' tables, `report.json`, the
//!   shortfall sentence and `peers.svg` all show this one figure.

use serde::{Deserialize, Serialize};

/// The whole report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// The machine the figures were measured on.
    pub machine: Machine,
    /// Whether the run used the `--quick` sizes.
    pub quick: bool,
    /// The section named by `--only`, if any.
    pub only: Option<String>,
    /// Wall time of the whole run, in seconds.
    pub run_seconds: f64,
    /// Every section, in order, whether run or not.
    pub sections: Vec<Section>,
}

/// The machine: enough for a reader to judge whether figures compare.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name (`/proc/cpuinfo`).
    pub cpu_model: String,
    /// Logical CPUs available to this process.
    pub cpus: usize,
    /// Operating system (`PRETTY_NAME` of `/etc/os-release`, or the target OS).
    pub os: String,
    /// Kernel name and release (`uname`).
    pub kernel: String,
    /// When the run started, UTC, as `YYYY-MM-DD HH:MM:SS UTC`.
    pub date: String,
    /// Load average over the last minute when the run started: above 0 means other work shared
    /// the CPUs.
    pub load_average: Option<f64>,
    /// The profile the report binary was built with (`release` or `debug`).
    pub profile: String,
    /// The share of CPU time that one spinning thread per CPU got in a short window when the
    /// run started (1 on an idle machine): what other programs left to the run.
    #[serde(default)]
    pub cpu_share: Option<f64>,
}

/// One section of the report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Section {
    /// Short name, as `--only` takes it.
    pub id: String,
    /// Title, with the lecture slides it measures.
    pub title: String,
    /// Whether it ran, and how it ended.
    pub status: Status,
    /// What the reader should know to read the figures: method, caveats, skipped rows.
    pub notes: Vec<String>,
    /// The figures.
    pub tables: Vec<Table>,
    /// The plots drawn, files beside `REPORT.md`.
    pub plots: Vec<Plot>,
    /// Wall time the section took, in seconds.
    pub seconds: f64,
}

/// How a section ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum Status {
    /// Every experiment ran.
    Done,
    /// An experiment failed; the figures before it are kept, the rest was not run.
    Failed(String),
    /// Ctrl-C (or SIGTERM) stopped the section; the figures before it are kept.
    Interrupted,
    /// The section was not run (why).
    NotRun(String),
}

/// Which figures in a row are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Lower is better (time, memory).
    Lower,
    /// Higher is better (throughput, units per GiB).
    Higher,
    /// Not a comparison: no ratios.
    Neither,
}

/// What a column holds, for ratios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// evloop, the subject of the report.
    Subject,
    /// A runtime evloop is compared with.
    Peer,
    /// What the machine allows with no runtime; not part of "best peer".
    Floor,
    /// A plain figure, not a runtime.
    Plain,
}

/// A table column.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Column {
    /// Header.
    pub name: String,
    /// Unit of every figure in the column, if the column fixes it.
    pub unit: Option<String>,
    /// What the column holds.
    pub kind: ColumnKind,
}

/// A table of figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Table {
    /// What the table shows.
    pub caption: String,
    /// The columns after the row label.
    pub columns: Vec<Column>,
    /// The rows.
    pub rows: Vec<Row>,
}

/// A row: one measurement across the columns.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// What was measured.
    pub measured: String,
    /// Unit of every figure in the row, if the row fixes it.
    pub unit: Option<String>,
    /// How the figures were obtained (samples, statistic).
    pub method: String,
    /// Which figures are better.
    pub better: Better,
    /// One cell per column.
    pub cells: Vec<Cell>,
    /// Whether the row belongs in the terminal and README summary.
    pub summary: bool,
    /// evloop's cost over the best peer's (see [Ratios](self#ratios)), when the row compares
    /// them and both were measured; filled in by [`Table::compute_ratios`].
    #[serde(default)]
    pub vs_best_peer: Option<f64>,
}

/// One figure, or why there is none.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Cell {
    /// The figure, in the row's or column's unit.
    pub value: Option<f64>,
    /// Number of samples behind the figure.
    pub samples: u64,
    /// Why there is no figure ("not yet", "skipped: ..."), or a remark on it.
    pub note: Option<String>,
    /// The figure's cost over the best runtime's (subject and peers) in its row, when the row
    /// is a comparison (see [Ratios](self#ratios)): 1 for the best, above 1 for the others.
    pub ratio_to_best: Option<f64>,
}

/// A plot file beside `REPORT.md`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plot {
    /// File name, relative to the report directory.
    pub file: String,
    /// What it shows.
    pub caption: String,
}

impl Cell {
    /// A figure from `samples` samples.
    pub fn value(value: f64, samples: u64) -> Cell {
        Cell {
            value: Some(value),
            samples,
            ..Cell::default()
        }
    }

    /// No figure, and why.
    pub fn missing(note: impl Into<String>) -> Cell {
        Cell {
            note: Some(note.into()),
            ..Cell::default()
        }
    }
}

impl Row {
    /// `value` as a cost, lower being better (see [Ratios](self#ratios)); `None` for a row that
    /// does not compare, or a figure that cannot be inverted.
    pub fn cost(&self, value: f64) -> Option<f64> {
        match self.better {
            Better::Lower => Some(value),
            Better::Higher => (value > 0.0).then(|| 1.0 / value),
            Better::Neither => None,
        }
    }

    /// Whether evloop is behind its best peer in this row.
    pub fn behind(&self) -> bool {
        self.vs_best_peer.is_some_and(|r| r > 1.0)
    }
}

impl Table {
    /// Fills in every cell's [`Cell::ratio_to_best`] and every row's [`Row::vs_best_peer`].
    pub fn compute_ratios(&mut self) {
        for i in 0..self.rows.len() {
            let vs = self.subject_vs_best_peer(&self.rows[i]);
            let row = &mut self.rows[i];
            row.vs_best_peer = vs;
            let best = row
                .cells
                .iter()
                .zip(&self.columns)
                .filter(|(_, col)| matches!(col.kind, ColumnKind::Subject | ColumnKind::Peer))
                .filter_map(|(cell, _)| row.cost(cell.value?))
                .fold(f64::INFINITY, f64::min);
            if !best.is_finite() || best <= 0.0 {
                continue;
            }
            let ratios: Vec<_> = row
                .cells
                .iter()
                .map(|cell| Some(row.cost(cell.value?)? / best))
                .collect();
            for (cell, ratio) in row.cells.iter_mut().zip(ratios) {
                cell.ratio_to_best = ratio;
            }
        }
    }

    /// evloop's cost over the best peer's in `row`, if the row compares and both exist.
    pub fn subject_vs_best_peer(&self, row: &Row) -> Option<f64> {
        let mut subject = None;
        let mut best = f64::INFINITY;
        for (cell, col) in row.cells.iter().zip(&self.columns) {
            let cost = cell.value.and_then(|v| row.cost(v));
            match (col.kind, cost) {
                (ColumnKind::Subject, Some(c)) => subject = Some(c),
                (ColumnKind::Peer, Some(c)) => best = best.min(c),
                _ => {}
            }
        }
        let subject = subject?;
        (best.is_finite() && best > 0.0).then(|| subject / best)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn report_json_gives_back_every_figure_to_the_last_bit() {
        // Figures such as 26.849999999999998 print as 26.8 in REPORT.md; read back one bit off,
        // 26.85000000000001 prints as 26.9, and report.json would disagree with REPORT.md.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = (x >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((x % 12) as i32 - 3);
            let cell = Cell::value(v, 1);
            let json = serde_json::to_string(&cell).unwrap();
            let back: Cell = serde_json::from_str(&json).unwrap();
            assert_eq!(
                back.value.map(f64::to_bits),
                Some(v.to_bits()),
                "{v} via {json}"
            );
        }
    }

    /// A table of one row: evloop, tokio, smol and a floor.
    pub(crate) fn table(better: Better, values: [Option<f64>; 4]) -> Table {
        let col = |name: &str, kind| Column {
            name: name.into(),
            unit: None,
            kind,
        };
        Table {
            caption: String::new(),
            columns: vec![
                col("evloop", ColumnKind::Subject),
                col("tokio", ColumnKind::Peer),
                col("smol", ColumnKind::Peer),
                col("floor", ColumnKind::Floor),
            ],
            rows: vec![Row {
                measured: "m".into(),
                unit: Some("ns".into()),
                method: String::new(),
                better,
                cells: values
                    .iter()
                    .map(|v| match v {
                        Some(v) => Cell::value(*v, 1),
                        None => Cell::missing("not run"),
                    })
                    .collect(),
                summary: true,
                vs_best_peer: None,
            }],
        }
    }

    #[test]
    fn ratios_are_to_the_best_runtime_and_ignore_floors_and_missing_cells() {
        let mut t = table(Better::Lower, [Some(50.0), Some(100.0), None, Some(10.0)]);
        t.compute_ratios();
        let ratios: Vec<_> = t.rows[0].cells.iter().map(|c| c.ratio_to_best).collect();
        assert_eq!(ratios, [Some(1.0), Some(2.0), None, Some(0.2)]);
        assert_eq!(t.rows[0].vs_best_peer, Some(0.5));
        assert!(!t.rows[0].behind());
    }

    #[test]
    fn higher_is_better_rows_compare_inverse_figures_so_above_one_is_always_worse() {
        let mut t = table(
            Better::Higher,
            [Some(90.0), Some(100.0), Some(80.0), Some(120.0)],
        );
        t.compute_ratios();
        let ratios: Vec<_> = t.rows[0].cells.iter().map(|c| c.ratio_to_best).collect();
        let expected = [100.0 / 90.0, 1.0, 100.0 / 80.0, 100.0 / 120.0];
        for (got, want) in ratios.iter().zip(expected) {
            assert!((got.unwrap() - want).abs() < 1e-12, "{ratios:?}");
        }
        // evloop's 90 msg/s against tokio's 100: it costs 1.11x as much per message.
        let vs = t.rows[0].vs_best_peer.unwrap();
        assert!((vs - 100.0 / 90.0).abs() < 1e-12, "{vs}");
        assert!(t.rows[0].behind());
    }

    #[test]
    fn rows_that_do_not_compare_get_no_ratio() {
        let mut t = table(Better::Neither, [Some(1.0), Some(2.0), Some(3.0), None]);
        t.compute_ratios();
        assert!(t.rows[0].cells.iter().all(|c| c.ratio_to_best.is_none()));
        assert_eq!(t.subject_vs_best_peer(&t.rows[0]), None);
        // No peer measured: no verdict either.
        let t = table(Better::Lower, [Some(1.0), None, None, None]);
        assert_eq!(t.subject_vs_best_peer(&t.rows[0]), None);
    }
}

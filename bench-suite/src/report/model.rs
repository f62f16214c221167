//! What the report holds: sections of tables of figures, and the machine they were measured on.
//! `report.json` is this model serialized; `REPORT.md` and the terminal summary render it.

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
    /// The figure divided by the best runtime's in its row (subject and peers), when the row is
    /// a comparison.
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

impl Table {
    /// Fills in every cell's `ratio_to_best`: the figure over the best among the subject and
    /// peer columns of its row, for rows that compare.
    pub fn compute_ratios(&mut self) {
        for row in &mut self.rows {
            let runtimes = row
                .cells
                .iter()
                .zip(&self.columns)
                .filter(|(_, col)| matches!(col.kind, ColumnKind::Subject | ColumnKind::Peer))
                .filter_map(|(cell, _)| cell.value);
            let best = match row.better {
                Better::Lower => runtimes.fold(f64::INFINITY, f64::min),
                Better::Higher => runtimes.fold(f64::NEG_INFINITY, f64::max),
                Better::Neither => continue,
            };
            if !best.is_finite() || best == 0.0 {
                continue;
            }
            for cell in &mut row.cells {
                cell.ratio_to_best = cell.value.map(|v| v / best);
            }
        }
    }

    /// evloop's figure over the best peer's in `row`, if both exist.
    pub fn subject_vs_best_peer(&self, row: &Row) -> Option<f64> {
        let mut subject = None;
        let mut best: Option<f64> = None;
        for (cell, col) in row.cells.iter().zip(&self.columns) {
            match (col.kind, cell.value) {
                (ColumnKind::Subject, Some(v)) => subject = Some(v),
                (ColumnKind::Peer, Some(v)) => {
                    best = Some(match (best, row.better) {
                        (None, _) => v,
                        (Some(b), Better::Higher) => b.max(v),
                        (Some(b), _) => b.min(v),
                    })
                }
                _ => {}
            }
        }
        match (subject, best, row.better) {
            (_, _, Better::Neither) => None,
            (Some(s), Some(b), _) if b > 0.0 => Some(s / b),
            _ => None,
        }
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
            }],
        }
    }

    #[test]
    fn ratios_are_to_the_best_runtime_and_ignore_floors_and_missing_cells() {
        let mut t = table(Better::Lower, [Some(50.0), Some(100.0), None, Some(10.0)]);
        t.compute_ratios();
        let ratios: Vec<_> = t.rows[0].cells.iter().map(|c| c.ratio_to_best).collect();
        assert_eq!(ratios, [Some(1.0), Some(2.0), None, Some(0.2)]);
        assert_eq!(t.subject_vs_best_peer(&t.rows[0]), Some(0.5));
    }

    #[test]
    fn higher_is_better_rows_take_the_largest_as_best() {
        let mut t = table(
            Better::Higher,
            [Some(90.0), Some(100.0), Some(80.0), Some(120.0)],
        );
        t.compute_ratios();
        assert_eq!(t.rows[0].cells[1].ratio_to_best, Some(1.0));
        assert_eq!(t.rows[0].cells[0].ratio_to_best, Some(0.9));
        assert_eq!(t.subject_vs_best_peer(&t.rows[0]), Some(0.9));
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

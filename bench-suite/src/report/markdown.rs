//! `REPORT.md` and the terminal summary, rendered from the model.

use std::fmt::Write;

use crate::report::format::{number, ratio};
use crate::report::model::{Cell, ColumnKind, Machine, Report, Row, Section, Status, Table};

/// `text` made safe inside a Markdown table cell: a `|` would end the cell.
pub fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The text of a cell: the figure with its ratio to the best, or why there is none.
pub fn cell_text(cell: &Cell, unit_in_cell: Option<&str>) -> String {
    match cell.value {
        Some(v) => {
            let mut s = number(v);
            if let Some(unit) = unit_in_cell {
                s.push(' ');
                s.push_str(unit);
            }
            if let Some(r) = cell.ratio_to_best {
                write!(s, " ({})", ratio(r)).unwrap();
            }
            if let Some(note) = &cell.note {
                write!(s, " ({note})").unwrap();
            }
            s
        }
        None => cell.note.clone().unwrap_or_else(|| "—".into()),
    }
}

/// "evloop vs best peer" for a row: [`Row::vs_best_peer`] and a plain verdict.
pub fn verdict(row: &Row) -> Option<String> {
    let r = row.vs_best_peer?;
    Some(if row.behind() {
        format!("{} (behind{})", ratio(r), by_how_much(r))
    } else {
        format!("{} (at or ahead)", ratio(r))
    })
}

/// For a ratio of a row where evloop is behind that rounds to `1.00×`, by how much (` by
/// 0.03%`), so that the verdict does not read as a tie; otherwise nothing.
fn by_how_much(r: f64) -> String {
    if ratio(r) == ratio(1.0) {
        format!(" by {:.2}%", (r - 1.0).abs() * 100.0)
    } else {
        String::new()
    }
}

fn has_verdicts(table: &Table) -> bool {
    table.columns.iter().any(|c| c.kind == ColumnKind::Subject)
        && table.columns.iter().any(|c| c.kind == ColumnKind::Peer)
}

/// One table in Markdown.
pub fn table(table: &Table) -> String {
    let row_units = table.rows.iter().any(|r| r.unit.is_some());
    let verdicts = has_verdicts(table);
    let mut out = format!("{}\n\n| measured |", table.caption);
    if row_units {
        out.push_str(" unit |");
    }
    for col in &table.columns {
        match &col.unit {
            Some(u) => write!(out, " {} ({u}) |", col.name).unwrap(),
            None => write!(out, " {} |", col.name).unwrap(),
        }
    }
    if verdicts {
        out.push_str(" evloop vs best peer |");
    }
    out.push_str(" samples |\n|---|");
    if row_units {
        out.push_str("---|");
    }
    for _ in &table.columns {
        out.push_str("---:|");
    }
    if verdicts {
        out.push_str("---|");
    }
    out.push_str("---|\n");
    for row in &table.rows {
        write!(out, "| {} |", escape(&row.measured)).unwrap();
        if row_units {
            write!(out, " {} |", row.unit.as_deref().unwrap_or("")).unwrap();
        }
        for (cell, col) in row.cells.iter().zip(&table.columns) {
            let unit_in_cell = if row.unit.is_none() && col.unit.is_none() {
                Some("")
            } else {
                None
            };
            write!(
                out,
                " {} |",
                cell_text(cell, unit_in_cell.filter(|u| !u.is_empty()))
            )
            .unwrap();
        }
        if verdicts {
            write!(out, " {} |", verdict(row).unwrap_or_else(|| "—".into())).unwrap();
        }
        writeln!(out, " {} |", row.method).unwrap();
    }
    out
}

fn status_line(section: &Section) -> Option<String> {
    match &section.status {
        Status::Done => None,
        Status::Failed(e) => Some(format!(
            "**Failed:** {e}. The figures above the failure are kept; the rest of this section was not run."
        )),
        Status::Interrupted => Some(
            "**Interrupted** (Ctrl-C): the figures measured before are kept; the rest of this section was not run."
                .into(),
        ),
        Status::NotRun(why) => Some(format!("**Not run:** {why}.")),
    }
}

/// The whole `REPORT.md`.
pub fn report(report: &Report) -> String {
    let m = &report.machine;
    let mut out = String::from("# evloop report\n\n");
    writeln!(
        out,
        "Measured {} on {} ({} CPUs), {}, kernel {}; `{}` build{}; load average {} at the start; the run took {:.0} s.\n",
        m.date,
        m.cpu_model,
        m.cpus,
        m.os,
        m.kernel,
        m.profile,
        if report.quick { ", `--quick` sizes" } else { "" },
        m.load_average.map_or("unknown".into(), |l| format!("{l:.2}")),
        report.run_seconds
    )
    .unwrap();
    if let Some(warning) = busy_warning(m) {
        writeln!(out, "> **Warning:** {warning}\n").unwrap();
    }
    out.push_str(
        "Every figure says what was measured, its unit, and how many samples stand behind it. \
         Figures compared in one row come from the same run, the runtimes interleaved round by \
         round. ",
    );
    out.push_str(RATIOS);
    out.push_str(
        " Floors (no runtime at all) are shown for reference and take no part in the \
         ratios.\n\n",
    );
    out.push_str("## Summary\n\n");
    out.push_str(&summary_markdown(report));
    out.push('\n');
    out.push_str(&shortfalls(report));
    for (i, section) in report.sections.iter().enumerate() {
        write!(out, "\n## {}. {}\n\n", i + 1, section.title).unwrap();
        if let Some(line) = status_line(section) {
            if matches!(section.status, Status::NotRun(_)) {
                writeln!(out, "{line}").unwrap();
                continue;
            }
        }
        for note in &section.notes {
            writeln!(out, "- {note}").unwrap();
        }
        if !section.notes.is_empty() {
            out.push('\n');
        }
        for t in &section.tables {
            out.push_str(&table(t));
            out.push('\n');
        }
        for plot in &section.plots {
            writeln!(out, "![{}]({})\n", plot.caption, plot.file).unwrap();
        }
        if let Some(line) = status_line(section) {
            writeln!(out, "{line}").unwrap();
        }
    }
    out
}

/// The summary rows of every section, as one Markdown table.
pub fn summary_markdown(report: &Report) -> String {
    let mut out = String::from(
        "| section | measured | evloop | tokio | smol | asyncio | evloop vs best peer |\n|---|---|---:|---:|---:|---:|---|\n",
    );
    let mut any = false;
    for (i, section) in report.sections.iter().enumerate() {
        for t in &section.tables {
            for row in t.rows.iter().filter(|r| r.summary) {
                any = true;
                let unit = row.unit.clone().unwrap_or_default();
                let get = |name: &str| {
                    t.columns
                        .iter()
                        .position(|c| c.name == name)
                        .map(|j| {
                            cell_text(
                                &row.cells[j],
                                Some(&unit).filter(|u| !u.is_empty()).map(|u| u.as_str()),
                            )
                        })
                        .unwrap_or_else(|| "—".into())
                };
                writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    i + 1,
                    escape(&row.measured),
                    get("evloop"),
                    get("tokio"),
                    get("smol"),
                    get("asyncio"),
                    verdict(row).unwrap_or_else(|| "—".into())
                )
                .unwrap();
            }
        }
    }
    if !any {
        out.push_str(
            "| — | no summary figures: the sections that hold them did not run | | | | | |\n",
        );
    }
    out
}

/// How the report's ratios are defined; said once, at the top of `REPORT.md`.
pub const RATIOS: &str = "Every ratio compares costs: a figure's cost is the figure itself where \
     lower is better (time, memory) and its inverse where higher is better (throughput), so a \
     ratio above 1 is always the worse side. `(1.00×)` marks the best runtime of a row and every \
     other figure gives its cost over the best's; *evloop vs best peer* is evloop's cost over the \
     best peer's: below 1.00× evloop is ahead, above it behind. The summary, the tables, \
     `report.json` (`vs_best_peer`) and `peers.svg` show this same figure.";

/// The rows where evloop is behind, as `name (ratio)`, and how many rows compare it.
fn behind_rows<'a>(rows: impl Iterator<Item = &'a Row>) -> (usize, Vec<String>) {
    let mut compared = 0;
    let mut behind = Vec::new();
    for row in rows.filter(|r| r.vs_best_peer.is_some()) {
        compared += 1;
        if let (true, Some(r)) = (row.behind(), row.vs_best_peer) {
            behind.push(format!("{} ({}{})", row.measured, ratio(r), by_how_much(r)));
        }
    }
    (compared, behind)
}

/// Sentences naming every row where evloop is behind its best peer: first among the summary
/// table's rows (the count refers to that table), then among the rows only the sections show.
pub fn shortfalls(report: &Report) -> String {
    let rows = || {
        report
            .sections
            .iter()
            .flat_map(|s| &s.tables)
            .flat_map(|t| &t.rows)
    };
    let (compared, behind) = behind_rows(rows().filter(|r| r.summary));
    let (more, more_behind) = behind_rows(rows().filter(|r| !r.summary));
    let mut out = match (compared, behind.is_empty()) {
        (0, _) => "No summary row compared evloop with a peer in this run.".to_owned(),
        (_, true) => format!(
            "evloop is at or ahead of the best peer in all {compared} summary rows that compare \
             them."
        ),
        (_, false) => format!(
            "evloop is behind the best peer in {} of the {compared} summary rows that compare \
             them: {}.",
            behind.len(),
            behind.join("; ")
        ),
    };
    match (more, more_behind.is_empty()) {
        (0, _) => {}
        (_, true) => write!(
            out,
            " The sections compare them in {more} more rows, with evloop at or ahead in all."
        )
        .unwrap(),
        (_, false) => write!(
            out,
            " The sections compare them in {more} more rows; evloop is behind in {}: {}.",
            more_behind.len(),
            more_behind.join("; ")
        )
        .unwrap(),
    }
    out.push('\n');
    out
}

/// Why the figures of a run may not compare, if the machine was busy when it started: the
/// share of the CPUs that spinning threads got, or failing that the load average.
pub fn busy_warning(machine: &Machine) -> Option<String> {
    let load = machine
        .load_average
        .map_or(String::new(), |l| format!(" (load average {l:.2})"));
    match machine.cpu_share {
        Some(share) if share < BUSY_SHARE => Some(format!(
            "the machine was busy when this run started: a spinning thread on each of its {} \
             CPUs got {:.0}% of the time{load}. Other programs shared the CPUs, so these \
             figures are noisy and may not compare with other runs; close them and run again.",
            machine.cpus,
            share * 100.0
        )),
        None if machine
            .load_average
            .is_some_and(|l| l > machine.cpus as f64) =>
        {
            Some(format!(
                "the machine was busy when this run started{load}, more than its {} CPUs. Other \
             programs shared the CPUs, so these figures are noisy and may not compare with \
             other runs; close them and run again.",
                machine.cpus
            ))
        }
        _ => None,
    }
}

/// Below this share of the CPUs at the start, a run warns that the machine is busy.
pub const BUSY_SHARE: f64 = 0.85;

/// The terminal's width the summary fits in.
pub const TERMINAL_COLUMNS: usize = 100;

/// `text` broken into lines of at most `width` characters, at spaces (a longer word gets a
/// line of its own).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The terminal summary, at most [`TERMINAL_COLUMNS`] wide: the summary rows (figures with
/// their units, and evloop vs best peer), where evloop is behind, and each section's status.
/// REPORT.md holds the full tables.
pub fn summary_text(report: &Report) -> String {
    let mut out = String::new();
    if report.quick {
        out.push_str("--quick sizes: a first look; run without --quick for figures to quote.\n\n");
    }
    if let Some(warning) = busy_warning(&report.machine) {
        for line in wrap(&format!("WARNING: {warning}"), TERMINAL_COLUMNS) {
            writeln!(out, "{line}").unwrap();
        }
        out.push('\n');
    }
    let peers = ["evloop", "tokio", "smol", "asyncio"];
    // Each summary row: its section, label, figures and verdict.
    let mut rows: Vec<(usize, String, Vec<String>, String)> = Vec::new();
    for (i, section) in report.sections.iter().enumerate() {
        for t in &section.tables {
            for row in t.rows.iter().filter(|r| r.summary) {
                let figures = peers
                    .iter()
                    .map(|name| {
                        t.columns
                            .iter()
                            .position(|c| c.name == *name)
                            .and_then(|j| row.cells[j].value)
                            .map_or_else(|| "—".to_owned(), number)
                    })
                    .collect();
                let verdict = row.vs_best_peer.map_or_else(
                    || "—".to_owned(),
                    |r| match row.behind() {
                        true => format!("{} behind{}", ratio(r), by_how_much(r)),
                        false => format!("{} ahead", ratio(r)),
                    },
                );
                let unit = row
                    .unit
                    .as_deref()
                    .map_or(String::new(), |u| format!(" ({u})"));
                rows.push((
                    i,
                    format!("{}{unit}", plain(&row.measured)),
                    figures,
                    verdict,
                ));
            }
        }
    }
    if rows.is_empty() {
        out.push_str("No summary figures: the sections that hold them did not run.\n");
    } else {
        let header = [
            "measured",
            "evloop",
            "tokio",
            "smol",
            "asyncio",
            "vs best peer",
        ];
        let width = |j: usize| {
            rows.iter()
                .map(|r| {
                    if j <= 4 {
                        r.2[j - 1].chars().count()
                    } else {
                        r.3.chars().count()
                    }
                })
                .chain([header[j].chars().count()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (1..=5).map(width).collect();
        let measured_width = TERMINAL_COLUMNS
            .saturating_sub(widths.iter().sum::<usize>() + 2 * widths.len())
            .max(20);
        let line = |label: &str, figures: &[String], verdict: &str| {
            let mut l = format!("{label:<measured_width$}");
            for (f, w) in figures.iter().zip(&widths) {
                write!(l, "  {f:>w$}").unwrap();
            }
            write!(l, "  {verdict}").unwrap();
            l.trim_end().to_owned()
        };
        let head: Vec<String> = header[1..5].iter().map(|h| (*h).to_owned()).collect();
        writeln!(out, "{}", line(header[0], &head, header[5])).unwrap();
        let mut section = usize::MAX;
        for (i, label, figures, verdict) in &rows {
            if *i != section {
                section = *i;
                writeln!(out, "{}. {}", i + 1, report.sections[*i].title).unwrap();
            }
            let label_lines = wrap(label, measured_width - 2);
            writeln!(
                out,
                "{}",
                line(&format!("  {}", label_lines[0]), figures, verdict)
            )
            .unwrap();
            for more in &label_lines[1..] {
                writeln!(out, "    {more}").unwrap();
            }
        }
    }
    out.push('\n');
    for line in wrap(&plain(&shortfalls(report)), TERMINAL_COLUMNS) {
        writeln!(out, "{line}").unwrap();
    }
    out.push('\n');
    for (i, s) in report.sections.iter().enumerate() {
        let state = match &s.status {
            Status::Done => "done".to_string(),
            Status::Failed(e) => format!("FAILED: {e}"),
            Status::Interrupted => "interrupted".into(),
            Status::NotRun(why) => format!("not run ({why})"),
        };
        let head = format!("section {} {:<9} ", i + 1, s.id);
        let rest = wrap(
            &format!("{state} in {:.1} s", s.seconds),
            TERMINAL_COLUMNS - head.len(),
        );
        for (j, line) in rest.iter().enumerate() {
            let lead = if j == 0 {
                head.clone()
            } else {
                " ".repeat(head.len())
            };
            writeln!(out, "{lead}{line}").unwrap();
        }
    }
    out
}

/// `text` without Markdown's code marks, for the terminal.
fn plain(text: &str) -> String {
    text.replace('`', "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::tests::table;
    use crate::report::model::Better;

    /// A report of one section holding `table`, on a machine as busy as `cpu_share` says.
    fn report_of(table: Table, cpu_share: Option<f64>) -> Report {
        Report {
            machine: Machine {
                cpu_model: "test CPU".into(),
                cpus: 2,
                os: "test OS".into(),
                kernel: "test 1.0".into(),
                date: "2026-01-01 00:00:00 UTC".into(),
                load_average: Some(6.0),
                profile: "release".into(),
                cpu_share,
            },
            quick: true,
            only: None,
            run_seconds: 1.0,
            sections: vec![Section {
                id: "peers".into(),
                title: "evloop against its peers".into(),
                status: Status::Done,
                notes: Vec::new(),
                tables: vec![table],
                plots: Vec::new(),
                seconds: 1.0,
            }],
        }
    }

    #[test]
    fn the_terminal_summary_fits_100_columns_with_long_names_and_large_figures() {
        let mut t = table(
            Better::Higher,
            [Some(1_234_567.0), Some(7_654_321.0), Some(2.5), None],
        );
        t.rows[0].measured = "a row whose name runs on and on, as the rows of the peers \
            section do when they name the workload, its floor and the evloop setting used"
            .into();
        t.rows[0].unit = Some("msg/s".into());
        t.compute_ratios();
        let text = summary_text(&report_of(t, Some(0.3)));
        for line in text.lines() {
            assert!(
                line.chars().count() <= TERMINAL_COLUMNS,
                "{} columns: {line:?}",
                line.chars().count()
            );
        }
        assert!(
            text.contains("1,234,567") && text.contains("7,654,321"),
            "{text}"
        );
        assert!(text.contains("6.20× behind"), "{text}");
        assert!(text.starts_with("--quick sizes"), "{text}");
        assert!(text.contains("\nWARNING: the machine was busy"), "{text}");
        let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words.contains("got 30% of the time (load average 6.00)"),
            "{text}"
        );
    }

    #[test]
    fn an_idle_start_gives_no_warning_and_an_unknown_share_falls_back_to_the_load() {
        let t = table(Better::Lower, [Some(1.0), Some(2.0), None, None]);
        let mut r = report_of(t, Some(0.97));
        assert_eq!(busy_warning(&r.machine), None);
        assert!(!report(&r).contains("**Warning:**"));
        r.machine.cpu_share = Some(0.5);
        assert!(report(&r).contains("> **Warning:** the machine was busy"));
        r.machine.cpu_share = None;
        assert!(busy_warning(&r.machine)
            .unwrap()
            .contains("(load average 6.00), more than its 2 CPUs"));
        r.machine.load_average = Some(1.5);
        assert_eq!(busy_warning(&r.machine), None);
    }

    #[test]
    fn the_shortfall_sentence_counts_the_summary_rows_and_then_the_others() {
        let mut t = table(Better::Lower, [Some(2.0), Some(1.0), None, None]);
        let mut other = t.rows[0].clone();
        other.measured = "only in its section".into();
        other.summary = false;
        t.rows.push(other);
        let mut ahead = t.rows[0].clone();
        ahead.measured = "ahead here".into();
        ahead.cells[0] = Cell::value(0.5, 1);
        t.rows.push(ahead);
        t.compute_ratios();
        assert_eq!(
            shortfalls(&report_of(t, None)),
            "evloop is behind the best peer in 1 of the 2 summary rows that compare them: \
             m (2.00×). The sections compare them in 1 more rows; evloop is behind in 1: only in \
             its section (2.00×).\n"
        );
    }

    #[test]
    fn a_verdict_that_rounds_to_a_tie_says_by_how_much() {
        let mut t = table(
            Better::Higher,
            [Some(101_151.0), Some(101_185.0), Some(92_000.0), None],
        );
        t.compute_ratios();
        assert_eq!(verdict(&t.rows[0]).unwrap(), "1.00× (behind by 0.03%)");
        let mut t = table(Better::Lower, [Some(13.2), Some(11.0), Some(14.5), None]);
        t.compute_ratios();
        assert_eq!(verdict(&t.rows[0]).unwrap(), "1.20× (behind)");
        let mut t = table(Better::Lower, [Some(3.05), Some(29.7), Some(21.4), None]);
        t.compute_ratios();
        assert_eq!(verdict(&t.rows[0]).unwrap(), "0.14× (at or ahead)");
    }
}

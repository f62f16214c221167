//! `REPORT.md` and the terminal summary, rendered from the model.

use std::fmt::Write;

use crate::report::format::{number, ratio};
use crate::report::model::{Better, Cell, ColumnKind, Report, Row, Section, Status, Table};

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

/// "evloop vs best peer" for a row: the ratio and a plain verdict.
pub fn verdict(table: &Table, row: &Row) -> Option<String> {
    let r = table.subject_vs_best_peer(row)?;
    let ahead = match row.better {
        Better::Lower => r <= 1.0,
        Better::Higher => r >= 1.0,
        Better::Neither => return None,
    };
    Some(if ahead {
        format!("{} (at or ahead)", ratio(r))
    } else {
        format!("{} (behind{})", ratio(r), by_how_much(r))
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
            write!(
                out,
                " {} |",
                verdict(table, row).unwrap_or_else(|| "—".into())
            )
            .unwrap();
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
    out.push_str(
        "Every figure says what was measured, its unit, and how many samples stand behind it. \
         Figures compared in one row come from the same run, the runtimes interleaved round by \
         round; `(1.00×)` marks the best runtime of the row and every other figure gives its \
         ratio to it. Floors (no runtime at all) are shown for reference and take no part in \
         the ratios.\n\n",
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
                    verdict(t, row).unwrap_or_else(|| "—".into())
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

/// A sentence naming every row, in every section, where evloop is behind its best peer.
pub fn shortfalls(report: &Report) -> String {
    let mut behind = Vec::new();
    let mut compared = 0;
    for section in &report.sections {
        for t in &section.tables {
            for row in &t.rows {
                let Some(r) = t.subject_vs_best_peer(row) else {
                    continue;
                };
                compared += 1;
                let short = match row.better {
                    Better::Lower => r > 1.0,
                    Better::Higher => r < 1.0,
                    Better::Neither => false,
                };
                if short {
                    behind.push(format!("{} ({}{})", row.measured, ratio(r), by_how_much(r)));
                }
            }
        }
    }
    match (compared, behind.is_empty()) {
        (0, _) => "No row compared evloop with a peer in this run.\n".into(),
        (_, true) => format!(
            "evloop is at or ahead of the best peer in all {compared} rows that compare them.\n"
        ),
        (_, false) => format!(
            "evloop is behind the best peer in {} of the {compared} rows that compare them: {}.\n",
            behind.len(),
            behind.join("; ")
        ),
    }
}

/// The terminal summary: the summary table as aligned plain text, and each section's status.
pub fn summary_text(report: &Report) -> String {
    let md = summary_markdown(report);
    let rows: Vec<Vec<String>> = md
        .lines()
        .filter(|l| !l.starts_with("|---"))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().replace('`', ""))
                .collect()
        })
        .collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|j| {
            rows.iter()
                .filter_map(|r| r.get(j))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in &rows {
        for (j, c) in r.iter().enumerate() {
            write!(out, "{c:<w$}  ", w = widths[j]).unwrap();
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    out.push_str(&shortfalls(report));
    for (i, s) in report.sections.iter().enumerate() {
        let state = match &s.status {
            Status::Done => "done".to_string(),
            Status::Failed(e) => format!("FAILED: {e}"),
            Status::Interrupted => "interrupted".into(),
            Status::NotRun(why) => format!("not run ({why})"),
        };
        writeln!(
            out,
            "section {} {:<9} {state} in {:.1} s",
            i + 1,
            s.id,
            s.seconds
        )
        .unwrap();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::verdict;
    use crate::report::model::tests::table;
    use crate::report::model::Better;

    #[test]
    fn a_verdict_that_rounds_to_a_tie_says_by_how_much() {
        let mut t = table(
            Better::Higher,
            [Some(101_151.0), Some(101_185.0), Some(92_000.0), None],
        );
        t.compute_ratios();
        assert_eq!(verdict(&t, &t.rows[0]).unwrap(), "1.00× (behind by 0.03%)");
        let mut t = table(Better::Lower, [Some(13.2), Some(11.0), Some(14.5), None]);
        t.compute_ratios();
        assert_eq!(verdict(&t, &t.rows[0]).unwrap(), "1.20× (behind)");
        let mut t = table(Better::Lower, [Some(3.05), Some(29.7), Some(21.4), None]);
        t.compute_ratios();
        assert_eq!(verdict(&t, &t.rows[0]).unwrap(), "0.14× (at or ahead)");
    }
}

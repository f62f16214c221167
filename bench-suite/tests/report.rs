//! `evloop-bench report`: the quick report holds every section with figures, plots that are
//! SVG, and the same figures in report.json; bad input and Ctrl-C are handled.

mod util;

use std::time::{Duration, Instant};

use evloop_bench::report::format::{number, ratio};
use evloop_bench::report::markdown::{escape, verdict};
use evloop_bench::report::model::{Better, ColumnKind, Report, Status};
use evloop_bench::report::plot::{bar_text, plain};
use util::{children_of, run, TempDir};

#[test]
fn quick_report_holds_seven_sections_plots_and_the_same_figures_in_json() {
    // The eighth, the scale curve, runs only with --scale (see the test below).
    let dir = TempDir::new("quick");
    let out = dir.path().join("out");
    let result = run(&["report", "--quick", "--out", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "report failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("vs best peer"),
        "no summary table:\n{stdout}"
    );

    let md = std::fs::read_to_string(out.join("REPORT.md")).expect("REPORT.md written");
    let json = std::fs::read_to_string(out.join("report.json")).expect("report.json written");
    let report: Report = serde_json::from_str(&json).expect("report.json parses");

    // The machine is stated.
    assert!(md.contains(&report.machine.cpu_model));
    assert!(md.contains(&report.machine.kernel));
    assert!(report.machine.cpus >= 1);

    // All seven sections, in order, each done and holding figures; the scale curve not run.
    assert_eq!(report.sections.len(), 8);
    let scale = &report.sections[7];
    assert!(
        matches!(&scale.status, Status::NotRun(why) if why.contains("--scale")),
        "{:?}",
        scale.status
    );
    for (i, section) in report.sections.iter().enumerate().take(7) {
        assert_eq!(
            section.status,
            Status::Done,
            "section {}: {:?}",
            section.id,
            section.status
        );
        let heading = format!("## {}. {}", i + 1, section.title);
        let start = md
            .find(&heading)
            .unwrap_or_else(|| panic!("no heading {heading:?}"));
        let body = &md[start..];
        let body = &body[..body[3..].find("\n## ").map_or(body.len(), |e| e + 3)];
        let figures = section
            .tables
            .iter()
            .flat_map(|t| &t.rows)
            .flat_map(|r| &r.cells)
            .filter(|c| c.value.is_some())
            .count();
        assert!(figures >= 2, "section {} has {figures} figures", section.id);
        assert!(
            body.chars().any(|c| c.is_ascii_digit()),
            "section {} shows no number",
            section.id
        );

        // Every figure of report.json is in REPORT.md, on its row's line.
        for table in &section.tables {
            for row in &table.rows {
                let line = body
                    .lines()
                    .find(|l| l.starts_with(&format!("| {} |", escape(&row.measured))))
                    .unwrap_or_else(|| panic!("no line for row {:?}", row.measured));
                for cell in &row.cells {
                    if let Some(v) = cell.value {
                        assert!(
                            line.contains(&number(v)),
                            "row {:?}: {} not in {line:?}",
                            row.measured,
                            number(v)
                        );
                        assert!(cell.samples >= 1);
                    }
                }
            }
        }

        // The plots exist and are SVG.
        for plot in &section.plots {
            let svg = std::fs::read_to_string(out.join(&plot.file))
                .unwrap_or_else(|e| panic!("plot {}: {e}", plot.file));
            let doc = roxmltree::Document::parse(&svg)
                .unwrap_or_else(|e| panic!("plot {} is not XML: {e}", plot.file));
            assert_eq!(doc.root_element().tag_name().name(), "svg", "{}", plot.file);
            assert!(
                body.contains(&format!("]({})", plot.file)),
                "{} not linked",
                plot.file
            );
        }
    }
    ratios_agree_everywhere(&report, &md, &stdout, &out);
    let plots: usize = report.sections.iter().map(|s| s.plots.len()).sum();
    assert!(plots >= 4, "only {plots} plots");
    // Every row is measured, the process pool's included.
    assert!(!md.contains("not yet"), "a row is not measured yet");
    let pool_rows: Vec<&str> = md
        .lines()
        .filter(|l| {
            l.contains("process pool (`run_in_process`)") || l.contains("process-pool round trip")
        })
        .collect();
    assert!(pool_rows.len() >= 3, "{pool_rows:#?}");
    for row in pool_rows {
        assert!(
            row.chars().any(|c| c.is_ascii_digit()),
            "no figure in {row}"
        );
    }
}

/// Every row's evloop-vs-best-peer figure reads the same in report.json, in its section's
/// table and the summary of REPORT.md, on the terminal, in the shortfall counts and in
/// peers.svg; and it is evloop's cost over the best peer's (a throughput inverted).
fn ratios_agree_everywhere(report: &Report, md: &str, terminal: &str, out: &std::path::Path) {
    let peers_svg = std::fs::read_to_string(out.join("peers.svg")).expect("peers.svg");
    let (mut summary_rows, mut summary_behind, mut bars) = (0, 0, 0);
    let summary_end = md.find("\n## 1. ").expect("section 1");
    for (i, section) in report.sections.iter().enumerate() {
        let start = md
            .find(&format!("\n## {}. ", i + 1))
            .expect("section heading");
        let body = &md[start + 1..];
        let body = &body[..body.find("\n## ").unwrap_or(body.len())];
        let in_summary = &md[..summary_end];
        for table in &section.tables {
            for row in &table.rows {
                let Some(r) = row.vs_best_peer else {
                    continue;
                };
                assert_eq!(table.subject_vs_best_peer(row), Some(r), "{}", row.measured);
                let evloop = row.cells[0].value.unwrap();
                let best_peer = table
                    .columns
                    .iter()
                    .zip(&row.cells)
                    .filter(|(c, _)| c.kind == ColumnKind::Peer)
                    .filter_map(|(_, cell)| cell.value)
                    .map(|v| row.cost(v).unwrap())
                    .fold(f64::INFINITY, f64::min);
                let cost = match row.better {
                    Better::Higher => 1.0 / evloop,
                    _ => evloop,
                };
                assert!((r - cost / best_peer).abs() < 1e-9, "{}: {r}", row.measured);
                let verdict = verdict(row).unwrap();
                assert_eq!(verdict.contains("behind"), r > 1.0, "{verdict}");
                let cell = format!("| {} |", escape(&row.measured));
                let mut lines: Vec<&str> = body.lines().filter(|l| l.contains(&cell)).collect();
                let summary_lines = in_summary.lines().filter(|l| l.contains(&cell)).count();
                assert_eq!(summary_lines, usize::from(row.summary), "{}", row.measured);
                lines.extend(in_summary.lines().filter(|l| l.contains(&cell)));
                assert!(
                    !lines.is_empty() && lines.iter().all(|l| l.contains(&verdict)),
                    "REPORT.md's lines for {:?} do not all say {verdict}: {lines:#?}",
                    row.measured
                );
                if row.summary {
                    summary_rows += 1;
                    summary_behind += usize::from(row.behind());
                    let word = if row.behind() { "behind" } else { "ahead" };
                    let shown = format!("{} {word}", ratio(r));
                    assert!(terminal.contains(&shown), "no {shown:?} on the terminal");
                }
                if section.id == "peers" {
                    bars += 1;
                    let text = bar_text(&plain(&row.measured), r)
                        .replace('&', "&amp;")
                        .replace('\'', "&apos;")
                        .replace('"', "&quot;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;");
                    assert!(peers_svg.contains(&text), "peers.svg has no {text:?}");
                }
            }
        }
    }
    assert!(bars >= 10, "only {bars} rows compared in the peers section");
    let counted = format!("in {summary_behind} of the {summary_rows} summary rows");
    let at_or_ahead = format!("at or ahead of the best peer in all {summary_rows} summary rows");
    let sentence = if summary_behind > 0 {
        &counted
    } else {
        &at_or_ahead
    };
    let terminal_words = terminal.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        md.contains(sentence.as_str()),
        "REPORT.md does not say {sentence:?}"
    );
    assert!(
        terminal_words.contains(sentence.as_str()),
        "the terminal does not say {sentence:?}"
    );
    for line in terminal.lines() {
        assert!(
            line.chars().count() <= 100,
            "a terminal line of {} columns: {line:?}",
            line.chars().count()
        );
    }
}

#[test]
fn json_flag_prints_the_report_on_stdout_and_only_runs_the_section_asked() {
    let dir = TempDir::new("json");
    let out = dir.path().join("out");
    let result = run(&[
        "report",
        "--quick",
        "--only",
        "overhead",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let printed: Report =
        serde_json::from_slice(&result.stdout).expect("stdout is the JSON report");
    let written: Report =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(printed.sections.len(), 8);
    for (p, w) in printed.sections.iter().zip(&written.sections) {
        assert_eq!(p.id, w.id);
        assert_eq!(p.status, w.status);
        let expected_done = p.id == "overhead";
        assert_eq!(
            p.status == Status::Done,
            expected_done,
            "{}: {:?}",
            p.id,
            p.status
        );
    }
    let overhead = &printed.sections[5];
    let spawn = &overhead.tables[0].rows[0];
    assert_eq!(spawn.unit.as_deref(), Some("ns"));
    assert!(spawn
        .cells
        .iter()
        .all(|c| c.value.is_some_and(|v| v > 0.0) && c.samples >= 1));
    // The fastest configuration is the reference of the ratios.
    assert!(spawn
        .cells
        .iter()
        .any(|c| c.ratio_to_best.is_some_and(|r| (r - 1.0).abs() < 1e-9)));
}

#[test]
fn unknown_arguments_get_the_usage_message() {
    let result = run(&["report", "--no-such-flag"]);
    assert_eq!(result.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&result.stderr).contains("Usage"));

    let result = run(&["no-such-command"]);
    assert_eq!(result.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&result.stderr).contains("Usage"));
}

#[test]
fn an_unknown_section_is_refused_before_any_experiment() {
    let dir = TempDir::new("only");
    let out = dir.path().join("out");
    let result = run(&[
        "report",
        "--only",
        "nonsense",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("memory, offload, yield, threads, peers, overhead"),
        "{stderr}"
    );
    assert!(!out.join("REPORT.md").exists());
}

#[test]
fn an_unwritable_output_directory_fails_before_any_experiment() {
    let dir = TempDir::new("unwritable");
    // A directory cannot be created under a regular file, whoever runs the test.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let out = file.join("report");
    let start = Instant::now();
    let result = run(&["report", "--out", out.to_str().unwrap()]);
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("cannot write the report to"), "{stderr}");
    assert!(
        stderr.contains("--out"),
        "the message says what to do: {stderr}"
    );
    // The full run takes minutes; a refusal before any experiment takes moments.
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn ctrl_c_kills_every_child_and_still_writes_what_was_measured() {
    let dir = TempDir::new("interrupt");
    let out = dir.path().join("out");
    let mut report = util::bin()
        .args([
            "report",
            "--quick",
            "--only",
            "threads",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = report.id();
    // Wait until the report has a child (the echo clients).
    let deadline = Instant::now() + Duration::from_secs(60);
    while children_of(pid).is_empty() {
        assert!(Instant::now() < deadline, "the report started no child");
        assert!(
            report.try_wait().unwrap().is_none(),
            "the report ended before any child"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut child_pids: std::collections::BTreeSet<u32> = children_of(pid).into_iter().collect();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        // Every child it has until it ends (it may have been starting one at the Ctrl-C).
        child_pids.extend(children_of(pid));
        if let Some(status) = report.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the report did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(130), "exit status after Ctrl-C");
    // Its children were its own, so they are orphans now: each must have stopped running.
    for child in child_pids {
        assert!(
            util::os::stopped_running(child),
            "child {child} still runs after the report stopped"
        );
    }
    let md = std::fs::read_to_string(out.join("REPORT.md")).expect("REPORT.md written anyway");
    assert!(md.contains("**Interrupted**"), "{md}");
    assert!(md.contains("**Not run:**"), "{md}");
    let json: Report =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let threads = json.sections.iter().find(|s| s.id == "threads").unwrap();
    assert_eq!(threads.status, Status::Interrupted);
}

#[test]
fn a_failed_experiment_keeps_the_figures_before_it_and_marks_the_rest_not_run() {
    let dir = TempDir::new("failed");
    let out = dir.path().join("out");
    // 64 file descriptors: enough for the runtimes, too few for the 100 idle connections of
    // the second `yield_now` row.
    let result = std::process::Command::new("sh")
        .args(["-c", "ulimit -n 64 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_evloop-bench"))
        .args([
            "report",
            "--quick",
            "--only",
            "peers",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let peers = report.sections.iter().find(|s| s.id == "peers").unwrap();
    let Status::Failed(error) = &peers.status else {
        panic!("expected a failed section, got {:?}", peers.status);
    };
    assert!(error.contains("file-descriptor limit"), "{error}");
    let rows = &peers.tables[0].rows;
    let spawn = rows
        .iter()
        .find(|r| r.measured.starts_with("spawn"))
        .unwrap();
    assert!(
        spawn.cells[..3].iter().all(|c| c.value.is_some()),
        "{spawn:?}"
    );
    let sockets = rows
        .iter()
        .find(|r| r.measured.contains("idle connections"))
        .unwrap();
    assert_eq!(sockets.cells[0].value, None);
    assert_eq!(sockets.cells[0].note.as_deref(), Some("not run"));
    let md = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(md.contains("**Failed:**"), "{md}");
}

/// `report --scale --only scale --quick`: every server kind holds the connections of every
/// point, and the table, the plots and the limit notes are written.
#[test]
fn the_scale_curve_holds_every_point_on_every_server() {
    let dir = TempDir::new("scale");
    let out = dir.path().join("out");
    let result = run(&[
        "report",
        "--quick",
        "--scale",
        "--only",
        "scale",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "report failed:\n{stderr}");
    assert!(
        stderr.contains("the scale curve: points"),
        "no estimate first:\n{stderr}"
    );
    let report: Report = serde_json::from_slice(&result.stdout).expect("stdout is the JSON report");
    let scale = report.sections.iter().find(|s| s.id == "scale").unwrap();
    assert_eq!(scale.status, Status::Done, "{:?}", scale.notes);
    let table = &scale.tables[0];
    let held: Vec<_> = table
        .rows
        .iter()
        .filter(|r| r.measured.ends_with("connections held"))
        .collect();
    assert_eq!(held.len(), 2, "two quick points");
    for row in held {
        let wanted: f64 = row
            .measured
            .split(':')
            .next()
            .unwrap()
            .replace(',', "")
            .parse()
            .unwrap();
        for (cell, col) in row.cells.iter().zip(&table.columns) {
            let got = cell.value.unwrap_or(0.0);
            assert!(
                got >= wanted * 0.9,
                "{}: {} held {got} of {wanted} connections",
                row.measured,
                col.name
            );
        }
    }
    // Per-connection memory was measured for every server at every point.
    for row in table
        .rows
        .iter()
        .filter(|r| r.measured.contains("resident memory"))
    {
        assert!(
            row.cells.iter().all(|c| c.value.is_some_and(|v| v > 0.0)),
            "{}: {:?}",
            row.measured,
            row.cells
        );
    }
    for plot in ["scale-memory.svg", "scale-p99.svg"] {
        assert!(out.join(plot).is_file(), "{plot} not written");
    }
}

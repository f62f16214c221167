//! `evloop-bench report`: the quick report holds every section with figures, plots that are
//! SVG, and the same figures in report.json; bad input and Ctrl-C are handled.

mod util;

use std::time::{Duration, Instant};

use evloop_bench::report::format::number;
use evloop_bench::report::markdown::escape;
use evloop_bench::report::model::{Report, Status};
use util::{children_of, run, TempDir};

#[test]
fn quick_report_holds_six_sections_plots_and_the_same_figures_in_json() {
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
        stdout.contains("evloop vs best peer"),
        "no summary table:\n{stdout}"
    );

    let md = std::fs::read_to_string(out.join("REPORT.md")).expect("REPORT.md written");
    let json = std::fs::read_to_string(out.join("report.json")).expect("report.json written");
    let report: Report = serde_json::from_str(&json).expect("report.json parses");

    // The machine is stated.
    assert!(md.contains(&report.machine.cpu_model));
    assert!(md.contains(&report.machine.kernel));
    assert!(report.machine.cpus >= 1);

    // All six sections, in order, each done and holding figures.
    assert_eq!(report.sections.len(), 6);
    for (i, section) in report.sections.iter().enumerate() {
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
    assert_eq!(printed.sections.len(), 6);
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

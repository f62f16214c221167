//! `evloop-bench lab`: every checker passes its lab's reference solution and fails its
//! starter, in quick mode, and every lab has its statement and its three program files.
//!
//! The checks run one at a time: each one measures latencies, and two at once on a 2-core
//! machine would measure each other.

mod util;

use std::path::Path;
use std::sync::Mutex;

use util::run;

/// One check at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The labs that have a checker, with a word their verdict must show.
const LABS: [(u8, &str, &str); 9] = [
    (1, "01-build-the-loop", "round-robin"),
    (2, "02-watch-the-cycle", "you predicted"),
    (3, "03-frozen-server", "p99"),
    (4, "04-legacy-code", "heartbeat worst lateness"),
    (5, "05-cpu-bound", "speed-up"),
    (6, "06-yield-batch", "of CPU"),
    (7, "07-lost-update", "lost"),
    (8, "08-loop-lifecycle", "you predicted"),
    (9, "09-memory-per-unit", "the report's method"),
];

/// The labs whose versions are answer files about one program, rather than programs.
const ANSWER_LABS: [u8; 2] = [2, 8];

/// Runs `lab check N --program P --quick`; returns the exit code and stdout.
fn check(lab: u8, program: &str) -> (Option<i32>, String) {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let out = run(&[
        "lab",
        "check",
        &lab.to_string(),
        "--program",
        program,
        "--quick",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (
        out.status.code(),
        format!("{stdout}\n--- stderr ---\n{stderr}"),
    )
}

/// Whether this copy of the repository has lab `slug`'s reference solution (a student
/// edition has none).
fn has_solution(slug: &str) -> bool {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("labs")
        .join(slug);
    dir.join("solution.rs").is_file() || dir.join("solution.txt").is_file()
}

/// The solution passes and the starter fails, each verdict with its measured numbers; in a
/// student edition, asking for the solution is an error that says why.
fn solution_passes_and_starter_fails(lab: u8) {
    let (_, slug, word) = LABS.iter().find(|l| l.0 == lab).copied().unwrap();
    let (code, out) = check(lab, "solution");
    if has_solution(slug) {
        assert_eq!(code, Some(0), "lab {lab}: the solution should pass:\n{out}");
        assert!(out.contains("\nPASS: "), "lab {lab}: no PASS line:\n{out}");
        assert!(out.contains(word), "lab {lab}: no {word:?} in:\n{out}");
    } else {
        assert_eq!(code, Some(2), "lab {lab}: no solution, so an error:\n{out}");
        assert!(out.contains("student edition"), "lab {lab}:\n{out}");
    }
    let (code, out) = check(lab, "starter");
    assert_eq!(code, Some(1), "lab {lab}: the starter should fail:\n{out}");
    assert!(out.contains("\nFAIL: "), "lab {lab}: no FAIL line:\n{out}");
    assert!(out.contains(word), "lab {lab}: no {word:?} in:\n{out}");
}

#[test]
fn lab1_build_the_loop() {
    solution_passes_and_starter_fails(1);
}

#[test]
fn lab2_watch_the_cycle() {
    solution_passes_and_starter_fails(2);
}

#[test]
fn lab3_frozen_server() {
    solution_passes_and_starter_fails(3);
}

#[test]
fn lab4_legacy_code() {
    solution_passes_and_starter_fails(4);
}

#[test]
fn lab5_cpu_bound() {
    solution_passes_and_starter_fails(5);
}

#[test]
fn lab6_yield_batch() {
    solution_passes_and_starter_fails(6);
}

#[test]
fn lab7_lost_update() {
    solution_passes_and_starter_fails(7);
}

/// `lab check --json` prints one JSON object whose result, exit code and checks agree with
/// the process's exit status, and `--junit` writes the same checks as JUnit XML.
#[test]
fn lab8_loop_lifecycle() {
    solution_passes_and_starter_fails(8);
}

#[test]
fn lab9_memory_per_unit() {
    solution_passes_and_starter_fails(9);
}

#[test]
fn json_and_junit_verdicts_agree_with_the_exit_code() {
    let dir = std::env::temp_dir().join(format!("evloop-lab-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let programs: &[(&str, i32, &str)] = if has_solution("07-lost-update") {
        &[("solution", 0, "PASS"), ("starter", 1, "FAIL")]
    } else {
        &[("starter", 1, "FAIL")]
    };
    for &(program, code, result) in programs {
        let junit = dir.join(format!("{program}.xml"));
        let out = {
            let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
            run(&[
                "lab",
                "check",
                "7",
                "--program",
                program,
                "--quick",
                "--json",
                "--junit",
                junit.to_str().unwrap(),
            ])
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{program}:\n{stdout}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!("{program}: stdout is not one JSON object ({e}):\n{stdout}")
        });
        assert_eq!(v["result"], result, "{program}: {v}");
        assert_eq!(v["exit_code"], code, "{program}: {v}");
        assert_eq!(v["lab"], 7);
        assert_eq!(v["program"], program);
        let checks = v["checks"].as_array().expect("checks");
        assert!(checks.len() >= 3, "{program}: {v}");
        let all_pass = checks.iter().all(|c| c["pass"] == true);
        assert_eq!(
            all_pass,
            code == 0,
            "{program}: the checks disagree with the result: {v}"
        );
        assert!(
            checks
                .iter()
                .all(|c| c["figures"].is_object() && c["rule"].is_string()),
            "{program}: {v}"
        );
        let xml = std::fs::read_to_string(&junit).unwrap();
        let doc = roxmltree::Document::parse(&xml).expect("JUnit XML parses");
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        let failed = checks.iter().filter(|c| c["pass"] == false).count();
        assert_eq!(
            suite.attribute("tests"),
            Some(checks.len().to_string().as_str())
        );
        assert_eq!(
            suite.attribute("failures"),
            Some(failed.to_string().as_str())
        );
    }
    let out = run(&["lab", "check", "42", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["result"], "ERROR");
    assert!(v["error"].as_str().unwrap().contains("lab list"), "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_lab_has_a_statement_and_three_programs_and_is_listed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = run(&["lab", "list"]);
    assert!(out.status.success());
    let list = String::from_utf8_lossy(&out.stdout);
    for (n, slug, _) in LABS {
        let statement = root.join("../docs/labs").join(format!("{slug}.md"));
        let text = std::fs::read_to_string(&statement)
            .unwrap_or_else(|e| panic!("{}: {e}", statement.display()));
        assert!(
            text.contains(&format!("lab check {n}")) && text.contains(&format!("lab reset {n}")),
            "{slug}.md does not give the check and reset commands"
        );
        let mut files = if ANSWER_LABS.contains(&n) {
            vec!["answers.txt", "starter.txt", "solution.txt", "program.rs"]
        } else {
            vec!["lab.rs", "starter.rs", "solution.rs"]
        };
        // A student edition has every file but the solutions.
        if !has_solution(slug) {
            files.retain(|f| !f.starts_with("solution"));
        }
        for file in files {
            assert!(
                root.join("labs").join(slug).join(file).is_file(),
                "{slug}/{file}"
            );
        }
        assert!(
            list.contains(&format!("lab {n}:")),
            "lab {n} not listed:\n{list}"
        );
    }
}

#[test]
fn an_unknown_lab_is_an_error_that_says_where_the_labs_are() {
    let out = run(&["lab", "check", "42"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lab list"));
}

/// `lab student-edition DIR` writes the repository without the reference solutions, each
/// lab's copy its starter, and refuses a directory that is not empty; a student edition
/// refuses to write another.
#[test]
fn the_student_edition_has_every_file_but_the_solutions() {
    let dir = std::env::temp_dir().join(format!("evloop-student-edition-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = run(&["lab", "student-edition", dir.to_str().unwrap()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !has_solution("01-build-the-loop") {
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(text.contains("student edition"), "{text}");
        return;
    }
    assert!(out.status.success(), "{text}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "bench-suite/Cargo.toml",
        "runtime/src/lib.rs",
    ] {
        assert!(
            dir.join(file).is_file(),
            "{file} is missing from the edition:\n{text}"
        );
    }
    assert!(!dir.join(".git").exists(), "the edition has git's files");
    assert!(!dir.join("target").exists(), "the edition has build output");
    for (n, slug, _) in LABS {
        let lab = dir.join("bench-suite/labs").join(slug);
        for solution in ["solution.rs", "solution.txt"] {
            assert!(
                !lab.join(solution).exists(),
                "lab {n}: {solution} was copied"
            );
        }
        let (copy, starter) = if ANSWER_LABS.contains(&n) {
            ("answers.txt", "starter.txt")
        } else {
            ("lab.rs", "starter.rs")
        };
        let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(
            read(&lab.join(copy)),
            read(&lab.join(starter)),
            "lab {n}: {copy}"
        );
        assert_eq!(
            read(&lab.join(starter)),
            read(&root.join("bench-suite/labs").join(slug).join(starter)),
            "lab {n}: {starter}"
        );
    }
    // Not over a directory with something in it.
    let again = run(&["lab", "student-edition", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    let _ = std::fs::remove_dir_all(&dir);
}

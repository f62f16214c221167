//! Lab 2, watch the cycle: the harness that runs the program with the cycle trace on, and the
//! checker, which compares the student's predictions (an answers file) with what the program
//! did on this run.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::lab::{Lab, Program};
use super::process;
use super::verdict::{Check, LabError, Verdict};

/// What the program did, printed for the checker.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    /// The labels, in order, separated by spaces.
    order: String,
    /// Cycles completed when the main future ended.
    cycles: u64,
    /// Tasks the dump listed.
    dumped: usize,
}

/// Runs the program with the cycle trace on and prints its [`Outcome`] (the trace and the
/// task dump go to stderr and stdout as the program runs).
///
/// # Errors
///
/// The runtime could not be built.
pub fn run() -> Result<(), LabError> {
    let rt = process::build_loop(evloop::Builder::new().name("lab02").trace_cycles(true))?;
    let seen = rt.block_on(super::lab02_program::main());
    process::print_result(&Outcome {
        order: seen.order.join(" "),
        cycles: seen.cycles,
        dumped: seen.dumped,
    });
    Ok(())
}

/// Reads `key = value` lines, skipping blank lines and `#` comments.
fn parse_answers(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_owned(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect()
}

/// Checks the answers file of `program` against a run of the program.
///
/// # Errors
///
/// The answers file cannot be read, or the program does not finish.
pub fn check(lab: Lab, program: Program, quick: bool) -> Result<Verdict, LabError> {
    let path = lab.dir().join(lab.file_name(program));
    let text = std::fs::read_to_string(&path).map_err(LabError::io(format!(
        "read the answers in {}",
        path.display()
    )))?;
    let answers = parse_answers(&text);
    let mut child = process::start(lab, Program::Yours, quick, &[])?;
    let actual: Outcome = child.result(Duration::from_secs(60))?;
    let expected = [
        ("order", actual.order.clone()),
        ("cycles", actual.cycles.to_string()),
        ("dumped", actual.dumped.to_string()),
    ];
    let mut measured = Vec::new();
    let mut checks = Vec::new();
    for (key, truth) in &expected {
        let given = answers.get(*key).map_or("(missing)", String::as_str);
        let right = given == truth;
        measured.push(format!(
            "{key:<7} {}: you predicted `{given}`, the program did `{truth}`",
            if right { "right" } else { "WRONG" }
        ));
        let mut check = Check::new(
            format!("the `{key}` prediction matches what the program did"),
            right,
            format!("`{key}`: you predicted `{given}`, the program did `{truth}`"),
        );
        // The numeric answers are figures too.
        if let (Ok(g), Ok(t)) = (given.parse::<f64>(), truth.parse::<f64>()) {
            check = check
                .figure(&format!("predicted_{key}"), g)
                .figure(&format!("actual_{key}"), t);
        }
        checks.push(check);
    }
    let wrong: Vec<&str> = expected
        .iter()
        .zip(&checks)
        .filter(|(_, c)| !c.pass)
        .map(|((key, _), _)| *key)
        .collect();
    let mut verdict = Verdict::from_checks(
        measured,
        checks,
        "every prediction matches what the program did on this run".to_owned(),
    );
    if !wrong.is_empty() {
        verdict
            .measured
            .push("what the program wrote on stderr (the cycle trace, the task dump):".into());
        verdict.measured.extend(
            child
                .stderr_lines()
                .iter()
                .take(60)
                .map(|l| format!("  {l}")),
        );
        verdict.reason = format!(
            "{} of {} predictions wrong ({}); compare them with the trace above, then explain \
             each difference to yourself before you correct it",
            wrong.len(),
            expected.len(),
            wrong.join(", ")
        );
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::parse_answers;

    #[test]
    fn answers_skip_comments_and_normalise_spaces() {
        let a = parse_answers("# order = X\norder =  M1   A1 \n\ncycles=4\nnot an answer\n");
        assert_eq!(a.get("order").map(String::as_str), Some("M1 A1"));
        assert_eq!(a.get("cycles").map(String::as_str), Some("4"));
        assert_eq!(a.len(), 2);
    }
}

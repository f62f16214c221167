//! The labs in which the student predicts and the program shows (lab 2, the cycle; lab 8, the
//! loop's lifecycle): reading an answers file, and judging it against what the program did.
//!
//! A graded run reads the answers before it starts the program, and shows the program's own
//! output (its trace, its task dump, its messages) only after judging, and only when a
//! prediction was wrong.

use std::collections::BTreeMap;

use super::lab::{Lab, Program};
use super::verdict::{Check, LabError, Verdict};

/// How many lines of the program's stderr a FAIL shows.
const SHOWN_LINES: usize = 60;

/// Reads `program`'s answers file of `lab`.
///
/// # Errors
///
/// [`LabError::Io`] if the file cannot be read.
pub fn read_answers(lab: Lab, program: Program) -> Result<BTreeMap<String, String>, LabError> {
    let path = lab.dir().join(lab.file_name(program));
    let text = std::fs::read_to_string(&path).map_err(LabError::io(format!(
        "read the answers in {}",
        path.display()
    )))?;
    Ok(parse_answers(&text))
}

/// Reads `key = value` lines, skipping blank lines and `#` comments; spaces inside a value are
/// normalised to one.
pub fn parse_answers(text: &str) -> BTreeMap<String, String> {
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

/// The check of a predicting lab: reads `program`'s answers first, then runs the lab's program
/// once in a child process, reads what it did, and judges the answers against `truths` of it
/// (one entry per answer key); on a FAIL the program's stderr (`what` names it) is shown.
///
/// # Errors
///
/// The answers file cannot be read, or the program does not finish.
pub fn check_run<T: serde::de::DeserializeOwned>(
    lab: Lab,
    program: Program,
    quick: bool,
    truths: impl FnOnce(T) -> Vec<(&'static str, String)>,
    what: &str,
) -> Result<Verdict, LabError> {
    // The answers are read before the program runs: nothing it shows can change them.
    let answers = read_answers(lab, program)?;
    let mut child = super::process::start(lab, Program::Yours, quick, &[])?;
    let actual: T = child.result(std::time::Duration::from_secs(60))?;
    Ok(verdict(
        &answers,
        &truths(actual),
        &child.stderr_lines(),
        what,
    ))
}

/// Judges `answers` against `truths` (each key and what the program did): one check per key.
/// On a FAIL the verdict shows `stderr`, the program's own account (`what` names it).
pub fn verdict(
    answers: &BTreeMap<String, String>,
    truths: &[(&str, String)],
    stderr: &[String],
    what: &str,
) -> Verdict {
    let mut measured = Vec::new();
    let mut checks = Vec::new();
    for (key, truth) in truths {
        let given = answers.get(*key).map_or("(missing)", String::as_str);
        let right = given.eq_ignore_ascii_case(truth);
        measured.push(format!(
            "{key:<9} {}: you predicted `{given}`, the program did `{truth}`",
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
    let wrong: Vec<&str> = truths
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
            .push(format!("what the program wrote on stderr ({what}):"));
        verdict
            .measured
            .extend(stderr.iter().take(SHOWN_LINES).map(|l| format!("  {l}")));
        verdict.reason = format!(
            "{} of {} predictions wrong ({}); compare them with the program's output above, \
             then explain each difference to yourself before you correct it",
            wrong.len(),
            truths.len(),
            wrong.join(", ")
        );
    }
    verdict
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

//! What `lab check --json` prints and `--junit` writes: the verdict of one check of one lab,
//! for grading systems.

use serde::Serialize;

use super::lab::{Lab, Program};
use super::verdict::{Check, LabError, Verdict};

/// Which version of the JSON below a grading script reads; raised when a field changes meaning
/// or goes away (new fields may appear without it).
const FORMAT: u32 = 1;

/// One `lab check`, as a grading system reads it.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The version of this format.
    pub format: u32,
    /// The lab's number.
    pub lab: u8,
    /// The lab's title (empty for a lab that does not exist).
    pub title: String,
    /// The version checked: `yours`, `starter` or `solution`.
    pub program: String,
    /// The file checked, relative to the repository's root.
    pub file: String,
    /// Whether `--quick` was given.
    pub quick: bool,
    /// `PASS`, `FAIL`, or `ERROR` (the lab could not be checked: see `error`).
    pub result: String,
    /// The exit status of the command: 0 PASS, 1 FAIL, 2 ERROR.
    pub exit_code: u8,
    /// Why it passed or failed, with the numbers that decided (empty for ERROR).
    pub reason: String,
    /// What kept the checker from a verdict (empty unless ERROR).
    pub error: String,
    /// The lines the text output shows before the verdict: each measured program.
    pub measured: Vec<String>,
    /// Every rule the checker applied, with its figures and its own verdict.
    pub checks: Vec<Check>,
}

impl Report {
    /// The report of checking `program` of lab `number`: its verdict, or why there is none.
    pub fn new(
        number: u8,
        program: Program,
        quick: bool,
        verdict: &Result<(Lab, Verdict), LabError>,
    ) -> Report {
        let mut report = Report {
            format: FORMAT,
            lab: number,
            title: String::new(),
            program: program.name().to_owned(),
            file: String::new(),
            quick,
            result: "ERROR".into(),
            exit_code: 2,
            reason: String::new(),
            error: String::new(),
            measured: Vec::new(),
            checks: Vec::new(),
        };
        match verdict {
            Ok((lab, v)) => {
                report.title = lab.title.to_owned();
                report.file = lab.file(program);
                report.result = v.word().to_owned();
                report.exit_code = if v.pass { 0 } else { 1 };
                report.reason = v.reason.clone();
                report.measured = v.measured.clone();
                report.checks = v.checks.clone();
            }
            Err(e) => {
                if let Ok(lab) = Lab::find(number) {
                    report.title = lab.title.to_owned();
                    report.file = lab.file(program);
                }
                report.error = e.to_string();
            }
        }
        report
    }

    /// The report as a JUnit XML document: one test suite for the lab, one test case per
    /// check (failed ones with their message), or one erroring test case when the lab could
    /// not be checked.
    pub fn junit(&self) -> String {
        let suite = format!("lab {} ({}), {}", self.lab, self.title, self.program);
        let failures = self.checks.iter().filter(|c| !c.pass).count();
        let errors = usize::from(self.result == "ERROR");
        let tests = self.checks.len().max(errors);
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        xml += &format!(
            "<testsuites tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n  \
             <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" \
             errors=\"{errors}\">\n",
            escape(&suite)
        );
        let class = format!("lab{:02}", self.lab);
        if errors > 0 {
            xml += &format!(
                "    <testcase classname=\"{class}\" name=\"check\">\n      <error \
                 message=\"{}\"/>\n    </testcase>\n",
                escape(&self.error)
            );
        }
        for check in &self.checks {
            let figures: Vec<String> = check
                .figures
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            xml += &format!(
                "    <testcase classname=\"{class}\" name=\"{}\">\n",
                escape(&check.rule)
            );
            if !check.pass {
                xml += &format!(
                    "      <failure message=\"{}\">{}</failure>\n",
                    escape(&check.failure),
                    escape(&figures.join("\n"))
                );
            } else if !figures.is_empty() {
                xml += &format!(
                    "      <system-out>{}</system-out>\n",
                    escape(&figures.join("\n"))
                );
            }
            xml += "    </testcase>\n";
        }
        xml += "  </testsuite>\n</testsuites>\n";
        xml
    }
}

/// `text` with XML's special characters escaped, for an attribute or an element.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control character than tab, newline and return.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_escapes_and_counts_failures() {
        let verdict = Verdict::from_checks(
            vec![],
            vec![
                Check::new("a < b & \"c\"", true, "").figure("x_ms", 1.5),
                Check::new("second", false, "went <wrong>"),
            ],
            "ok".into(),
        );
        let lab = Lab::find(1).unwrap();
        let report = Report::new(1, Program::Starter, true, &Ok((lab, verdict)));
        assert_eq!((report.result.as_str(), report.exit_code), ("FAIL", 1));
        let xml = report.junit();
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(suite.attribute("tests"), Some("2"));
        assert_eq!(suite.attribute("failures"), Some("1"));
        let cases: Vec<_> = suite.children().filter(|n| n.is_element()).collect();
        assert_eq!(cases[0].attribute("name"), Some("a < b & \"c\""));
        let failure = cases[1]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(failure.attribute("message"), Some("went <wrong>"));
    }

    #[test]
    fn a_lab_that_cannot_be_checked_is_an_error_with_exit_code_2() {
        let report = Report::new(42, Program::Yours, false, &Err(LabError::NoSuchLab(42)));
        assert_eq!((report.result.as_str(), report.exit_code), ("ERROR", 2));
        assert!(report.error.contains("lab list"), "{}", report.error);
        let xml = report.junit();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert!(doc.descendants().any(|n| n.has_tag_name("error")));
    }
}

//! Progress bars on stderr for the long phases.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A section's progress bar: steps done out of the steps planned, and the step running now.
#[derive(Debug)]
pub struct Progress {
    /// The bar, drawn on stderr (hidden when stderr is not a terminal).
    bar: ProgressBar,
}

impl Progress {
    /// A bar for section `name` with `steps` planned steps.
    pub fn new(name: &str, steps: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>9} [{bar:30}] {pos}/{len} {elapsed:>4} {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        Progress { bar }
    }

    /// Starts step `what` (and counts the previous step as done).
    pub fn step(&self, what: &str) {
        if !self.bar.message().is_empty() {
            self.bar.inc(1);
        }
        self.bar.set_message(what.to_string());
    }

    /// Adds `n` planned steps.
    pub fn plan(&self, n: u64) {
        self.bar.inc_length(n);
    }

    /// Ends the bar, leaving its last line with `what`.
    pub fn finish(&self, what: &str) {
        self.bar.set_position(self.bar.length().unwrap_or(0));
        self.bar.finish_with_message(what.to_string());
    }
}

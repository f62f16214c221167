//! Helpers for the report's tests: running the binary, temporary directories, children.

#![allow(dead_code)]

#[path = "../../../testing/os.rs"]
pub mod os;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The report binary built for this test run.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_evloop-bench"))
}

/// Runs the binary with `args` and returns what it did.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run evloop-bench")
}

/// A fresh directory under the system's temporary directory, removed when dropped.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `evloop-report-<name>-<pid>`, empty.
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("evloop-report-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Process ids of the live (not zombie) children of report process `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
    os::children_of(parent)
        .into_iter()
        .filter(|&(_, state)| state != 'Z')
        .map(|(pid, _)| pid)
        .collect()
}

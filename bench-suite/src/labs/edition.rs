//! `lab student-edition DIR`: a copy of this repository without the labs' reference solutions
//! and without git history, in which the starters build and the checkers work, for a course to
//! hand out.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::catalog::LABS;
use super::lab::Program;
use super::verdict::LabError;

/// Whether this copy of the repository has the labs' reference solutions (see build.rs).
pub const SOLUTIONS_INCLUDED: bool = cfg!(lab_solutions);

/// What [`write`] did.
#[derive(Debug)]
pub struct Written {
    /// Files copied.
    pub files: usize,
    /// Files left out: the reference solutions.
    pub left_out: Vec<String>,
}

/// The workspace's root, in the source tree this binary was built from.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench-suite lies in the workspace")
        .to_path_buf()
}

/// Writes the student edition of the repository into `dest`, which must not exist or be
/// empty: every file git tracks or would (not ignored), or, outside a git checkout, every file
/// but `target/` and `.git/`, as it is in the working tree, except each lab's reference solution; each lab's
/// student copy is the starter.
///
/// # Errors
///
/// [`LabError::Io`] if `dest` is not empty, or a file cannot be listed, read or written.
pub fn write(dest: &Path) -> Result<Written, LabError> {
    if !SOLUTIONS_INCLUDED {
        return Err(LabError::NoSolutions(
            "this copy is a student edition already".into(),
        ));
    }
    let not_empty = || LabError::Io {
        what: format!("write the student edition into {}", dest.display()),
        source: std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "the directory is not empty; give a new directory",
        ),
    };
    if dest.exists() {
        let mut entries =
            std::fs::read_dir(dest).map_err(LabError::io(format!("read {}", dest.display())))?;
        if entries.next().is_some() {
            return Err(not_empty());
        }
    }
    let root = root();
    let files = list(&root, dest)?;
    let mut written = Written {
        files: 0,
        left_out: Vec::new(),
    };
    for rel in files {
        let text = rel.to_string_lossy().replace('\\', "/");
        if let Some(lab) = LABS
            .iter()
            .find(|l| text.starts_with(&format!("bench-suite/labs/{}/", l.slug)))
        {
            let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name == lab.file_name(Program::Solution) || name.contains(".backup-") {
                if name == lab.file_name(Program::Solution) {
                    written.left_out.push(text);
                }
                continue;
            }
            if name == lab.file_name(Program::Yours) {
                // The student's copy starts as the starter, whatever this tree's copy holds.
                let starter = rel.with_file_name(lab.file_name(Program::Starter));
                copy(&root.join(starter), &dest.join(&rel))?;
                written.files += 1;
                continue;
            }
        }
        copy(&root.join(&rel), &dest.join(&rel))?;
        written.files += 1;
    }
    Ok(written)
}

/// The files to copy, relative to `root`: the files git tracks or would track (not ignored)
/// that exist in the working tree, or every file but build output and git's own when `root` is not a git checkout.
fn list(root: &Path, dest: &Path) -> Result<Vec<PathBuf>, LabError> {
    let git = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output();
    if let Ok(out) = git {
        if out.status.success() {
            return Ok(out
                .stdout
                .split(|&b| b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
                .filter(|p| root.join(p).is_file())
                .collect());
        }
    }
    let mut files = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(dir) = dirs.pop() {
        let full = root.join(&dir);
        if full == dest {
            continue;
        }
        let entries =
            std::fs::read_dir(&full).map_err(LabError::io(format!("read {}", full.display())))?;
        for entry in entries.flatten() {
            let rel = dir.join(entry.file_name());
            let kind = entry
                .file_type()
                .map_err(LabError::io(format!("read {}", rel.display())))?;
            if kind.is_dir() {
                if !matches!(entry.file_name().to_str(), Some("target" | ".git")) {
                    dirs.push(rel);
                }
            } else if kind.is_file() {
                files.push(rel);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Copies `from` to `to`, creating `to`'s directory.
fn copy(from: &Path, to: &Path) -> Result<(), LabError> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(LabError::io(format!("create {}", dir.display())))?;
    }
    std::fs::copy(from, to).map_err(LabError::io(format!(
        "copy {} to {}",
        from.display(),
        to.display()
    )))?;
    Ok(())
}

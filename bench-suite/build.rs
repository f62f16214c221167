//! Sets the `lab_solutions` cfg when every lab in `labs/` ships its reference solution (the
//! full repository). A student edition (`evloop-bench lab student-edition DIR`) leaves the
//! solutions out; it then builds without them and refuses `lab check N --program solution`.

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(lab_solutions)");
    // A directory: cargo rescans everything under it.
    println!("cargo::rerun-if-changed=labs");
    let Ok(dirs) = std::fs::read_dir("labs") else {
        return;
    };
    let mut labs = 0;
    let mut solved = 0;
    for dir in dirs.flatten().map(|d| d.path()).filter(|p| p.is_dir()) {
        labs += 1;
        if has_solution(&dir) {
            solved += 1;
        }
    }
    if labs > 0 && solved == labs {
        println!("cargo::rustc-cfg=lab_solutions");
    }
}

/// Whether a lab's directory holds its solution (a program, or lab 2's answers).
fn has_solution(dir: &Path) -> bool {
    dir.join("solution.rs").is_file() || dir.join("solution.txt").is_file()
}

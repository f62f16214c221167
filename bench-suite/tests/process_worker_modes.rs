//! The process pool's worker mode works in a plain binary (this package's
//! `process_pool_demo`) and in a criterion bench (`benches/process_pool.rs`, run in test mode
//! by `cargo test`); the integration-test case is `executor-bridge/tests/process_*.rs`, the
//! example case `runtime/tests/process.rs`.

use std::process::Command;

#[test]
fn a_plain_binary_runs_its_functions_in_worker_processes() {
    let output = Command::new(env!("CARGO_BIN_EXE_process_pool_demo"))
        .output()
        .expect("the demo binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("squares: [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]"),
        "{stdout}"
    );
    let parent = stdout
        .lines()
        .find_map(|line| line.strip_prefix("parent "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pid| pid.parse::<u32>().ok())
        .expect("the parent's pid is printed");
    assert!(
        !stdout.contains(&format!("{{{parent}}}")),
        "the parent ran the jobs: {stdout}"
    );
}

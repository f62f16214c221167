//! Resident memory per sleeping task: evloop, tokio (current_thread) and smol (`LocalExecutor`).
//!
//! `cargo run --release -p evloop-bench --example sleeping_task_memory` spawns 100,000 tasks,
//! each written inline as `async { sleep(60 s).await }`, in a fresh process per runtime, and
//! prints the growth of the resident set divided by the number of tasks. The report's section 1
//! (`cargo run --release -p evloop-bench -- report --only memory`) measures the same workload,
//! with virtual memory and OS threads beside it.

use std::process::Command;

use evloop_bench::workloads::memory::sleeping_tasks;
use evloop_bench::workloads::peers::Peer;

/// Tasks per measurement.
const TASKS: usize = 100_000;

fn main() {
    match std::env::args().nth(1).as_deref().and_then(Peer::from_name) {
        Some(peer) => {
            let grown = sleeping_tasks(peer, TASKS).expect("measure memory");
            println!("{}", grown.resident);
        }
        None => {
            println!("resident memory per sleeping task ({TASKS} tasks, `async {{ sleep(60 s).await }}`):");
            for peer in Peer::ALL {
                let out = Command::new(std::env::current_exe().unwrap())
                    .arg(peer.name())
                    .output()
                    .expect("run the measurement in a child process");
                assert!(out.status.success(), "{peer}: {out:?}");
                let bytes: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
                println!("  {:<7} {:>5} bytes", peer.name(), bytes / TASKS);
            }
        }
    }
}

//! Resident memory per sleeping task: evloop, tokio (current_thread) and smol (`LocalExecutor`).
//!
//! `cargo run --release -p evloop-bench --example sleeping_task_memory` spawns 100,000 tasks that
//! each sleep for an hour, in a fresh process per runtime, and prints the growth of the resident
//! set divided by the number of tasks.

use std::future::Future;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Tasks per measurement.
const TASKS: usize = 100_000;
/// Long enough that no timer fires during the measurement.
const NAP: Duration = Duration::from_secs(3600);

/// Tasks that have started sleeping; a static, so that counting adds nothing to a task.
static SLEEPING: AtomicUsize = AtomicUsize::new(0);

/// Counts the task as sleeping, then sleeps: the count and the timer's registration happen
/// in the same poll, so once all tasks are counted, every timer is registered.
async fn nap<F: Future>(sleep: F) {
    SLEEPING.fetch_add(1, Ordering::Relaxed);
    sleep.await;
}

/// Whether every task has started sleeping.
fn all_sleeping() -> bool {
    SLEEPING.load(Ordering::Relaxed) == TASKS
}

/// Resident set size of this process, in bytes (Linux `/proc/self/statm`).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn evloop_bytes() -> usize {
    evloop::run(async {
        let before = rss();
        for _ in 0..TASKS {
            drop(evloop::spawn(nap(evloop::sleep(NAP))));
        }
        while !all_sleeping() {
            evloop::yield_now().await;
        }
        assert_eq!(evloop::stats().timers_pending, TASKS);
        rss() - before
    })
}

fn tokio_bytes() -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let before = rss();
        for _ in 0..TASKS {
            drop(tokio::spawn(nap(tokio::time::sleep(NAP))));
        }
        while !all_sleeping() {
            tokio::task::yield_now().await;
        }
        rss() - before
    })
}

fn smol_bytes() -> usize {
    let ex = async_executor::LocalExecutor::new();
    async_io::block_on(ex.run(async {
        let before = rss();
        for _ in 0..TASKS {
            ex.spawn(nap(async_io::Timer::after(NAP))).detach();
        }
        while !all_sleeping() {
            futures_lite::future::yield_now().await;
        }
        rss() - before
    }))
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("evloop") => println!("{}", evloop_bytes()),
        Some("tokio") => println!("{}", tokio_bytes()),
        Some("smol") => println!("{}", smol_bytes()),
        _ => {
            println!("resident memory per sleeping task ({TASKS} tasks sleeping {NAP:?}):");
            for peer in ["evloop", "tokio", "smol"] {
                let out = Command::new(std::env::current_exe().unwrap())
                    .arg(peer)
                    .output()
                    .expect("run the measurement in a child process");
                assert!(out.status.success(), "{peer}: {out:?}");
                let bytes: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
                println!("  {peer:<7} {:>5} bytes", bytes / TASKS);
            }
        }
    }
}

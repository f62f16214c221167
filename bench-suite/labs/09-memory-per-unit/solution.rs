//! Lab 9, memory per unit: the reference solution (statement:
//! `docs/labs/09-memory-per-unit.md`).
//!
//! Measure, don't compute: start many units, read how much the process's resident memory
//! grew, divide. A task is one heap allocation holding its future and a small header; a thread
//! is a stack (reserved in full, backed by RAM only where touched), the C library's per-thread
//! state and, out of sight of any process counter, a kernel stack and task struct.

use std::sync::{Arc, Barrier};

use crate::labs::lab09::{resident_bytes, NAP};

/// Resident bytes that one evloop task costs while it sleeps (`evloop::sleep(NAP)`), measured
/// with `count` such tasks.
pub fn bytes_per_sleeping_task(count: usize) -> f64 {
    evloop::run(async {
        let before = resident_bytes();
        for _ in 0..count {
            drop(evloop::spawn(async { evloop::sleep(NAP).await }));
        }
        // Let every task run to its await: the loop's counters say when all armed a timer.
        while evloop::stats().timers_pending < count {
            evloop::yield_now().await;
        }
        let after = resident_bytes();
        after.saturating_sub(before) as f64 / count as f64
    })
}

/// Resident bytes that one OS thread costs while it waits, with `stack` bytes of stack (Rust's
/// default, 2 MiB, if `None`), measured with `count` such threads.
pub fn bytes_per_thread(count: usize, stack: Option<usize>) -> f64 {
    let before = resident_bytes();
    let (started, release) = (
        Arc::new(Barrier::new(count + 1)),
        Arc::new(Barrier::new(count + 1)),
    );
    let threads: Vec<_> = (0..count)
        .map(|_| {
            let (started, release) = (started.clone(), release.clone());
            let mut builder = std::thread::Builder::new();
            if let Some(stack) = stack {
                builder = builder.stack_size(stack);
            }
            builder
                .spawn(move || {
                    started.wait();
                    release.wait();
                })
                .expect("start a thread")
        })
        .collect();
    // Every thread is running and waiting: measure now.
    started.wait();
    let after = resident_bytes();
    release.wait();
    for t in threads {
        let _ = t.join();
    }
    after.saturating_sub(before) as f64 / count as f64
}

/// Why a waiting thread costs so many more bytes than a waiting task, in a line or two (the
/// checker prints it back).
pub const WHY: &str = "a sleeping task is one allocation: its future (a timer entry and its \
state) and a header; a waiting thread has a stack, of which the pages it touched are resident \
whatever size it reserved, plus the C library's per-thread state, and a kernel stack and task \
struct that no process counter shows";

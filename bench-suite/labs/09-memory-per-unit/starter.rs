//! Lab 9, memory per unit (statement: `docs/labs/09-memory-per-unit.md`).
//!
//! How much memory does one waiting connection cost, as a task on the event loop and as a
//! thread of its own? The two functions below answer by computing a size from the code: the
//! size of the task's future, the size of the thread's stack. Neither is what the machine
//! pays. Make them measure it (resident bytes: memory backed by RAM), for `count` units at
//! once, and say in `WHY` where the gap between a task and a thread comes from. Check with
//! `cargo run --release -p evloop-bench -- lab check 9`.

use crate::labs::lab09::NAP;

/// Resident bytes that one evloop task costs while it sleeps (`evloop::sleep(NAP)`), measured
/// with `count` such tasks.
pub fn bytes_per_sleeping_task(count: usize) -> f64 {
    let _ = count; // not used yet
                   // The size of the task's future: the state it keeps across its await.
    let task = async { evloop::sleep(NAP).await };
    std::mem::size_of_val(&task) as f64
}

/// Resident bytes that one OS thread costs while it waits, with `stack` bytes of stack (Rust's
/// default, 2 MiB, if `None`), measured with `count` such threads.
pub fn bytes_per_thread(count: usize, stack: Option<usize>) -> f64 {
    let _ = count; // not used yet
                   // The stack it asks for.
    stack.unwrap_or(2 << 20) as f64
}

/// Why a waiting thread costs so many more bytes than a waiting task, in a line or two (the
/// checker prints it back).
pub const WHY: &str = "";

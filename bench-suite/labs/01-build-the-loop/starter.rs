//! Lab 1, build the loop (statement: `docs/labs/01-build-the-loop.md`).
//!
//! The tiny loop in `bench-suite/src/labs/lab01.rs` calls these three steps, in this order,
//! once per cycle, until the main task finishes (slide 5: Run → Poll → Resume → repeat).
//! Everything else is there: the tasks and their wakers, `spawn`, `yield_now`, `sleep`, and
//! `read`, which registers a socket with the poller and its waker in `core.io`. Write the three
//! steps; check with `cargo run --release -p evloop-bench -- lab check 1`.

use crate::labs::lab01::{Core, Steps};

/// Your steps.
#[derive(Debug)]
pub struct Yours;

impl Steps for Yours {
    /// Step 1, Run: poll each task that is in `core.ready` when the step begins, once, with
    /// `core.poll_task(id)`. Tasks woken meanwhile wait for the next cycle.
    fn run_ready(core: &mut Core) {
        let _ = core;
    }

    /// Step 2, Poll: call `core.poller.wait(&mut core.events, timeout)`. The timeout: zero if
    /// a task was woken (`core.has_woken()`), else until the earliest deadline in
    /// `core.timers`, else none at all. Clear `core.events` first (`core.events.clear()`):
    /// `wait` adds to what the buffer holds, and a buffer full of earlier events takes no new
    /// one. Then wake the waker that `core.io` holds for each event's key.
    fn poll_io(core: &mut Core) {
        let _ = core;
    }

    /// Step 3, Resume: remove the due timers from `core.timers` and wake their wakers; then
    /// move every id of `core.take_woken()` that is alive (`core.is_alive`) and not yet
    /// there into `core.ready`, in order.
    fn resume_woken(core: &mut Core) {
        let _ = core;
    }
}

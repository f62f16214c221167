//! The functions the report runs on evloop's process pool. The report's executable registers
//! them first thing in `main` (`evloop_bridge::process::init(procs::registry)`), so that the
//! workers it starts (the same executable, re-run in worker mode) know them too.

use std::time::Duration;

use evloop_bridge::process::{ProcessFn, Registry};

use crate::workloads::cpu::burn_cpu;

/// The round trip's trivial function: a small argument back.
pub const ECHO: ProcessFn<u64, u64> = ProcessFn::new("report_echo", |x| x);

/// Blocks the worker for the given microseconds with `thread::sleep`; returns 0.
pub const SLEEP: ProcessFn<u64, u64> = ProcessFn::new("report_sleep", |micros| {
    std::thread::sleep(Duration::from_micros(micros));
    0
});

/// Burns the given microseconds of the worker's CPU time; returns the CPU time used, in ns.
pub const BURN: ProcessFn<u64, u64> = ProcessFn::new("report_burn", |micros| {
    burn_cpu(Duration::from_micros(micros)).as_nanos() as u64
});

/// Every function above.
pub fn registry() -> Registry {
    Registry::new()
        .register(ECHO)
        .register(SLEEP)
        .register(BURN)
}

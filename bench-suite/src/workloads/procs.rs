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

/// The CPU time the worker process has used so far, in ns (its own polling included).
pub const CPU_TIME: ProcessFn<(), u64> = ProcessFn::new("report_cpu_time", |()| {
    crate::workloads::cpu::process_cpu().as_nanos() as u64
});

/// Counts the primes below the argument by trial division (CPU work for lab 5).
pub const COUNT_PRIMES: ProcessFn<u64, u64> = ProcessFn::new("count_primes", count_primes);

/// The number of primes below `limit`, by trial division: pure CPU work.
pub fn count_primes(limit: u64) -> u64 {
    (2..limit)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

/// Every function above.
pub fn registry() -> Registry {
    Registry::new()
        .register(ECHO)
        .register(SLEEP)
        .register(BURN)
        .register(COUNT_PRIMES)
        .register(CPU_TIME)
}

//! CPU clocks of the process and of the calling thread, and CPU-bound work of a given length.

use std::hint::black_box;
use std::time::Duration;

use rustix::time::{clock_gettime, ClockId};

/// CPU time consumed so far by every thread of this process (`CLOCK_PROCESS_CPUTIME_ID`).
pub fn process_cpu() -> Duration {
    to_duration(clock_gettime(ClockId::ProcessCPUTime))
}

/// CPU time consumed so far by the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu() -> Duration {
    to_duration(clock_gettime(ClockId::ThreadCPUTime))
}

fn to_duration(ts: rustix::time::Timespec) -> Duration {
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// One unit of CPU work: a round of an FNV-1a hash over 64 bytes, a few tens of nanoseconds.
#[inline]
pub fn work_item(seed: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for byte in 0..64u64 {
        hash ^= byte;
        hash = hash.wrapping_mul(0x100_0000_01b3);
    }
    black_box(hash)
}

/// Burns `cpu` of the calling thread's CPU time (not wall time: on a loaded machine it takes
/// longer) and returns the CPU time it actually used, which overshoots by at most a few
/// microseconds.
pub fn burn_cpu(cpu: Duration) -> Duration {
    let start = thread_cpu();
    let mut seed = 0;
    loop {
        for _ in 0..64 {
            seed = work_item(seed);
        }
        let used = thread_cpu() - start;
        if used >= cpu {
            return used;
        }
    }
}

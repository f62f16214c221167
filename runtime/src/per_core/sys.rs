//! The OS calls of `per_core`: which CPUs this process may run on, and pinning a thread to one.

/// The CPUs this process may run on, in order (all of `available_parallelism` where the
/// system cannot say).
pub(super) fn allowed_cpus() -> Vec<usize> {
    imp::allowed_cpus()
        .filter(|cpus| !cpus.is_empty())
        .unwrap_or_else(|| {
            (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
        })
}

/// The calling thread's CPU time so far (rustix reads the thread CPU-time clock on every unix
/// system evloop builds for).
pub(super) fn thread_cpu_time() -> Option<std::time::Duration> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(std::time::Duration::new(
        u64::try_from(t.tv_sec).ok()?,
        u32::try_from(t.tv_nsec).ok()?,
    ))
}

/// Pins the calling thread to `cpu`; returns it if that worked.
pub(super) fn pin_current_thread(cpu: usize) -> Option<usize> {
    match imp::pin(cpu) {
        Ok(()) => Some(cpu),
        Err(e) => {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                eprintln!("evloop: per_core: the loops run unpinned: pinning a thread to a CPU failed ({e})");
            });
            None
        }
    }
}

// Linux: `sched_setaffinity` on the calling thread.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};

    pub(super) fn allowed_cpus() -> Option<Vec<usize>> {
        let set = sched_getaffinity(None).ok()?;
        Some(
            (0..CpuSet::MAX_CPU)
                .filter(|&cpu| set.is_set(cpu))
                .collect(),
        )
    }

    pub(super) fn pin(cpu: usize) -> std::io::Result<()> {
        let mut set = CpuSet::new();
        set.set(cpu);
        sched_setaffinity(None, &set)?;
        Ok(())
    }
}

// macOS has no thread-to-CPU binding (only affinity hints), and the BSDs' cpuset calls are not
// wrapped here yet: the loops run where the scheduler puts them.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod imp {
    pub(super) fn allowed_cpus() -> Option<Vec<usize>> {
        None
    }

    pub(super) fn pin(_cpu: usize) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "this system has no thread-to-CPU pinning that evloop uses",
        ))
    }
}

//! Memory per unit: sleeping tasks on each runtime, and parked OS threads. Each function is
//! meant to run in a fresh process (the report runs it in a child), so that no memory the
//! allocator kept from earlier work is reused.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use crate::workloads::peers::Peer;

/// Long enough that no timer fires during the measurement.
pub const NAP: Duration = Duration::from_secs(60);

/// Tasks that have started sleeping; a static, so that counting adds no state to a task.
static SLEEPING: AtomicUsize = AtomicUsize::new(0);

/// Resident and virtual size of this process, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Resident set size: pages backed by RAM.
    pub resident: u64,
    /// Virtual size: address space reserved, backed or not.
    pub virtual_size: u64,
}

/// Reads this process's resident and virtual size.
///
/// # Errors
///
/// Returns the error of reading or parsing what the system says (`/proc/self/statm` on Linux,
/// `ps` elsewhere).
pub fn usage() -> io::Result<Usage> {
    read_usage()
}

/// Linux: `/proc/self/statm`, in pages (exact, and no process to start).
// Linux: the one system with /proc/self/statm.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_usage() -> io::Result<Usage> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let mut fields = statm.split_whitespace().map(|f| f.parse::<u64>());
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/self/statm");
    let page = rustix::param::page_size() as u64;
    let virtual_pages = fields.next().ok_or_else(bad)?.map_err(|_| bad())?;
    let resident_pages = fields.next().ok_or_else(bad)?.map_err(|_| bad())?;
    Ok(Usage {
        resident: resident_pages * page,
        virtual_size: virtual_pages * page,
    })
}

/// macOS and the BSDs have no `/proc/self/statm`: `ps -o rss=,vsz=` gives both, in KiB.
// macOS and the BSDs: no /proc.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn read_usage() -> io::Result<Usage> {
    let out = std::process::Command::new("ps")
        .args(["-o", "rss=,vsz=", "-p", &std::process::id().to_string()])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("ps printed {text:?}"));
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>());
    let resident = fields.next().ok_or_else(bad)?.map_err(|_| bad())?;
    let virtual_size = fields.next().ok_or_else(bad)?.map_err(|_| bad())?;
    Ok(Usage {
        resident: resident * 1024,
        virtual_size: virtual_size * 1024,
    })
}

impl Usage {
    /// Growth from `before` to `self`, saturating at zero.
    pub fn since(self, before: Usage) -> Usage {
        Usage {
            resident: self.resident.saturating_sub(before.resident),
            virtual_size: self.virtual_size.saturating_sub(before.virtual_size),
        }
    }
}

/// Spawns `tasks` tasks on `peer`, each written inline as `async { sleep(NAP).await }` (plus a
/// relaxed increment of a static counter before the sleep, which adds no state to the future),
/// waits until all are sleeping, and returns the growth of the process.
///
/// # Errors
///
/// Returns the error of [`usage`].
pub fn sleeping_tasks(peer: Peer, tasks: usize) -> io::Result<Usage> {
    SLEEPING.store(0, Ordering::Relaxed);
    let all_sleeping = move || SLEEPING.load(Ordering::Relaxed) == tasks;
    match peer {
        Peer::Evloop => evloop::run(async {
            let before = usage()?;
            for _ in 0..tasks {
                drop(evloop::spawn(async {
                    SLEEPING.fetch_add(1, Ordering::Relaxed);
                    evloop::sleep(NAP).await
                }));
            }
            while !all_sleeping() {
                evloop::yield_now().await;
            }
            Ok(usage()?.since(before))
        }),
        Peer::Tokio => crate::workloads::peers::tokio_current_thread().block_on(async {
            let before = usage()?;
            for _ in 0..tasks {
                drop(tokio::spawn(async {
                    SLEEPING.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(NAP).await
                }));
            }
            while !all_sleeping() {
                tokio::task::yield_now().await;
            }
            Ok(usage()?.since(before))
        }),
        Peer::Smol => {
            let ex = async_executor::LocalExecutor::new();
            async_io::block_on(ex.run(async {
                let before = usage()?;
                for _ in 0..tasks {
                    ex.spawn(async {
                        SLEEPING.fetch_add(1, Ordering::Relaxed);
                        async_io::Timer::after(NAP).await;
                    })
                    .detach();
                }
                while !all_sleeping() {
                    futures_lite::future::yield_now().await;
                }
                Ok(usage()?.since(before))
            }))
        }
    }
}

/// Starts `threads` OS threads (with `stack` bytes of stack, or Rust's default if `None`),
/// each parked on a barrier, and returns the growth of the process once all are parked. The
/// threads are released and joined before returning.
///
/// # Errors
///
/// Returns the error of a thread that could not be started (the OS refused: memory,
/// `ulimit -u`, `threads-max`), or of [`usage`].
pub fn parked_threads(threads: usize, stack: Option<usize>) -> io::Result<Usage> {
    let before = usage()?;
    let started = Arc::new(Barrier::new(threads + 1));
    let release = Arc::new(Barrier::new(threads + 1));
    let mut handles = Vec::with_capacity(threads);
    for _ in 0..threads {
        let (started, release) = (started.clone(), release.clone());
        let mut builder = thread::Builder::new();
        if let Some(stack) = stack {
            builder = builder.stack_size(stack);
        }
        match builder.spawn(move || {
            started.wait();
            release.wait();
        }) {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                // The started threads wait on barriers sized for all: leaving them parked is
                // safe, as this function runs in a child process that exits right after.
                return Err(e);
            }
        }
    }
    started.wait();
    let grown = usage()?.since(before);
    release.wait();
    for handle in handles {
        let _ = handle.join();
    }
    Ok(grown)
}

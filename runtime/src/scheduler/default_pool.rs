//! The loop's default thread pool, behind `run_in_executor(None, ..)` and `to_thread`, and the
//! loop's own I/O pool, behind `fs` and name resolution.
//!
//! Two pools, so that evloop's own file and name operations never wait behind the user's jobs:
//! with every default-pool thread taken by long `to_thread` jobs, a 3-byte `fs::read` would
//! otherwise wait for one of them to finish (asyncio has this coupling: its file and name
//! operations share the default executor). The I/O pool's jobs are short system calls, so it
//! is small ([`IO_THREADS`]).
//!
//! Each is created the first time it is needed and shut down when the loop is: like
//! `asyncio.run`'s `shutdown_default_executor`, the loop lets the jobs already submitted finish
//! (a dropped `fs::File` flushes its last writes there), for at most a grace period
//! (`Builder::shutdown_timeout`).
//!
//! The loops of a `per_core` group share one pair ([`GroupPools`]): created by the first loop
//! that needs one, shut down by the group when its last loop has ended.

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use evloop_bridge::ThreadPool;

use crate::observe::report;

/// Most threads of the I/O pool (`fs` and name resolution): its jobs are single system calls,
/// and more of them in parallel rarely go faster on one disk or resolver.
pub(crate) const IO_THREADS: usize = 8;

/// A loop's default pool and I/O pool: created on first use, shut down with the loop (or, in a
/// `per_core` group, the group's). Loop thread only.
#[derive(Debug, Default)]
pub(crate) struct DefaultPool {
    /// The user's jobs; `None` until the first.
    pool: RefCell<Option<ThreadPool>>,
    /// evloop's own blocking I/O; `None` until the first.
    io: RefCell<Option<ThreadPool>>,
    /// The group's pools, which this loop uses instead of its own.
    group: Option<Arc<GroupPools>>,
}

/// The default pool.
fn new_default_pool() -> ThreadPool {
    ThreadPool::builder()
        .thread_name_prefix("evloop-default")
        .build()
        .expect("the default pool's settings are valid")
}

/// The I/O pool.
fn new_io_pool() -> ThreadPool {
    ThreadPool::builder()
        .thread_name_prefix("evloop-io")
        .max_workers(IO_THREADS)
        .build()
        .expect("the I/O pool's settings are valid")
}

impl DefaultPool {
    /// A loop's pools: the group's if it is given, the loop's own otherwise.
    pub(crate) fn new(group: Option<Arc<GroupPools>>) -> DefaultPool {
        DefaultPool {
            group,
            ..DefaultPool::default()
        }
    }

    /// The default pool (`to_thread`), created on first use.
    pub(crate) fn get(&self) -> ThreadPool {
        if let Some(group) = &self.group {
            return group.pool.get_or_init(new_default_pool).clone();
        }
        self.pool
            .borrow_mut()
            .get_or_insert_with(new_default_pool)
            .clone()
    }

    /// The I/O pool (`fs`, name resolution), created on first use.
    pub(crate) fn io(&self) -> ThreadPool {
        if let Some(group) = &self.group {
            return group.io.get_or_init(new_io_pool).clone();
        }
        self.io.borrow_mut().get_or_insert_with(new_io_pool).clone()
    }

    /// Shuts the loop's own pools down (a group's wait for the group), as
    /// [`shutdown_pools`] says. Called when the loop closes: the loop thread waits here, as
    /// asyncio's `shutdown_default_executor` does, but never for ever.
    pub(crate) fn shutdown(&self, grace: Duration) {
        if let Some(group) = &self.group {
            group.note_grace(grace);
            return;
        }
        let pools = [self.pool.borrow_mut().take(), self.io.borrow_mut().take()];
        shutdown_pools(pools.into_iter().flatten().collect(), grace);
    }
}

/// The default pool and the I/O pool that every loop of a `per_core` group uses: created by
/// the first loop that needs one, shut down by the group once its last loop has ended.
#[derive(Debug, Default)]
pub(crate) struct GroupPools {
    pool: OnceLock<ThreadPool>,
    io: OnceLock<ThreadPool>,
    /// The longest `shutdown_timeout` of the loops that closed.
    grace: Mutex<Duration>,
}

impl GroupPools {
    /// A loop of the group closed, with this `shutdown_timeout`.
    fn note_grace(&self, grace: Duration) {
        let mut longest = self.grace.lock().unwrap_or_else(|e| e.into_inner());
        *longest = (*longest).max(grace);
    }

    /// Shuts the group's pools down, as [`shutdown_pools`] says, with the longest grace of its
    /// loops. Called by the group once every loop has ended.
    pub(crate) fn shutdown(&self) {
        let grace = *self.grace.lock().unwrap_or_else(|e| e.into_inner());
        let pools = [self.pool.get().cloned(), self.io.get().cloned()];
        shutdown_pools(pools.into_iter().flatten().collect(), grace);
    }
}

/// Shuts `pools` down and waits up to `grace` for the jobs already submitted to finish (a
/// dropped `fs::File` flushes its last writes there); the jobs still running then are
/// reported, with where they were submitted, and left to finish in the background.
fn shutdown_pools(pools: Vec<ThreadPool>, grace: Duration) {
    for pool in &pools {
        pool.shutdown(false, false);
    }
    let deadline = Instant::now() + grace;
    let mut places = Vec::new();
    let mut running = 0;
    for pool in &pools {
        if wait_until(pool.finished(), deadline) {
            continue;
        }
        let jobs = pool.running_jobs();
        running += jobs.len().max(1);
        places.extend(jobs.iter().map(|l| l.to_string()));
    }
    if running == 0 {
        return;
    }
    report::warn(format_args!(
        "the event loop closed, but {running} job(s) of its default pool \
         (run_in_executor(None, ..), to_thread) or its I/O pool (fs, name resolution) still \
         run after the {grace:?} grace; submitted at: {}. They go on in the background and \
         their threads exit when they return; a job that never returns keeps its thread \
         until the process exits (Builder::shutdown_timeout sets the grace)",
        if places.is_empty() {
            "(finishing now)".to_owned()
        } else {
            places.join(", ")
        }
    ));
}

/// Blocks the calling thread on `future` until `deadline`; returns whether it completed.
fn wait_until(future: impl Future<Output = ()>, deadline: Instant) -> bool {
    /// Unparks the waiting thread.
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if future.as_mut().poll(&mut cx).is_ready() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        thread::park_timeout(deadline - now);
    }
}

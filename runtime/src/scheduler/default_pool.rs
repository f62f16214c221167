//! The loop's default thread pool, behind `run_in_executor(None, ..)`, `to_thread`, `fs` and
//! name resolution.
//!
//! Created the first time it is needed and shut down when the loop is: like `asyncio.run`'s
//! `shutdown_default_executor`, it lets the jobs already submitted finish (a dropped `fs::File`
//! flushes its last writes there), for at most a grace period (`Builder::shutdown_timeout`).

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use evloop_bridge::ThreadPool;

use crate::observe::report;

/// A loop's default pool: created on first use, shut down with the loop. Loop thread only.
#[derive(Debug, Default)]
pub(crate) struct DefaultPool {
    /// `None` until the first job.
    pool: RefCell<Option<ThreadPool>>,
}

impl DefaultPool {
    /// The pool, created on first use.
    pub(crate) fn get(&self) -> ThreadPool {
        self.pool
            .borrow_mut()
            .get_or_insert_with(|| {
                ThreadPool::builder()
                    .thread_name_prefix("evloop-default")
                    .build()
                    .expect("the default pool's settings are valid")
            })
            .clone()
    }

    /// Shuts the pool down, if it was created, and waits up to `grace` for the jobs already
    /// submitted to finish (a dropped `fs::File` flushes its last writes there); the jobs
    /// still running then are reported, with where they were submitted, and left to finish in
    /// the background. Called when the loop closes: the loop thread waits here, as asyncio's
    /// `shutdown_default_executor` does, but never for ever.
    pub(crate) fn shutdown(&self, grace: Duration) {
        let Some(pool) = self.pool.borrow_mut().take() else {
            return;
        };
        pool.shutdown(false, false);
        if wait_until(pool.finished(), Instant::now() + grace) {
            return;
        }
        let running = pool.running_jobs();
        let places: Vec<String> = running.iter().map(|l| l.to_string()).collect();
        report::warn(format_args!(
            "the event loop closed, but {} job(s) of its default pool (run_in_executor(None, ..), \
             to_thread, fs, name resolution) still run after the {:?} grace; submitted at: {}. \
             They go on in the background and their threads exit when they return; a job that \
             never returns keeps its thread until the process exits \
             (Builder::shutdown_timeout sets the grace)",
            running.len(),
            grace,
            if places.is_empty() {
                "(finishing now)".to_owned()
            } else {
                places.join(", ")
            }
        ));
    }
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

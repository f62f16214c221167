//! The loop's default thread pool, behind `run_in_executor(None, ..)`, `to_thread`, `fs` and
//! name resolution.
//!
//! Created the first time it is needed and shut down when the loop is: like `asyncio.run`'s
//! `shutdown_default_executor`, it lets the jobs already submitted finish (a dropped `fs::File`
//! flushes its last writes there) and joins the threads, so none outlives the loop.

use std::cell::RefCell;

use evloop_bridge::{Handle, ThreadPool};

/// A loop's default pool: created on first use, shut down with the loop. Loop thread only.
#[derive(Debug, Default)]
pub(crate) struct DefaultPool {
    /// `None` until the first job.
    pool: RefCell<Option<ThreadPool>>,
}

impl DefaultPool {
    pub(crate) fn submit<F, T>(&self, f: F) -> Handle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let mut pool = self.pool.borrow_mut();
        pool.get_or_insert_with(|| {
            ThreadPool::builder()
                .thread_name_prefix("evloop-default")
                .build()
                .expect("the default pool's settings are valid")
        })
        .submit(f)
    }

    /// Shuts the pool down, if it was created: submitted jobs finish and the threads are
    /// joined, so no thread outlives the loop.
    pub(crate) fn shutdown(&self) {
        let pool = self.pool.borrow_mut().take();
        if let Some(pool) = pool {
            pool.shutdown(true, false);
        }
    }
}

//! [`spawn`] and [`Builder`]: a future becomes a task of the loop.

use std::future::Future;
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;

use crate::scheduler::context::{schedule, with_core};
use crate::scheduler::Core;
use crate::task::harness::TaskFuture;
use crate::task::join::JoinHandle;

/// Spawns a task on the event loop running on this thread.
///
/// The future need not be `Send`: it stays on the loop thread, so `Rc` and `RefCell` state may be
/// held across `.await` points (the single-threaded guarantee of slide 10). The task is queued
/// behind the tasks already ready and first runs in the next cycle. The returned [`JoinHandle`]
/// resolves to the task's output; dropping it detaches the task, which keeps running.
///
/// # Panics
///
/// Panics if no event loop is running on this thread.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
///
/// evloop::run(async {
///     let log = Rc::new(RefCell::new(Vec::new()));
///     let l = log.clone();
///     let task = evloop::spawn(async move {
///         l.borrow_mut().push("child");
///         7
///     });
///     log.borrow_mut().push("parent");
///     assert_eq!(task.await.unwrap(), 7);
///     assert_eq!(*log.borrow(), ["parent", "child"]);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    Builder::new().spawn(future)
}

/// Configures a task before spawning it: today, its name.
///
/// The name (and the place `spawn` was called from) appears in reports about the task, such as
/// the one printed when it panics and nobody awaits its [`JoinHandle`].
///
/// # Examples
///
/// ```
/// evloop::run(async {
///     let task = evloop::task::Builder::new()
///         .name("db-writer")
///         .spawn(async { "written" });
///     assert_eq!(task.await.unwrap(), "written");
/// });
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    /// The task's name, if any.
    name: Option<Arc<str>>,
}

impl Builder {
    /// A builder for an unnamed task.
    pub fn new() -> Self {
        Builder { name: None }
    }

    /// Names the task.
    pub fn name(mut self, name: impl AsRef<str>) -> Self {
        self.name = Some(Arc::from(name.as_ref()));
        self
    }

    /// Spawns the task on the event loop running on this thread; see [`spawn`].
    ///
    /// # Panics
    ///
    /// Panics if no event loop is running on this thread.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let location = Location::caller();
        with_core("evloop::spawn", |core| {
            spawn_on(core, future, self.name, location)
        })
    }
}

/// Spawns `future` on `core`, which need not be the loop running on this thread (a runtime's
/// `spawn` before `block_on`): scheduling then goes through the injection queue.
pub(crate) fn spawn_on<F>(
    core: &Rc<Core>,
    future: F,
    name: Option<Arc<str>>,
    location: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let meta = core.new_task(name, location);
    let id = meta.id;
    let shared = core.weak_shared().clone();
    let owner = core.clone();
    let future = move |meta| TaskFuture::new(owner, meta, future);
    let schedule = move |runnable| schedule(&shared, runnable);
    // `spawn_unchecked` is used for its missing `Send` bound on the future (the bounds on
    // lifetimes are met: the future and `schedule` are `'static` but for the borrow of the
    // task's own metadata, which the API allows). A future that is not `Send` requires its
    // `Runnable` to be run and dropped on this thread only:
    // - the loop runs or drops runnables only in `run_ready` and `shutdown`, on the thread that
    //   created the loop, which is this thread (`Core` is `!Send`, and `spawn_on` gets it from
    //   this thread's context or from a `!Send` `Runtime`);
    // - another thread that wakes a task only pushes its runnable onto the injection queue (or
    //   forgets it when the loop is gone), and `Shared`'s destructor forgets, never drops, the
    //   runnables left in that queue;
    // - `schedule` itself is `Send + Sync`, so wakers may be used on any thread.
    // The future borrows the task's metadata, which lives in the same allocation and outlives
    // it: `spawn_unchecked` supports exactly this (`Fut: 'a` for `&'a M`).
    // SAFETY: so runnables of `!Send` futures stay on this thread, and borrows are allowed ones.
    let (runnable, task) = unsafe {
        async_task::Builder::new()
            .metadata(meta)
            .spawn_unchecked(future, schedule)
    };
    runnable.schedule();
    JoinHandle::new(Rc::downgrade(core), task, id)
}

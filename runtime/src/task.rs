//! Tasks: [`spawn`], [`Builder`], [`JoinHandle`], [`JoinError`] and [`yield_now`].
//!
//! A task is a future owned by the loop. Its allocation, reference counting and waker come from
//! [`async_task`]; this module adds what the loop needs around it: a registry entry (so the loop
//! can cancel it at shutdown and name it in reports), panic capture, and abort.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::{pin, Pin};
use std::ptr::NonNull;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use async_task::Task;
use pin_project_lite::pin_project;

use crate::runtime::{schedule, with_core, Core};
use crate::stats::bump;

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
    let id = core.next_task_id();
    let shared = core.weak_shared.clone();
    if let Some(name) = name {
        core.set_task_name(id, name);
    }
    let meta = TaskMeta {
        id,
        location,
        state: AtomicU64::new(TaskState::new(core.probe().coarse_ms()).0),
    };
    let core_for_future = core.clone();
    let future = move |meta| TaskFuture {
        core: core_for_future,
        meta,
        future: Some(future),
    };
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
    core.tasks_alive.set(core.tasks_alive.get() + 1);
    bump(&core.counters.spawned, 1);
    runnable.schedule();
    JoinHandle {
        core: Rc::downgrade(core),
        task: Some(task),
        id,
    }
}

/// The loop's handle on a task, as `async_task` hands it out.
pub(crate) type Runnable = async_task::Runnable<TaskMeta>;

/// What the task's allocation carries besides its future. The loop reads it through the
/// task's [`Runnable`], the [`JoinHandle`] through its `Task`, and the task's own future borrows
/// it.
#[derive(Debug)]
pub(crate) struct TaskMeta {
    /// The task's id.
    pub(crate) id: TaskId,
    /// Where `spawn` was called.
    pub(crate) location: &'static Location<'static>,
    /// A [`TaskState`]. Only the loop's thread writes it (the loop, the task's future, and the
    /// `!Send` `JoinHandle`), so plain loads and stores suffice; it is atomic only because
    /// runnables cross threads on their way to the injection queue.
    state: AtomicU64,
}

impl TaskMeta {
    pub(crate) fn state(&self) -> TaskState {
        TaskState(self.state.load(Ordering::Relaxed))
    }

    pub(crate) fn set_state(&self, state: TaskState) {
        self.state.store(state.0, Ordering::Relaxed);
    }
}

/// A task's counters and flags in one word, to keep the task allocation small: the number of
/// polls (24 bits, saturating), when it was spawned (38 bits, milliseconds since the loop
/// started, from the loop's coarse clock), whether it is in the registry of waiting tasks, and
/// whether it was aborted.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskState(u64);

impl TaskState {
    const ABORTED: u64 = 1 << 63;
    const WAITING: u64 = 1 << 62;
    const POLLS: u64 = (1 << 24) - 1;
    const SPAWNED_SHIFT: u32 = 24;
    const SPAWNED: u64 = (1 << 38) - 1;

    fn new(spawned_ms: u64) -> Self {
        TaskState((spawned_ms & Self::SPAWNED) << Self::SPAWNED_SHIFT)
    }

    pub(crate) fn is_aborted(self) -> bool {
        self.0 & Self::ABORTED != 0
    }

    fn aborted(self) -> Self {
        TaskState(self.0 | Self::ABORTED)
    }

    pub(crate) fn is_waiting(self) -> bool {
        self.0 & Self::WAITING != 0
    }

    fn waiting(self) -> Self {
        TaskState(self.0 | Self::WAITING)
    }

    /// Polls so far (saturating at 2^24 - 1).
    pub(crate) fn polls(self) -> u64 {
        self.0 & Self::POLLS
    }

    /// One more poll.
    pub(crate) fn polled(self) -> Self {
        if self.polls() == Self::POLLS {
            self
        } else {
            TaskState(self.0 + 1)
        }
    }

    /// When the task was spawned, in milliseconds since the loop started.
    pub(crate) fn spawned_ms(self) -> u64 {
        (self.0 >> Self::SPAWNED_SHIFT) & Self::SPAWNED
    }
}

/// A live task's key in the registry of waiting tasks (`Core::waiting`): the address of its
/// metadata, which is unique among live tasks and reachable from the task's future, its runnable
/// and its `JoinHandle` alike.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct MetaKey(NonNull<TaskMeta>);

impl std::hash::Hash for MetaKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Drop the bits that alignment keeps at zero: the low bits pick the bucket.
        let align = std::mem::align_of::<TaskMeta>().trailing_zeros();
        state.write_usize(self.0.as_ptr() as usize >> align);
    }
}

impl MetaKey {
    pub(crate) fn of(meta: &TaskMeta) -> MetaKey {
        MetaKey(NonNull::from(meta))
    }

    /// The metadata of the live task this key was taken from.
    ///
    /// Only called on keys of live tasks: keys in the registry (an entry is inserted by the
    /// task's future and removed when that future is dropped) and the key of the task being
    /// polled (`Core::running`, set only while its runnable, which keeps it alive, runs).
    pub(crate) fn meta(&self) -> &TaskMeta {
        // SAFETY: see above: such a key is only held while the task's allocation, which holds
        // the metadata, exists; the metadata is only read through shared references.
        unsafe { self.0.as_ref() }
    }
}

/// A task's identity in reports: id, optional name, and where it was spawned.
#[derive(Clone)]
pub(crate) struct TaskLabel {
    /// Unique within the loop, counting from 1.
    pub(crate) id: TaskId,
    /// Given through [`Builder::name`].
    pub(crate) name: Option<Arc<str>>,
    /// The caller of `spawn`.
    pub(crate) location: &'static Location<'static>,
}

impl TaskLabel {
    pub(crate) fn new(core: &Core, meta: &TaskMeta) -> TaskLabel {
        TaskLabel {
            id: meta.id,
            name: core.task_name(meta.id),
            location: meta.location,
        }
    }
}

impl fmt::Display for TaskLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.id.0)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        write!(f, " (spawned at {})", self.location)
    }
}

/// A task's id, unique within its event loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(u64);

impl TaskId {
    pub(crate) const fn new(id: u64) -> Self {
        TaskId(id)
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a task produces: its future's output, or the panic that ended it.
type TaskOutput<T> = Result<T, Box<TaskPanic>>;

/// A panic caught in a task. If it is dropped without having been delivered to a
/// [`JoinHandle`], nobody will ever see it, so it reports itself on stderr.
struct TaskPanic {
    /// The task that panicked.
    label: TaskLabel,
    /// Taken when the panic is delivered to the task's `JoinHandle`.
    payload: Option<Box<dyn Any + Send>>,
}

impl Drop for TaskPanic {
    fn drop(&mut self) {
        if let Some(payload) = &self.payload {
            crate::report::warn(format_args!(
                "{} panicked and nobody awaited its JoinHandle: {}",
                self.label,
                panic_message(payload.as_ref())
            ));
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<panic payload that is not a string>".to_owned()
    }
}

pin_project! {
    /// The future that `async_task` owns: the user's future plus the loop's bookkeeping.
    ///
    /// Catches panics so that a panicking task completes with the panic instead of unwinding
    /// through the loop. The first time the task waits, it enters its waker in the loop's
    /// registry of waiting tasks (so shutdown and `abort` can reach it); it leaves it when
    /// dropped (on completion, abort or cancellation, always on the loop thread). A task that
    /// completes at its first poll never touches the registry.
    struct TaskFuture<'a, F> {
        // The loop that owns the registry.
        core: Rc<Core>,
        // This task's metadata, in the same allocation as this future.
        meta: &'a TaskMeta,
        // The user's future; `None` once dropped.
        #[pin]
        future: Option<F>,
    }

    impl<'a, F> PinnedDrop for TaskFuture<'a, F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let core = &*this.core;
            let meta = *this.meta;
            // Drop the future in place, reporting (rather than propagating) a panic in its
            // destructor: it would otherwise unwind through the loop.
            if this.future.is_some() {
                let dropped = panic::catch_unwind(AssertUnwindSafe(|| this.future.set(None)));
                if let Err(payload) = dropped {
                    crate::report::warn(format_args!(
                        "{} panicked while being dropped: {}",
                        TaskLabel::new(core, meta),
                        panic_message(payload.as_ref())
                    ));
                }
            }
            core.tasks_alive.set(core.tasks_alive.get() - 1);
            core.task_finished(meta);
            if meta.state().is_waiting() {
                core.waiting.borrow_mut().remove(&MetaKey::of(meta));
            }
            core.forget_task_name(meta.id);
        }
    }
}

impl<F: Future> Future for TaskFuture<'_, F> {
    type Output = TaskOutput<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let meta = *this.meta;
        let future = this
            .future
            .as_pin_mut()
            .expect("evloop task polled after its future was dropped");
        match panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => {
                let state = meta.state();
                if !state.is_waiting() {
                    // `cx.waker()` is this task's own waker: `async_task` polls with it.
                    let waker = cx.waker().clone();
                    this.core
                        .waiting
                        .borrow_mut()
                        .insert(MetaKey::of(meta), waker);
                    meta.set_state(state.waiting());
                }
                Poll::Pending
            }
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(Box::new(TaskPanic {
                label: TaskLabel::new(this.core, meta),
                payload: Some(payload),
            }))),
        }
    }
}

/// An owned permission to await a task's output, returned by [`spawn`].
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] telling whether the task panicked (with the
/// panic message) or was cancelled. Dropping it detaches the task, which keeps running; a
/// detached task that panics is reported on stderr. [`abort`](Self::abort) cancels the task.
///
/// A `JoinHandle` is `!Send`, like the loop-local task it points to.
pub struct JoinHandle<T> {
    /// The loop, to reach the task's registry entry for `abort`.
    core: Weak<Core>,
    /// `None` only after the output was taken or inside `drop`.
    task: Option<Task<TaskOutput<T>, TaskMeta>>,
    /// The task's id, kept for [`id`](Self::id) once `task` is gone.
    id: TaskId,
}

impl<T> JoinHandle<T> {
    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Whether the task has completed, panicked or been cancelled.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Cancels the task.
    ///
    /// The task's future is dropped (running its destructors) the next time the loop runs it,
    /// and awaiting this handle then gives [`JoinError::Cancelled`]. A task that already
    /// completed is unaffected: awaiting still gives its output.
    pub fn abort(&self) {
        let Some(task) = &self.task else {
            return; // the output was already taken
        };
        let meta = task.metadata();
        meta.set_state(meta.state().aborted());
        // A waiting task is woken so the loop drops it; a task not waiting yet is already in a
        // ready queue, where the loop will find the flag.
        let Some(core) = self.core.upgrade() else {
            return; // the loop is gone, and with it every task
        };
        let waker = core.waiting.borrow().get(&MetaKey::of(meta)).cloned();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = self.id;
        let task = self
            .task
            .as_mut()
            .expect("JoinHandle polled after it returned its result");
        let output = if task.is_finished() {
            // Completed, panicked or cancelled: read which without `Task::poll`, which panics
            // on a cancelled task. A finished task's outcome is there at the first poll.
            let finished = self.task.take().unwrap().fallible();
            match pin!(finished).poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(output) => output,
                Poll::Pending => unreachable!("a finished task has its outcome"),
            }
        } else {
            // Registers the waker. Tasks only run (and so finish) on the loop thread, which is
            // the thread polling this `!Send` handle, so the task cannot finish meanwhile.
            match Pin::new(task).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(output) => {
                    self.task = None;
                    Some(output)
                }
            }
        };
        Poll::Ready(match output {
            Some(Ok(value)) => Ok(value),
            None => Err(JoinError::Cancelled { task: id }),
            Some(Err(mut panic)) => {
                let payload = panic.payload.take().expect("panic delivered twice");
                Err(JoinError::Panicked {
                    task: id,
                    name: panic.label.name.as_deref().map(str::to_owned),
                    spawned_at: panic.label.location.to_string(),
                    message: panic_message(payload.as_ref()),
                })
            }
        })
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why awaiting a [`JoinHandle`] gave no output.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// The task was aborted with [`JoinHandle::abort`], or its event loop shut down, before it
    /// completed. Its future has been dropped.
    Cancelled {
        /// The task's id.
        task: TaskId,
    },
    /// The task panicked. The panic was caught: the loop and the other tasks kept running.
    Panicked {
        /// The task's id.
        task: TaskId,
        /// The task's name, if it was given one.
        name: Option<String>,
        /// Where the task was spawned, as `file:line:column`.
        spawned_at: String,
        /// The panic message (the argument of `panic!`).
        message: String,
    },
}

impl JoinError {
    /// Whether the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled { .. })
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked { .. })
    }

    /// The panic message, if the task panicked.
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            JoinError::Panicked { message, .. } => Some(message),
            JoinError::Cancelled { .. } => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled { task } => write!(
                f,
                "task {task} was cancelled before it completed (aborted, or its event loop shut down)"
            ),
            JoinError::Panicked {
                task,
                name,
                spawned_at,
                message,
            } => {
                write!(f, "task {task}")?;
                if let Some(name) = name {
                    write!(f, " {name:?}")?;
                }
                write!(f, " (spawned at {spawned_at}) panicked: {message}")
            }
        }
    }
}

impl std::error::Error for JoinError {}

/// Yields to the event loop once: the `asyncio.sleep(0)` equivalent.
///
/// The task goes to the back of the ready queue. Every other task that is ready runs once and one
/// I/O poll (with timeout zero) happens before it resumes, so a CPU-heavy loop that awaits this
/// every few milliseconds keeps the rest of the loop responsive (slide 9).
///
/// # Examples
///
/// ```
/// evloop::run(async {
///     let mut sum = 0u64;
///     for i in 0..1_000_000u64 {
///         sum += i;
///         if i % 10_000 == 0 {
///             evloop::yield_now().await; // let the other tasks and I/O through
///         }
///     }
///     assert_eq!(sum, 499_999_500_000);
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// Future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct YieldNow {
    /// Whether the first poll (the one that yields) has happened.
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

//! The registry of live tasks: how many there are, and the wakers of those that wait.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::task::Waker;

use crate::task::meta::{MetaKey, TaskMeta};
use crate::util::IdHasher;

/// Every live task of a loop stays reachable, so that shutdown and `abort` can reach a task
/// that is not in a ready queue. Loop thread only.
///
/// A live task is always in one of two places: in the ready or injection queue (it is
/// scheduled when spawned), or, once it has returned `Pending`, in `waiting`, which its future
/// enters on its first `Pending` and leaves when it is dropped. A task that completes at its
/// first poll never touches the map: that saves a waker clone, a hash insert and remove, and
/// their cache misses on every short task.
#[derive(Debug, Default)]
pub(crate) struct TaskRegistry {
    /// The waker of every live task that has waited at least once, by the address of its
    /// metadata. Invariant: an entry exists only while the task's future does (it is removed
    /// when the future is dropped, always on the loop thread), so its key points to live
    /// metadata.
    waiting: RefCell<HashMap<MetaKey, Waker, IdHasher>>,
    /// Tasks spawned and not yet completed or cancelled.
    alive: Cell<usize>,
}

impl TaskRegistry {
    /// A task was spawned.
    #[inline]
    pub(crate) fn spawned(&self) {
        self.alive.set(self.alive.get() + 1);
    }

    /// How many tasks are alive.
    #[inline]
    pub(crate) fn alive(&self) -> usize {
        self.alive.get()
    }

    /// The task of `meta` waits for the first time; `waker` is its own waker.
    #[inline]
    pub(crate) fn enter(&self, meta: &TaskMeta, waker: Waker) {
        self.waiting.borrow_mut().insert(MetaKey::of(meta), waker);
    }

    /// The future of the task of `meta` is being dropped.
    #[inline]
    pub(crate) fn leave(&self, meta: &TaskMeta) {
        self.alive.set(self.alive.get() - 1);
        if meta.state().is_waiting() {
            self.waiting.borrow_mut().remove(&MetaKey::of(meta));
        }
    }

    /// The waker of a task that has waited.
    #[inline]
    pub(crate) fn waker(&self, meta: &TaskMeta) -> Option<Waker> {
        self.waiting.borrow().get(&MetaKey::of(meta)).cloned()
    }

    /// The wakers of every task that has waited.
    pub(crate) fn wakers(&self) -> Vec<Waker> {
        self.waiting.borrow().values().cloned().collect()
    }

    /// Calls `f` with the metadata of every task that has waited.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&TaskMeta)) {
        for key in self.waiting.borrow().keys() {
            // SAFETY: the map's invariant: an entry exists only while its task's future, and
            // so the allocation holding the metadata, is alive; the borrow of the map keeps
            // entries from being removed while `f` runs (a removal would panic, not free).
            f(unsafe { key.meta() });
        }
    }
}

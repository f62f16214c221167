//! What a task's allocation carries besides its future: [`TaskMeta`], with its id, spawn
//! location and packed [`TaskState`], and the keys and labels the loop derives from it.

use std::fmt;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The loop's handle on a task, as `async_task` hands it out.
pub(crate) type Runnable = async_task::Runnable<TaskMeta>;

/// A task's id, unique within its event loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(
    /// Counting from 1; 0 stands for the future given to `block_on`, which is not a task.
    u64,
);

impl TaskId {
    /// The id published for the future passed to `block_on`, which is not a task.
    pub(crate) const MAIN: TaskId = TaskId(0);

    #[inline]
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

/// The metadata in a task's allocation. The loop reads it through the task's [`Runnable`], the
/// `JoinHandle` through its `Task`, and the task's own future borrows it.
///
/// Touched by the loop thread only (the loop, the task's future and the `!Send` `JoinHandle`);
/// it is `Sync` only because runnables cross threads on their way to the injection queue.
#[derive(Debug)]
pub(crate) struct TaskMeta {
    /// The task's id.
    pub(crate) id: TaskId,
    /// Where `spawn` was called.
    pub(crate) location: &'static Location<'static>,
    /// A [`TaskState`]. Only the loop's thread writes it, so relaxed loads and stores suffice.
    state: AtomicU64,
}

impl TaskMeta {
    /// The metadata of a task spawned now, `spawned_ms` after the loop started.
    #[inline]
    pub(crate) fn new(id: TaskId, location: &'static Location<'static>, spawned_ms: u64) -> Self {
        TaskMeta {
            id,
            location,
            state: AtomicU64::new(TaskState::new(spawned_ms).0),
        }
    }

    #[inline]
    pub(crate) fn state(&self) -> TaskState {
        TaskState(self.state.load(Ordering::Relaxed))
    }

    #[inline]
    pub(crate) fn set_state(&self, state: TaskState) {
        self.state.store(state.0, Ordering::Relaxed);
    }
}

/// A task's counters and flags in one word, to keep the task allocation small.
///
/// | bits  | meaning                                                                    |
/// |-------|----------------------------------------------------------------------------|
/// | 0–23  | polls so far, saturating at 2^24 − 1                                       |
/// | 24–61 | when it was spawned, in ms since the loop started (the loop's coarse clock) |
/// | 62    | it is in the registry of waiting tasks                                     |
/// | 63    | it was aborted                                                             |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TaskState(
    /// The packed word.
    u64,
);

impl TaskState {
    const ABORTED: u64 = 1 << 63;
    const WAITING: u64 = 1 << 62;
    const POLLS: u64 = (1 << 24) - 1;
    const SPAWNED_SHIFT: u32 = 24;
    const SPAWNED: u64 = (1 << 38) - 1;

    /// A task spawned at `spawned_ms` (kept modulo 2^38 ms, about 8.7 years), never polled.
    fn new(spawned_ms: u64) -> Self {
        TaskState((spawned_ms & Self::SPAWNED) << Self::SPAWNED_SHIFT)
    }

    #[inline]
    pub(crate) fn is_aborted(self) -> bool {
        self.0 & Self::ABORTED != 0
    }

    #[inline]
    pub(crate) fn aborted(self) -> Self {
        TaskState(self.0 | Self::ABORTED)
    }

    #[inline]
    pub(crate) fn is_waiting(self) -> bool {
        self.0 & Self::WAITING != 0
    }

    #[inline]
    pub(crate) fn waiting(self) -> Self {
        TaskState(self.0 | Self::WAITING)
    }

    /// Polls so far (saturating at 2^24 - 1).
    #[inline]
    pub(crate) fn polls(self) -> u64 {
        self.0 & Self::POLLS
    }

    /// One more poll.
    #[inline]
    pub(crate) fn polled(self) -> Self {
        if self.polls() == Self::POLLS {
            self
        } else {
            TaskState(self.0 + 1)
        }
    }

    /// When the task was spawned, in milliseconds since the loop started.
    #[inline]
    pub(crate) fn spawned_ms(self) -> u64 {
        (self.0 >> Self::SPAWNED_SHIFT) & Self::SPAWNED
    }
}

/// A live task's key in the loop's maps of tasks: the address of its metadata, which is unique
/// among live tasks and reachable from the task's future, its runnable and its `JoinHandle`
/// alike. A key is only a number: holding one does not keep the task alive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct MetaKey(
    /// The metadata's address.
    NonNull<TaskMeta>,
);

impl std::hash::Hash for MetaKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Drop the bits that alignment keeps at zero: the low bits pick the bucket.
        let align = std::mem::align_of::<TaskMeta>().trailing_zeros();
        state.write_usize(self.0.as_ptr() as usize >> align);
    }
}

impl MetaKey {
    #[inline]
    pub(crate) fn of(meta: &TaskMeta) -> MetaKey {
        MetaKey(NonNull::from(meta))
    }

    /// The metadata of the task this key was taken from.
    ///
    /// # Safety
    ///
    /// The task must still be alive (its allocation, which holds the metadata, not freed) for
    /// as long as the returned reference is used.
    pub(crate) unsafe fn meta<'a>(self) -> &'a TaskMeta {
        // SAFETY: the caller guarantees the allocation is alive; the metadata is only ever
        // accessed through shared references (its state is atomic).
        unsafe { self.0.as_ref() }
    }
}

/// A task's identity in reports: id, optional name, and where it was spawned.
#[derive(Clone, Debug)]
pub(crate) struct TaskLabel {
    /// Unique within the loop, counting from 1.
    pub(crate) id: TaskId,
    /// Given through `task::Builder::name`.
    pub(crate) name: Option<Arc<str>>,
    /// The caller of `spawn`.
    pub(crate) location: &'static Location<'static>,
}

impl TaskLabel {
    pub(crate) fn new(meta: &TaskMeta, name: Option<Arc<str>>) -> TaskLabel {
        TaskLabel {
            id: meta.id,
            name,
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

#[cfg(test)]
mod tests {
    use super::TaskState;

    #[test]
    fn a_new_task_has_no_polls_and_no_flags() {
        let state = TaskState::new(1234);
        assert_eq!(state.polls(), 0);
        assert_eq!(state.spawned_ms(), 1234);
        assert!(!state.is_waiting());
        assert!(!state.is_aborted());
    }

    #[test]
    fn flags_and_counters_do_not_disturb_each_other() {
        let spawned = TaskState::SPAWNED; // the largest spawn time that fits
        let mut state = TaskState::new(spawned).waiting();
        for _ in 0..1000 {
            state = state.polled();
        }
        let state = state.aborted();
        assert_eq!(state.polls(), 1000);
        assert_eq!(state.spawned_ms(), spawned);
        assert!(state.is_waiting());
        assert!(state.is_aborted());
    }

    #[test]
    #[inline]
    fn polls_saturate_without_carrying_into_the_spawn_time() {
        let mut state = TaskState::new(7);
        state.0 |= TaskState::POLLS - 1;
        state = state.polled();
        assert_eq!(state.polls(), TaskState::POLLS);
        let saturated = state.polled();
        assert_eq!(saturated, state);
        assert_eq!(saturated.spawned_ms(), 7);
    }

    #[test]
    fn spawn_times_wrap_within_their_bits() {
        let state = TaskState::new((1 << 38) + 5);
        assert_eq!(state.spawned_ms(), 5);
        assert!(!state.is_waiting() && !state.is_aborted());
    }
}

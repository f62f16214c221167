//! The ready queue: the lecture's queue of tasks that can run now.

use std::collections::VecDeque;
use std::time::Instant;

use crate::task::meta::Runnable;

/// Runnable tasks in the order they became ready and, in poll timing mode, when each became
/// ready (a second queue kept in step, so the queue of runnables stays dense). Loop thread
/// only.
#[derive(Debug)]
pub(crate) struct ReadyQueue {
    /// The runnables.
    runnables: VecDeque<Runnable>,
    /// When each runnable became ready, in poll timing mode; `None` otherwise.
    since: Option<VecDeque<Instant>>,
}

impl ReadyQueue {
    /// An empty queue; `timing`: keep the instant each task became ready.
    pub(crate) fn new(timing: bool) -> Self {
        ReadyQueue {
            runnables: VecDeque::new(),
            since: timing.then(VecDeque::new),
        }
    }

    /// Queues a task that became ready at `ready_at` (in poll timing mode; `None`: now).
    #[inline]
    pub(crate) fn push_back(&mut self, runnable: Runnable, ready_at: Option<Instant>) {
        self.runnables.push_back(runnable);
        if let Some(since) = &mut self.since {
            since.push_back(ready_at.unwrap_or_else(Instant::now));
        }
    }

    /// The next task, and when it became ready in poll timing mode.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<(Runnable, Option<Instant>)> {
        let runnable = self.runnables.pop_front()?;
        let since = self.since.as_mut().and_then(VecDeque::pop_front);
        Some((runnable, since))
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.runnables.len()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.runnables.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Runnable> {
        self.runnables.iter()
    }
}

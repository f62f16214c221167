//! Lab 1, build the loop: the reference solution (statement: `docs/labs/01-build-the-loop.md`).

use std::time::{Duration, Instant};

use crate::labs::lab01::{Core, Steps};

/// The reference steps.
#[derive(Debug)]
pub struct Yours;

impl Steps for Yours {
    /// Step 1, Run: only the tasks ready when the step begins; a task that wakes itself (a
    /// yield) is put back by step 3, so it cannot keep step 1 going for ever.
    fn run_ready(core: &mut Core) {
        let batch = std::mem::take(&mut core.ready);
        for id in batch {
            core.poll_task(id);
        }
    }

    /// Step 2, Poll: do not wait when work is ready; otherwise wait until the next deadline,
    /// or until I/O or a wake from another thread comes.
    fn poll_io(core: &mut Core) {
        let timeout = if core.has_woken() {
            Some(Duration::ZERO)
        } else {
            core.timers
                .borrow()
                .keys()
                .next()
                .map(|(deadline, _)| deadline.saturating_duration_since(Instant::now()))
        };
        core.events.clear();
        if core.poller.wait(&mut core.events, timeout).is_err() {
            return;
        }
        for event in core.events.iter() {
            let waker = core.io.borrow_mut().remove(&event.key);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// Step 3, Resume: due timers first, then every woken task joins the ready queue once.
    fn resume_woken(core: &mut Core) {
        let now = Instant::now();
        loop {
            let due = {
                let mut timers = core.timers.borrow_mut();
                match timers.first_key_value() {
                    Some((&(deadline, _), _)) if deadline <= now => timers.pop_first(),
                    _ => None,
                }
            };
            match due {
                Some((_, waker)) => waker.wake(),
                None => break,
            }
        }
        for id in core.take_woken() {
            if core.is_alive(id) && !core.ready.contains(&id) {
                core.ready.push_back(id);
            }
        }
    }
}

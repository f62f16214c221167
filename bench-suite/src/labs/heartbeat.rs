//! The heartbeat of labs 4 and 5: a task that wants to tick every period and records how late
//! it ever was, next to the student's code.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop::JoinHandle;

/// A running heartbeat task; [`stop`](Self::stop) ends it and tells how it went.
pub struct Heartbeat {
    /// Set to stop the task at its next tick.
    done: Rc<Cell<bool>>,
    /// The worst lateness of a tick so far.
    worst: Rc<Cell<Duration>>,
    /// Ticks so far.
    beats: Rc<Cell<u64>>,
    /// The task.
    task: JoinHandle<()>,
}

impl Heartbeat {
    /// Spawns a heartbeat that ticks every `period` on the loop running on this thread.
    pub fn spawn(period: Duration) -> Heartbeat {
        let done: Rc<Cell<bool>> = Rc::default();
        let worst: Rc<Cell<Duration>> = Rc::default();
        let beats: Rc<Cell<u64>> = Rc::default();
        let task = {
            let (done, worst, beats) = (done.clone(), worst.clone(), beats.clone());
            evloop::spawn(async move {
                let mut due = Instant::now() + period;
                while !done.get() {
                    evloop::sleep_until(due).await;
                    let now = Instant::now();
                    worst.set(worst.get().max(now - due));
                    beats.set(beats.get() + 1);
                    due = now + period;
                }
            })
        };
        Heartbeat {
            done,
            worst,
            beats,
            task,
        }
    }

    /// Stops the heartbeat; returns its worst lateness and how many times it ticked.
    pub async fn stop(self) -> (Duration, u64) {
        self.done.set(true);
        let _ = self.task.await;
        (self.worst.get(), self.beats.get())
    }
}

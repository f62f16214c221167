//! Cross-thread wake of a loop parked in its poller: another thread rings a [`Bell`], the task
//! waiting on it runs and answers through a channel.

use std::future::poll_fn;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

/// A flag that one thread sets and a task awaits: the smallest runtime-agnostic cross-thread
/// wake (a mutex-protected flag and waker, the shape of a one-slot channel).
#[derive(Clone, Debug, Default)]
pub struct Bell {
    /// Whether the bell rang since the waiting task last saw it, and the waiting task's waker.
    state: Arc<Mutex<(bool, Option<Waker>)>>,
}

impl Bell {
    /// Rings the bell: wakes the waiting task, or lets its next `wait` return at once.
    pub fn ring(&self) {
        let waker = {
            let mut state = self.state.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Waits until the bell rings (since the last `wait` returned).
    pub async fn wait(&self) {
        poll_fn(|cx| {
            let mut state = self.state.lock().unwrap();
            if std::mem::take(&mut state.0) {
                Poll::Ready(())
            } else {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// The loop side of the round trip: answers each of `iters` rings on `reply`.
pub async fn answer(bell: Bell, reply: mpsc::Sender<()>, iters: u64) {
    for _ in 0..iters {
        bell.wait().await;
        if reply.send(()).is_err() {
            return;
        }
    }
}

/// Starts the thread side: a thread that rings `bell` `iters` times, each time waiting for
/// the answer, and returns the time from the first ring to the last answer. Run
/// [`answer`] with the returned sender's twin on the loop, then join the handle.
pub fn ringer(bell: Bell, iters: u64) -> (mpsc::Sender<()>, thread::JoinHandle<Duration>) {
    let (reply_tx, reply_rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        // Let the loop reach its first wait and park.
        thread::sleep(Duration::from_millis(5));
        let start = Instant::now();
        for _ in 0..iters {
            bell.ring();
            if reply_rx.recv().is_err() {
                break;
            }
        }
        start.elapsed()
    });
    (reply_tx, handle)
}

/// Compile-time check: a bell crosses threads.
#[allow(dead_code)]
fn _assert_send_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Bell>();
}

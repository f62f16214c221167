//! Wakers from other threads, and an idle loop that costs nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

mod util;

/// A one-shot signal set from another thread.
#[derive(Default)]
struct Signal(Mutex<(bool, Option<Waker>)>);

impl Signal {
    fn set(&self) {
        let waker = {
            let mut s = self.0.lock().unwrap();
            s.0 = true;
            s.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

struct Wait(Arc<Signal>);

impl Future for Wait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.0 .0.lock().unwrap();
        if s.0 {
            Poll::Ready(())
        } else {
            s.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[test]
fn a_wake_from_another_thread_wakes_a_loop_parked_in_the_poller() {
    let took = util::within(Duration::from_secs(20), || {
        evloop::run(async {
            let signal = Arc::new(Signal::default());
            let s = signal.clone();
            // A spawned task waits on the signal; nothing else is ready, no timer is pending,
            // so the loop parks in the poller with no timeout until the other thread wakes it.
            let waiter = evloop::spawn(Wait(signal));
            let start = Instant::now();
            let thread = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                s.set();
            });
            waiter.await.unwrap();
            thread.join().unwrap();
            let stats = evloop::stats();
            assert!(
                stats.cycles < 20,
                "the loop parked instead of spinning: {stats:?}"
            );
            start.elapsed()
        })
    });
    assert!(took >= Duration::from_millis(100));
}

#[test]
fn the_run_future_itself_is_woken_from_another_thread() {
    util::within(Duration::from_secs(20), || {
        evloop::run(async {
            let signal = Arc::new(Signal::default());
            let s = signal.clone();
            let thread = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                s.set();
            });
            Wait(signal).await;
            thread.join().unwrap();
        })
    });
}

#[test]
fn many_threads_waking_many_tasks_lose_no_wake() {
    const TASKS: usize = 2000;
    let done = util::within(Duration::from_secs(60), || {
        evloop::run(async {
            let signals: Vec<_> = (0..TASKS).map(|_| Arc::new(Signal::default())).collect();
            let handles: Vec<_> = signals
                .iter()
                .map(|s| evloop::spawn(Wait(s.clone())))
                .collect();
            evloop::yield_now().await; // let every task register its waker
            let threads: Vec<_> = signals
                .chunks(TASKS / 8)
                .map(|chunk| {
                    let chunk = chunk.to_vec();
                    std::thread::spawn(move || chunk.iter().for_each(|s| s.set()))
                })
                .collect();
            let mut done = 0;
            for h in handles {
                h.await.unwrap();
                done += 1;
            }
            for t in threads {
                t.join().unwrap();
            }
            done
        })
    });
    assert_eq!(done, TASKS);
}

#[test]
fn waking_a_task_after_its_loop_closed_is_harmless() {
    let signal = Arc::new(Signal::default());
    let s = signal.clone();
    evloop::run(async move {
        evloop::spawn(Wait(s));
        evloop::yield_now().await;
    });
    // The task was cancelled when `run` returned; its waker is still held here.
    std::thread::spawn(move || signal.set()).join().unwrap();
}

#[test]
fn an_idle_loop_uses_no_cpu() {
    let (cpu, wall) = evloop::run(async {
        let cpu = util::thread_cpu_time();
        let wall = Instant::now();
        evloop::sleep(Duration::from_millis(300)).await;
        (util::thread_cpu_time() - cpu, wall.elapsed())
    });
    assert!(wall >= Duration::from_millis(300));
    assert!(
        cpu < Duration::from_millis(10),
        "idle loop burned {cpu:?} of CPU"
    );
}

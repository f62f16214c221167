//! Cancellation: abort, and what `run` does with tasks still alive when it returns.

use std::time::Duration;

mod util;

#[test]
fn run_cancels_tasks_still_alive_and_runs_their_destructors() {
    let guards = util::DropCounter::default();
    let g = guards.clone();
    evloop::run(async move {
        for i in 0..100 {
            let guard = g.guard();
            evloop::spawn(async move {
                let _guard = guard;
                if i % 2 == 0 {
                    std::future::pending::<()>().await; // waits for nothing
                } else {
                    evloop::sleep(Duration::from_secs(3600)).await; // waits on a timer
                }
            });
        }
        evloop::yield_now().await;
        assert_eq!(evloop::stats().tasks_alive, 100);
    });
    assert_eq!(
        guards.dropped(),
        100,
        "every cancelled task's destructor ran"
    );
}

#[test]
fn tasks_cancelled_at_shutdown_report_cancelled_to_surviving_handles() {
    let rt = evloop::Builder::new().build().unwrap();
    let handle = rt.spawn(std::future::pending::<()>());
    rt.block_on(evloop::yield_now());
    drop(rt);
    let err = futures_lite::future::block_on(handle).unwrap_err();
    assert!(err.is_cancelled(), "{err}");
}

#[test]
fn destructors_that_spawn_during_shutdown_are_cancelled_too() {
    struct SpawnOnDrop {
        _guard: util::DropGuard,
        counter: util::DropCounter,
    }
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let guard = self.counter.guard();
            drop(evloop::spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            }));
        }
    }
    let guards = util::DropCounter::default();
    let g = guards.clone();
    evloop::run(async move {
        let outer = SpawnOnDrop {
            _guard: g.guard(),
            counter: g.clone(),
        };
        evloop::spawn(async move {
            let _outer = outer;
            std::future::pending::<()>().await;
        });
        evloop::yield_now().await;
    });
    assert_eq!(guards.dropped(), 2);
}

#[test]
fn abort_drops_the_future_before_the_handle_reports_cancelled() {
    let guards = util::DropCounter::default();
    let g = guards.clone();
    evloop::run(async move {
        let guard = g.guard();
        let handle = evloop::spawn(async move {
            let _guard = guard;
            evloop::sleep(Duration::from_secs(3600)).await;
        });
        evloop::yield_now().await;
        handle.abort();
        let err = handle.await.unwrap_err();
        assert!(err.is_cancelled());
        assert_eq!(
            g.dropped(),
            1,
            "the destructor ran before the handle resolved"
        );
        assert!(err.to_string().contains("cancelled"), "{err}");
    });
    assert_eq!(guards.dropped(), 1);
}

#[test]
fn abort_after_completion_keeps_the_output() {
    evloop::run(async {
        let handle = evloop::spawn(async { 9 });
        while !handle.is_finished() {
            evloop::yield_now().await;
        }
        handle.abort();
        assert_eq!(handle.await.unwrap(), 9);
    });
}

#[test]
fn cancelled_timers_are_removed_not_leaked() {
    evloop::run(async {
        for _ in 0..1000 {
            let r = evloop::timeout(Duration::from_secs(60), evloop::yield_now()).await;
            assert_eq!(r, Ok(()));
        }
        assert_eq!(
            evloop::stats().timers_pending,
            0,
            "timeouts that did not elapse"
        );
        // Abort tasks sleeping on long timers: their timers must go.
        let handles: Vec<_> = (0..1000)
            .map(|_| evloop::spawn(evloop::sleep(Duration::from_secs(3600))))
            .collect();
        evloop::yield_now().await;
        for h in &handles {
            h.abort();
        }
        for h in handles {
            assert!(h.await.unwrap_err().is_cancelled());
        }
        assert_eq!(evloop::stats().timers_pending, 0);
    });
}

#[test]
fn abort_before_the_first_poll_cancels_without_running_the_task() {
    let guards = util::DropCounter::default();
    let g = guards.clone();
    evloop::run(async move {
        let ran = std::rc::Rc::new(std::cell::Cell::new(false));
        let r = ran.clone();
        let guard = g.guard();
        let handle = evloop::spawn(async move {
            let _guard = guard;
            r.set(true);
        });
        handle.abort(); // the task is still in the ready queue
        assert!(handle.await.unwrap_err().is_cancelled());
        assert!(!ran.get(), "an aborted task never runs");
        assert_eq!(g.dropped(), 1);
        assert_eq!(evloop::stats().tasks_alive, 0);
    });
}

#[test]
fn shutdown_cancels_tasks_that_never_ran() {
    let guards = util::DropCounter::default();
    let g = guards.clone();
    let rt = evloop::Builder::new().build().unwrap();
    // Spawned outside block_on: they wait in the injection queue.
    for _ in 0..10 {
        let guard = g.guard();
        drop(rt.spawn(async move {
            let _guard = guard;
        }));
    }
    rt.block_on(async {
        // Spawned and never polled: they are still in the ready queue when block_on returns.
        for _ in 0..10 {
            let guard = g.guard();
            drop(evloop::spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            }));
        }
    });
    assert_eq!(rt.stats().tasks_alive, 20);
    drop(rt);
    assert_eq!(guards.dropped(), 20);
}

/// Spawns another of itself, on the loop running on this thread, whenever it is dropped.
struct Respawner(std::rc::Rc<std::cell::Cell<u32>>);

impl Drop for Respawner {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
        let again = Respawner(self.0.clone());
        evloop::spawn(async move {
            let _again = again;
            std::future::pending::<()>().await;
        });
    }
}

#[test]
fn a_destructor_that_always_spawns_cannot_keep_run_from_returning() {
    let drops = util::within(Duration::from_secs(60), || {
        let drops = std::rc::Rc::new(std::cell::Cell::new(0));
        let d = drops.clone();
        evloop::run(async move {
            evloop::spawn(async move {
                let _respawner = Respawner(d);
                std::future::pending::<()>().await;
            });
            evloop::yield_now().await;
        });
        drops.get()
    });
    // Shutdown cancelled a bounded number of generations, then gave up (and said so).
    assert!((2..=1000).contains(&drops), "{drops} drops");
}

#[test]
fn a_sleep_that_outlives_its_loop_completes_once_its_deadline_has_passed() {
    use std::future::Future;
    use std::task::{Context, Poll};

    // Registered in the loop's timers, then taken out of the loop before they fire.
    let (mut soon, mut late) = evloop::run(async {
        let mut soon = Box::pin(evloop::sleep(Duration::from_millis(1)));
        let mut late = Box::pin(evloop::sleep(Duration::from_secs(3600)));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(soon.as_mut().poll(&mut cx).is_pending());
        assert!(late.as_mut().poll(&mut cx).is_pending());
        (soon, late)
    });
    // The loop is gone, so nothing fires them: polled again, each asks the clock. Neither
    // completes early, neither panics, and dropping them touches nothing that is gone.
    let mut cx = Context::from_waker(std::task::Waker::noop());
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(soon.as_mut().poll(&mut cx), Poll::Ready(()));
    assert!(soon.is_elapsed());
    assert_eq!(late.as_mut().poll(&mut cx), Poll::Pending);
    assert!(!late.is_elapsed());
    drop((soon, late));
}

//! Timers: sleep precision, timeout, interval.

use std::time::{Duration, Instant};

mod util;

#[test]
fn sleep_waits_at_least_its_duration_and_not_much_longer() {
    evloop::run(async {
        for ms in [1u64, 5, 20] {
            let start = Instant::now();
            evloop::sleep(Duration::from_millis(ms)).await;
            let took = start.elapsed();
            assert!(took >= Duration::from_millis(ms), "{took:?}");
            // Generous: a loaded CI machine can be late, but not by whole periods.
            assert!(
                took < Duration::from_millis(ms) + Duration::from_millis(250),
                "{took:?}"
            );
        }
    });
}

#[test]
fn sleep_is_not_rounded_up_to_whole_milliseconds() {
    // Median of many 300 µs sleeps: a loop that rounds timeouts up to milliseconds would take
    // at least 1 ms for each.
    let mut took: Vec<Duration> = evloop::run(async {
        let mut took = Vec::new();
        for _ in 0..50 {
            let start = Instant::now();
            evloop::sleep(Duration::from_micros(300)).await;
            took.push(start.elapsed());
        }
        took
    });
    took.sort();
    let median = took[took.len() / 2];
    assert!(median >= Duration::from_micros(300));
    assert!(median < Duration::from_micros(950), "median {median:?}");
}

#[test]
fn timers_fire_in_deadline_order() {
    let order = evloop::run(async {
        let order = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let handles: Vec<_> = [30u64, 10, 20, 0, 10]
            .into_iter()
            .enumerate()
            .map(|(i, ms)| {
                let order = order.clone();
                evloop::spawn(async move {
                    evloop::sleep(Duration::from_millis(ms)).await;
                    order.borrow_mut().push(i);
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        std::rc::Rc::try_unwrap(order).unwrap().into_inner()
    });
    assert_eq!(order, [3, 1, 4, 2, 0]);
}

#[test]
fn timeout_elapses_for_a_slow_future() {
    evloop::run(async {
        let start = Instant::now();
        let err = evloop::timeout(
            Duration::from_millis(20),
            evloop::sleep(Duration::from_secs(60)),
        )
        .await
        .unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(err.duration(), Duration::from_millis(20));
        assert!(err.to_string().contains("20ms"), "{err}");
        assert_eq!(
            std::io::Error::from(err).kind(),
            std::io::ErrorKind::TimedOut
        );
        assert_eq!(
            evloop::stats().timers_pending,
            0,
            "the inner sleep was dropped"
        );
    });
}

#[test]
fn timeout_does_not_elapse_for_a_fast_future() {
    evloop::run(async {
        let start = Instant::now();
        let value = evloop::timeout(Duration::from_secs(60), async {
            evloop::sleep(Duration::from_millis(5)).await;
            "done"
        })
        .await;
        assert_eq!(value, Ok("done"));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(
            evloop::stats().timers_pending,
            0,
            "the timeout's timer was removed"
        );
    });
}

#[test]
fn interval_ticks_on_a_fixed_grid_and_skips_missed_ticks() {
    evloop::run(async {
        let period = Duration::from_millis(10);
        let on_grid = |t: Instant, first: Instant| (t - first).as_nanos() % period.as_nanos() == 0;
        let mut interval = evloop::interval(period);
        let first = interval.tick().await;
        let second = interval.tick().await;
        assert!(second > first && on_grid(second, first));
        // Block the loop for 3.5 periods: the missed ticks are skipped, not burst.
        let blocked = Instant::now();
        std::thread::sleep(period * 7 / 2);
        let late = interval.tick().await;
        assert!(
            late <= blocked + period,
            "the tick that was due during the block is delivered once, late"
        );
        let next = interval.tick().await;
        assert!(on_grid(late, first) && on_grid(next, first), "on the grid");
        assert!(
            next > blocked + period * 3,
            "the ticks missed during the block were skipped"
        );
    });
}

#[test]
fn sleep_reset_moves_the_deadline() {
    evloop::run(async {
        let start = Instant::now();
        let mut sleep = evloop::sleep(Duration::from_secs(3600));
        futures_lite::future::poll_once(&mut sleep).await;
        assert_eq!(evloop::stats().timers_pending, 1);
        sleep.reset(Instant::now() + Duration::from_millis(5));
        (&mut sleep).await;
        assert!(sleep.is_elapsed());
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(evloop::stats().timers_pending, 0);
    });
}

/// Sleeps 50 tasks until deadlines spread over 10 ms; returns, per task, its deadline, when it
/// woke, and the loop cycle it woke in.
fn spread_timers(rt: &evloop::Runtime) -> Vec<(Instant, Instant, u64)> {
    rt.block_on(async {
        let base = Instant::now() + Duration::from_millis(5);
        let tasks: Vec<_> = (0..50u64)
            .map(|i| {
                let deadline = base + Duration::from_micros(200 * i);
                evloop::spawn(async move {
                    evloop::sleep_until(deadline).await;
                    (deadline, Instant::now(), evloop::stats().cycles)
                })
            })
            .collect();
        let mut fired = Vec::new();
        for task in tasks {
            fired.push(task.await.unwrap());
        }
        fired
    })
}

#[test]
fn a_timer_slack_batches_nearby_timers_and_no_timer_fires_early() {
    let slack = Duration::from_millis(20);
    let with_slack = spread_timers(&evloop::Builder::new().timer_slack(slack).build().unwrap());
    let precise = spread_timers(&evloop::Builder::new().build().unwrap());
    let wakeups = |fired: &[(Instant, Instant, u64)]| {
        fired
            .iter()
            .map(|f| f.2)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    for (deadline, woke, _) in with_slack.iter().chain(&precise) {
        assert!(woke >= deadline, "a timer fired early");
    }
    for (deadline, woke, _) in &with_slack {
        // The slack, plus room for a loaded machine.
        assert!(*woke - *deadline < slack + Duration::from_millis(500));
    }
    // 10 ms of deadlines under a 20 ms slack: one wake-up, or a few on a loaded machine.
    assert!(
        wakeups(&with_slack) <= 5,
        "{} wake-ups",
        wakeups(&with_slack)
    );
}

#[test]
fn a_timer_slack_over_a_second_is_refused() {
    let err = evloop::Builder::new()
        .timer_slack(Duration::from_secs(2))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

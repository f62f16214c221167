//! Loop lag in the stats: the longest poll and its task, poll durations, scheduling delay.

use std::time::{Duration, Instant};

/// Keeps the loop thread busy for `d` without yielding, like a CPU-heavy handler.
fn busy(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn poll_timing_finds_the_longest_poll_and_the_delay_it_caused() {
    let rt = evloop::Builder::new().poll_timing(true).build().unwrap();
    let stats = rt.block_on(async {
        let quick: Vec<_> = (0..20)
            .map(|_| evloop::spawn(async { evloop::yield_now().await }))
            .collect();
        let cruncher = evloop::task::Builder::new()
            .name("cruncher")
            .spawn(async { busy(Duration::from_millis(40)) });
        // Ready behind the cruncher: it waits for the whole busy poll.
        let victim = evloop::spawn(async {});
        for q in quick {
            q.await.unwrap();
        }
        let id = cruncher.id();
        cruncher.await.unwrap();
        victim.await.unwrap();
        (evloop::stats(), id)
    });
    let (stats, cruncher) = stats;
    let longest = stats.longest_poll.expect("a longest poll");
    assert_eq!(longest.task, cruncher);
    assert_eq!(longest.name.as_deref(), Some("cruncher"));
    assert!(longest.spawned_at.file().ends_with("lag.rs"));
    assert!(longest.duration >= Duration::from_millis(40), "{longest:?}");
    let polls = stats
        .poll_durations
        .expect("poll durations with poll timing");
    assert!(polls.count() >= 42, "{polls}");
    assert!(polls.max().unwrap() >= Duration::from_millis(40), "{polls}");
    assert!(
        polls.percentile(50.0).unwrap() < Duration::from_millis(1),
        "{polls}"
    );
    let delays = stats.scheduling_delays.expect("delays with poll timing");
    assert!(
        delays.max().unwrap() >= Duration::from_millis(40),
        "{delays}"
    );
}

#[test]
fn without_poll_timing_the_monitor_still_finds_the_longest_poll() {
    let rt = evloop::Builder::new()
        .poll_timing(false)
        .slow_poll_reports(false)
        .stall_watchdog(true)
        .slow_poll_threshold(Duration::from_millis(100))
        .build()
        .unwrap();
    let (stats, blocker) = rt.block_on(async {
        let blocker = evloop::task::Builder::new()
            .name("blocker")
            .spawn(async { std::thread::sleep(Duration::from_millis(150)) });
        let id = blocker.id();
        blocker.await.unwrap();
        (evloop::stats(), id)
    });
    assert!(stats.poll_durations.is_none());
    assert!(stats.scheduling_delays.is_none());
    let longest = stats.longest_poll.expect("seen by the monitor");
    assert_eq!(longest.task, blocker);
    assert_eq!(longest.name.as_deref(), Some("blocker"));
    assert!(
        longest.duration >= Duration::from_millis(100),
        "{longest:?}"
    );
    assert!(longest.duration < Duration::from_secs(2), "{longest:?}");
}

#[test]
fn histogram_percentiles_bound_the_recorded_durations() {
    let rt = evloop::Builder::new().poll_timing(true).build().unwrap();
    let stats = rt.block_on(async {
        for _ in 0..100 {
            evloop::spawn(async {}).await.unwrap();
        }
        evloop::stats()
    });
    let polls = stats.poll_durations.unwrap();
    assert_eq!(polls.count(), 100);
    let (p50, p99, max) = (
        polls.percentile(50.0).unwrap(),
        polls.percentile(99.0).unwrap(),
        polls.max().unwrap(),
    );
    assert!(p50 <= p99 && p99 <= max);
    assert!(polls.to_string().starts_with("n=100 p50<="), "{polls}");
}

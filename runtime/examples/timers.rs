//! Timers: how late `sleep` wakes up on an idle loop, `timeout`, and `interval`.
//!
//! `cargo run --release --example timers` prints the lateness percentiles of 1 ms and 100 µs
//! sleeps: the time between the deadline and the moment the task runs again.

use std::time::{Duration, Instant};

fn main() {
    evloop::run(async {
        for period in [Duration::from_millis(1), Duration::from_micros(100)] {
            let mut late = Vec::with_capacity(1000);
            for _ in 0..1000 {
                let deadline = Instant::now() + period;
                evloop::sleep_until(deadline).await;
                late.push(deadline.elapsed());
            }
            late.sort();
            let pct = |p: usize| late[(late.len() * p / 100).min(late.len() - 1)];
            println!(
                "sleep({period:?}) x {}: lateness p50 {:.1?}, p99 {:.1?}, max {:.1?}",
                late.len(),
                pct(50),
                pct(99),
                late[late.len() - 1]
            );
        }

        let slow = evloop::timeout(
            Duration::from_millis(50),
            evloop::sleep(Duration::from_secs(5)),
        );
        println!(
            "timeout(50ms, sleep(5s)): {:?}",
            slow.await.map_err(|e| e.to_string())
        );
        let fast = evloop::timeout(Duration::from_millis(50), async { "ready" });
        println!("timeout(50ms, ready future): {:?}", fast.await);

        let start = Instant::now();
        let mut ticks = evloop::interval(Duration::from_millis(25));
        let mut at = Vec::new();
        for _ in 0..5 {
            at.push(ticks.tick().await.duration_since(start));
        }
        println!("interval(25ms) ticks at: {at:.1?}");
        println!("{:?}", evloop::stats());
    });
}

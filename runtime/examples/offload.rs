//! The same blocking call made in the loop and through `run_in_executor`, next to a heartbeat.
//!
//! `cargo run --release --example offload` runs a task that ticks every 10 ms and records how
//! late each tick is, while another task makes a 250 ms blocking call: first directly (the
//! lecture's catastrophe: the heartbeat freezes), then on the default thread pool with
//! `run_in_executor(None, ..)` (the cure: the loop keeps running).

use std::time::{Duration, Instant};

/// A legacy, synchronous call: a slow database driver, `requests.get`, a big file read.
fn blocking_call() -> &'static str {
    std::thread::sleep(Duration::from_millis(250));
    "done"
}

/// Ticks every 10 ms for `ticks` ticks; returns the worst and the median lateness.
async fn heartbeat(ticks: usize) -> (Duration, Duration) {
    let mut late = Vec::with_capacity(ticks);
    let mut next = Instant::now();
    for _ in 0..ticks {
        next += Duration::from_millis(10);
        evloop::sleep_until(next).await;
        late.push(next.elapsed());
    }
    late.sort();
    (late[late.len() - 1], late[late.len() / 2])
}

fn main() {
    evloop::run(async {
        for offloaded in [false, true] {
            let beat = evloop::spawn(heartbeat(40));
            evloop::sleep(Duration::from_millis(50)).await;
            let start = Instant::now();
            let result = if offloaded {
                evloop::run_in_executor(None, blocking_call)
                    .await
                    .expect("the call did not panic")
            } else {
                blocking_call()
            };
            let took = start.elapsed();
            let (worst, median) = beat.await.unwrap();
            let how = if offloaded {
                "run_in_executor(None, blocking_call)"
            } else {
                "blocking_call() in the loop        "
            };
            println!(
                "{how}: {result} in {took:>6.1?}; heartbeat lateness worst {worst:>8.1?}, median {median:>7.1?}"
            );
        }
    });
}

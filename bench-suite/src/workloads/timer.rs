//! Timers: arming and cancelling one, and firing many with the same deadline.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use futures_lite::future;

/// Arms a one-second timer (polls it once) and drops it, `iters` times; returns the time it
/// took.
pub async fn arm_cancel<F: Future>(iters: u64, sleep: fn(Duration) -> F) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let mut timer = pin!(sleep(black_box(Duration::from_secs(1))));
        assert!(future::poll_once(timer.as_mut()).await.is_none());
    }
    start.elapsed()
}

/// Timers armed per round of the `*_fire` functions, all with the same deadline.
pub const ROUND: u64 = 5_000;

/// A deadline far enough ahead that `n` tasks can be spawned and polled (arming their timers)
/// before it, on any of the runtimes.
fn round_deadline(n: u64) -> Instant {
    Instant::now() + Duration::from_millis(2) + Duration::from_nanos(600 * n)
}

/// Fires `iters` timers, [`ROUND`] at a time: each round spawns one task per timer, eagerly (the
/// spawn happens before the first await, on every runtime), all sleeping until one deadline,
/// then awaits them. The time counted runs from the deadline to the last task's completion:
/// firing the timers, waking and finishing the tasks, and the kernel's wake-up latency once per
/// round (about 10 ns per timer at this round size, the same for every runtime). Spawning and
/// arming are not counted.
macro_rules! fire_rounds {
    ($iters:expr, |$deadline:ident| $spawn_sleep:expr, |$task:ident| $join:expr) => {{
        let mut counted = Duration::ZERO;
        let mut left = $iters;
        while left > 0 {
            let n = left.min(ROUND);
            left -= n;
            let $deadline = round_deadline(n);
            let tasks: Vec<_> = (0..n).map(|_| $spawn_sleep).collect();
            for $task in tasks {
                $join;
            }
            counted += $deadline.elapsed();
        }
        counted
    }};
}

/// Fires `iters` timers on evloop, as the module's `fire_rounds` describes; returns the time
/// counted.
pub async fn evloop_fire(iters: u64) -> Duration {
    fire_rounds!(
        iters,
        |deadline| evloop::spawn(evloop::sleep_until(deadline)),
        |task| task.await.unwrap()
    )
}

/// [`evloop_fire`] on tokio: `tokio::spawn` called directly, so the task exists before the
/// first handle is awaited.
pub async fn tokio_fire(iters: u64) -> Duration {
    fire_rounds!(
        iters,
        |deadline| tokio::spawn(tokio::time::sleep_until(tokio::time::Instant::from_std(
            deadline
        ))),
        |task| task.await.unwrap()
    )
}

/// [`evloop_fire`] on smol, spawning on `ex`; run it inside `ex.run(..)`.
pub async fn smol_fire(ex: &LocalExecutor<'_>, iters: u64) -> Duration {
    fire_rounds!(
        iters,
        |deadline| ex.spawn(async move {
            async_io::Timer::at(deadline).await;
        }),
        |task| task.await
    )
}

/// Timers per round of the `*_spread` functions.
pub const SPREAD: u64 = 1_000;

/// Delay of the `i`-th timer of a spread round: 1 to 1,000 µs, in a scrambled order (7,919 is
/// prime, so the 1,000 timers of a round take the 1,000 delays once each).
pub fn spread_delay(i: u64) -> Duration {
    Duration::from_micros(1 + (i * 7_919) % SPREAD)
}

/// What a run of spread timers cost and how late they fired.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    /// The CPU time the whole process used meanwhile (not the wall time).
    pub cpu: Duration,
    /// The sum over all timers of how late each one's task resumed after its deadline.
    pub lateness: Duration,
}

/// Runs `iters` timers, [`SPREAD`] tasks at a time, sleeping 1 to 1,000 µs each (spawned
/// eagerly, awaited together; each task returns how late it resumed); returns the CPU time the
/// whole process used meanwhile, not the wall time (how much work the runtime does per timer
/// when deadlines do not coincide), and the total lateness.
macro_rules! spread_rounds {
    ($iters:expr, |$delay:ident| $sleep:expr, |$task:ident| $spawn:expr, |$handle:ident| $join:expr) => {{
        let start = crate::workloads::cpu::process_cpu();
        let mut lateness = Duration::ZERO;
        let mut left = $iters;
        while left > 0 {
            let n = left.min(SPREAD);
            left -= n;
            let tasks: Vec<_> = (0..n)
                .map(|i| {
                    let $delay = spread_delay(i);
                    let $task = async move {
                        let deadline = Instant::now() + $delay;
                        $sleep;
                        Instant::now().saturating_duration_since(deadline)
                    };
                    $spawn
                })
                .collect();
            for $handle in tasks {
                lateness += $join;
            }
        }
        Spread {
            cpu: crate::workloads::cpu::process_cpu() - start,
            lateness,
        }
    }};
}

/// Spread timers on evloop (whatever timer slack the running loop was built with).
pub async fn evloop_spread(iters: u64) -> Spread {
    spread_rounds!(
        iters,
        |delay| evloop::sleep(delay).await,
        |task| evloop::spawn(task),
        |handle| handle.await.unwrap()
    )
}

/// Spread timers on tokio.
pub async fn tokio_spread(iters: u64) -> Spread {
    spread_rounds!(
        iters,
        |delay| tokio::time::sleep(delay).await,
        |task| tokio::spawn(task),
        |handle| handle.await.unwrap()
    )
}

/// Spread timers on smol, spawning on `ex`.
pub async fn smol_spread(ex: &LocalExecutor<'_>, iters: u64) -> Spread {
    spread_rounds!(
        iters,
        |delay| async_io::Timer::after(delay).await,
        |task| ex.spawn(task),
        |handle| handle.await
    )
}

//! Lab 6, yield batch size: the harness that runs the student's loop over a million items next
//! to a heartbeat, the work each item costs, and the checker, which compares the heartbeat's
//! lateness and the loop's CPU time with baselines measured in the same process.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop_bench::report::stats;
use evloop_bench::workloads::cpu::thread_cpu;
use serde::{Deserialize, Serialize};

use super::lab::{Lab, Program};
use super::lab03::ms;
use super::process;
use super::verdict::{Check, LabError, Verdict};

/// The work of one item.
pub mod work {
    /// Folds `item` into the running checksum `acc`: sixteen `libm` calls, about 100 ns, and
    /// about as long in a debug build as in a release one.
    #[inline(never)]
    pub fn mix(acc: f64, item: u64) -> f64 {
        let mut x = (item % 4096) as f64 / 512.0 + 0.5;
        let mut y = 0.0;
        for _ in 0..4 {
            y += x.sin() * x.cos() + x.ln() + (x / 8.0).exp();
            x += 0.25;
        }
        acc + y.abs().sqrt()
    }
}

/// How many items the loop goes over.
pub const ITEMS: u64 = 1_000_000;
/// The heartbeat's period.
const BEAT: Duration = Duration::from_millis(1);
/// How much later than the baseline the heartbeat may be at worst.
const LATENESS_BUDGET: Duration = Duration::from_millis(3);
/// How much more CPU time than the baseline the loop may take, as a share, on a quiet machine.
const LOSS_BUDGET: f64 = 0.10;
/// The most that the plain loop's measured spread adds to [`LOSS_BUDGET`]: a loop that yields
/// after every item costs over 50% more, and still fails on a machine this noisy.
const MAX_SPREAD: f64 = 0.20;

/// One run of a loop next to the heartbeat.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// CPU time of the loop thread during the loop.
    cpu: Duration,
    /// The heartbeat's worst lateness in wall time.
    worst: Duration,
    /// The heartbeat's worst lateness in the loop thread's CPU time: the most CPU time the
    /// loop thread spent between two ticks, less the period. A busy machine that takes the
    /// core away from the loop thread delays the ticks in wall time, not in CPU time.
    worst_cpu: Duration,
    /// The loop's result.
    checksum: f64,
}

/// What the harness measured, printed for the checker.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    /// The student's `YIELD_EVERY`.
    yield_every: u64,
    /// The student's `WHY`.
    why: String,
    /// Items in the loop.
    items: u64,
    /// Rounds measured.
    rounds: u32,
    /// Loop-thread CPU time of a plain loop over the items, no yield, no heartbeat: the median
    /// over the rounds of the mean of the two plain runs around the student's (ms).
    base_cpu_ms: f64,
    /// The student's loop's CPU time over the plain loop's, less one: the median over the
    /// rounds, each round comparing the student's run with the mean of the plain runs just
    /// before and after it.
    loss: f64,
    /// How much two plain runs in a row differ on this machine: the median over the rounds of
    /// their difference over their mean.
    spread: f64,
    /// The heartbeat's worst lateness in loop-thread CPU time next to a loop that yields after
    /// every item (ms).
    base_worst_ms: f64,
    /// Loop-thread CPU time of the student's loop next to the heartbeat, the median over the
    /// rounds (ms).
    cpu_ms: f64,
    /// The heartbeat's worst lateness in loop-thread CPU time next to the student's loop (ms).
    worst_ms: f64,
    /// The heartbeat's worst lateness in wall time next to the student's loop (ms), for
    /// information: a busy machine adds to it.
    wall_worst_ms: f64,
    /// Whether the student's checksum equals the plain loop's.
    checksum_ok: bool,
}

/// Runs `body` next to a heartbeat ticking every [`BEAT`]; measures the loop thread's CPU
/// time during `body` and the heartbeat's worst lateness.
async fn next_to_heartbeat<F: std::future::Future<Output = f64>>(body: F) -> Run {
    let done = Rc::new(Cell::new(false));
    let worst = Rc::new(Cell::new(Duration::ZERO));
    let worst_cpu = Rc::new(Cell::new(Duration::ZERO));
    let heartbeat = {
        let (done, worst, worst_cpu) = (done.clone(), worst.clone(), worst_cpu.clone());
        evloop::spawn(async move {
            let mut last = thread_cpu();
            while !done.get() {
                let due = Instant::now() + BEAT;
                evloop::sleep_until(due).await;
                worst.set(worst.get().max(due.elapsed()));
                // The loop thread's CPU time since the last tick, beyond the period: how late
                // the tick would be had the thread had a core to itself.
                let now = thread_cpu();
                worst_cpu.set(worst_cpu.get().max((now - last).saturating_sub(BEAT)));
                last = now;
            }
        })
    };
    // Let the heartbeat arm its first timer.
    evloop::yield_now().await;
    let cpu = thread_cpu();
    let checksum = body.await;
    let cpu = thread_cpu() - cpu;
    done.set(true);
    let _ = heartbeat.await;
    Run {
        cpu,
        worst: worst.get(),
        worst_cpu: worst_cpu.get(),
        checksum,
    }
}

/// The plain loop, with no yield.
fn plain(items: &[u64]) -> f64 {
    items.iter().fold(0.0, |acc, &item| work::mix(acc, item))
}

/// The loop yielding after every item: the least lateness a yielding loop can give.
async fn every_item(items: &[u64]) -> f64 {
    let mut acc = 0.0;
    for &item in items {
        acc = work::mix(acc, item);
        evloop::yield_now().await;
    }
    acc
}

/// Runs one version's loop and the baselines, interleaved, and prints the [`Outcome`].
///
/// # Errors
///
/// The runtime could not be built.
pub fn run(program: Program, quick: bool) -> Result<(), LabError> {
    // Enough rounds for a median that a loaded machine does not move (see `check`).
    let rounds: u32 = if quick { 5 } else { 7 };
    let items: Vec<u64> = (0..ITEMS).collect();
    let (yield_every, why) = match program {
        Program::Yours => (super::lab06_yours::YIELD_EVERY, super::lab06_yours::WHY),
        Program::Starter => (super::lab06_starter::YIELD_EVERY, super::lab06_starter::WHY),
        Program::Solution => (
            super::lab06_solution::YIELD_EVERY,
            super::lab06_solution::WHY,
        ),
    };
    let rt = process::quiet_loop("lab06")?;
    let plain_cpu = || {
        let cpu = thread_cpu();
        let sum = std::hint::black_box(plain(std::hint::black_box(&items)));
        (thread_cpu() - cpu, sum)
    };
    let mut base_worst = Duration::MAX;
    let mut best = Run {
        cpu: Duration::MAX,
        worst: Duration::MAX,
        worst_cpu: Duration::MAX,
        checksum: 0.0,
    };
    let (mut base, mut cpu, mut losses, mut spreads) = (vec![], vec![], vec![], vec![]);
    let mut expected = 0.0;
    for _ in 0..rounds {
        // A tenth of the items is enough for the heartbeat to tick many times.
        let reference = rt.block_on(next_to_heartbeat(every_item(&items[..items.len() / 10])));
        base_worst = base_worst.min(reference.worst_cpu);
        // The student's loop between two plain ones: a stretch in which the machine slows
        // every thread down weighs on both sides of the comparison.
        let (before, sum) = plain_cpu();
        expected = sum;
        let yours = rt.block_on(next_to_heartbeat(async {
            match program {
                Program::Yours => super::lab06_yours::checksum(&items).await,
                Program::Starter => super::lab06_starter::checksum(&items).await,
                Program::Solution => super::lab06_solution::checksum(&items).await,
            }
        }));
        let (after, _) = plain_cpu();
        let plain_mean = (before + after).as_secs_f64() / 2.0;
        base.push(plain_mean);
        cpu.push(yours.cpu.as_secs_f64());
        losses.push(yours.cpu.as_secs_f64() / plain_mean.max(1e-9) - 1.0);
        spreads.push((before.as_secs_f64() - after.as_secs_f64()).abs() / plain_mean.max(1e-9));
        best = Run {
            cpu: best.cpu.min(yours.cpu),
            worst: best.worst.min(yours.worst),
            worst_cpu: best.worst_cpu.min(yours.worst_cpu),
            checksum: yours.checksum,
        };
    }
    process::print_result(&Outcome {
        yield_every: yield_every as u64,
        why: why.to_owned(),
        items: ITEMS,
        rounds,
        base_cpu_ms: stats::median(&mut base).unwrap_or(0.0) * 1e3,
        loss: stats::median(&mut losses).unwrap_or(0.0),
        spread: stats::median(&mut spreads).unwrap_or(0.0),
        base_worst_ms: base_worst.as_secs_f64() * 1e3,
        cpu_ms: stats::median(&mut cpu).unwrap_or(0.0) * 1e3,
        worst_ms: best.worst_cpu.as_secs_f64() * 1e3,
        wall_worst_ms: best.worst.as_secs_f64() * 1e3,
        checksum_ok: best.checksum.to_bits() == expected.to_bits(),
    });
    Ok(())
}

/// Checks `program` against the baselines its run measured.
///
/// # Errors
///
/// A program that cannot be started, or that does not finish.
pub fn check(lab: Lab, program: Program, quick: bool) -> Result<Verdict, LabError> {
    let o: Outcome = process::start(lab, program, quick, &[])?.result(Duration::from_secs(300))?;
    let d = |ms: f64| Duration::from_secs_f64(ms.max(0.0) / 1e3);
    let loss = o.loss;
    // A machine whose other processes take the loop thread's core and caches makes two runs
    // of the same loop differ: the budget grows by the plain loop's own measured spread.
    let loss_allowed = LOSS_BUDGET + o.spread.min(MAX_SPREAD);
    let allowed = d(o.base_worst_ms) + LATENESS_BUDGET;
    let measured = vec![
        format!(
            "your choice: YIELD_EVERY = {}; WHY: {}",
            o.yield_every,
            if o.why.trim().is_empty() {
                "(WHY is empty)"
            } else {
                o.why.trim()
            }
        ),
        format!(
            "baseline: {} items take {} of CPU with no yield (two runs in a row differ by {:.1}%, \
             median of {} rounds); the heartbeat ({} period) is at worst {} late (in loop-thread \
             CPU time) next to a loop that yields after every item",
            o.items,
            ms(d(o.base_cpu_ms)),
            o.spread * 100.0,
            o.rounds,
            ms(BEAT),
            ms(d(o.base_worst_ms))
        ),
        format!(
            "yours:    the loop takes {} of CPU ({:+.1}% against the plain runs around it, \
             median of {} rounds); the heartbeat is at worst {} late in loop-thread CPU time, \
             {} on the wall clock (best of the rounds)",
            ms(d(o.cpu_ms)),
            loss * 100.0,
            o.rounds,
            ms(d(o.worst_ms)),
            ms(d(o.wall_worst_ms)),
        ),
    ];
    let checks = vec![
        Check::new(
            "the checksum equals the plain loop's",
            o.checksum_ok,
            "the checksum differs from the plain loop's: mix every item once, in order",
        ),
        Check::new(
            format!(
                "heartbeat worst lateness (loop-thread CPU time) at most the baseline's plus {}",
                ms(LATENESS_BUDGET)
            ),
            d(o.worst_ms) <= allowed,
            format!(
                "the heartbeat is up to {} late, more than the baseline's {} plus {}: the loop \
                 runs too long between yields",
                ms(d(o.worst_ms)),
                ms(d(o.base_worst_ms)),
                ms(LATENESS_BUDGET)
            ),
        )
        .figure("yours_worst_ms", o.worst_ms)
        .figure("baseline_worst_ms", o.base_worst_ms)
        .figure("allowed_ms", allowed.as_secs_f64() * 1e3),
        Check::new(
            format!(
                "CPU time at most {:.0}% above the plain loop's, plus the measured spread",
                LOSS_BUDGET * 100.0
            ),
            loss <= loss_allowed,
            format!(
                "the loop costs {:.1}% more CPU than without yields, more than the {:.1}% \
                 allowed ({:.0}% plus the plain loop's own {:.1}% spread): it yields too often",
                loss * 100.0,
                loss_allowed * 100.0,
                LOSS_BUDGET * 100.0,
                o.spread * 100.0
            ),
        )
        .figure("loss_pct", loss * 100.0)
        .figure("spread_pct", o.spread * 100.0)
        .figure("allowed_pct", loss_allowed * 100.0)
        .figure("yours_cpu_ms", o.cpu_ms)
        .figure("baseline_cpu_ms", o.base_cpu_ms),
        Check::new(
            "WHY says why YIELD_EVERY was chosen",
            !o.why.trim().is_empty(),
            "WHY is empty: say in one line why you chose YIELD_EVERY",
        ),
    ];
    let pass_reason = format!(
        "heartbeat lateness {} is within the baseline's {} plus {}, and the loop costs {:+.1}% \
         CPU (at most {:.1}% allowed: {:.0}% plus the plain loop's {:.1}% spread)",
        ms(d(o.worst_ms)),
        ms(d(o.base_worst_ms)),
        ms(LATENESS_BUDGET),
        loss * 100.0,
        loss_allowed * 100.0,
        LOSS_BUDGET * 100.0,
        o.spread * 100.0
    );
    Ok(Verdict::from_checks(measured, checks, pass_reason))
}

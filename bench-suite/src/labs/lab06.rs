//! Lab 6, yield batch size: the harness that runs the student's loop over a million items next
//! to a heartbeat, the work each item costs, and the checker, which compares the heartbeat's
//! lateness and the loop's CPU time with baselines measured in the same process.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use evloop_bench::workloads::cpu::thread_cpu;
use serde::{Deserialize, Serialize};

use super::lab::{Lab, Program};
use super::lab03::ms;
use super::process;
use super::verdict::{LabError, Verdict};

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
/// How much more CPU time than the baseline the loop may take, as a share.
const LOSS_BUDGET: f64 = 0.10;

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
    /// Rounds measured (each figure is the best over the rounds).
    rounds: u32,
    /// Loop-thread CPU time of a plain loop over the items, no yield, no heartbeat (ms).
    base_cpu_ms: f64,
    /// The heartbeat's worst lateness in loop-thread CPU time next to a loop that yields after
    /// every item (ms).
    base_worst_ms: f64,
    /// Loop-thread CPU time of the student's loop next to the heartbeat (ms).
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
    let rounds: u32 = if quick { 3 } else { 5 };
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
    let (mut base_cpu, mut base_worst) = (Duration::MAX, Duration::MAX);
    let mut best = Run {
        cpu: Duration::MAX,
        worst: Duration::MAX,
        worst_cpu: Duration::MAX,
        checksum: 0.0,
    };
    let mut expected = 0.0;
    for _ in 0..rounds {
        let cpu = thread_cpu();
        expected = std::hint::black_box(plain(std::hint::black_box(&items)));
        base_cpu = base_cpu.min(thread_cpu() - cpu);
        // A tenth of the items is enough for the heartbeat to tick many times.
        let reference = rt.block_on(next_to_heartbeat(every_item(&items[..items.len() / 10])));
        base_worst = base_worst.min(reference.worst_cpu);
        let yours = rt.block_on(next_to_heartbeat(async {
            match program {
                Program::Yours => super::lab06_yours::checksum(&items).await,
                Program::Starter => super::lab06_starter::checksum(&items).await,
                Program::Solution => super::lab06_solution::checksum(&items).await,
            }
        }));
        best = Run {
            cpu: best.cpu.min(yours.cpu),
            worst: best.worst.min(yours.worst),
            worst_cpu: best.worst_cpu.min(yours.worst_cpu),
            checksum: yours.checksum,
        };
    }
    let msf = |d: Duration| d.as_secs_f64() * 1e3;
    process::print_result(&Outcome {
        yield_every: yield_every as u64,
        why: why.to_owned(),
        items: ITEMS,
        rounds,
        base_cpu_ms: msf(base_cpu),
        base_worst_ms: msf(base_worst),
        cpu_ms: msf(best.cpu),
        worst_ms: msf(best.worst_cpu),
        wall_worst_ms: msf(best.worst),
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
    let loss = o.cpu_ms / o.base_cpu_ms.max(1e-9) - 1.0;
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
            "baseline: {} items take {} of CPU with no yield; the heartbeat ({} period) is at \
             worst {} late (in loop-thread CPU time) next to a loop that yields after every item",
            o.items,
            ms(d(o.base_cpu_ms)),
            ms(BEAT),
            ms(d(o.base_worst_ms))
        ),
        format!(
            "yours:    the loop takes {} of CPU ({:+.1}% against the baseline); the heartbeat \
             is at worst {} late in loop-thread CPU time, {} on the wall clock (best of {} \
             rounds)",
            ms(d(o.cpu_ms)),
            loss * 100.0,
            ms(d(o.worst_ms)),
            ms(d(o.wall_worst_ms)),
            o.rounds
        ),
    ];
    let mut failures = Vec::new();
    if !o.checksum_ok {
        failures.push(
            "the checksum differs from the plain loop's: mix every item once, in order".into(),
        );
    }
    if d(o.worst_ms) > allowed {
        failures.push(format!(
            "the heartbeat is up to {} late, more than the baseline's {} plus {}: the loop \
             runs too long between yields",
            ms(d(o.worst_ms)),
            ms(d(o.base_worst_ms)),
            ms(LATENESS_BUDGET)
        ));
    }
    if loss > LOSS_BUDGET {
        failures.push(format!(
            "the loop costs {:.1}% more CPU than without yields, more than the {:.0}% allowed: \
             it yields too often",
            loss * 100.0,
            LOSS_BUDGET * 100.0
        ));
    }
    if o.why.trim().is_empty() {
        failures.push("WHY is empty: say in one line why you chose YIELD_EVERY".into());
    }
    let (pass, reason) = if failures.is_empty() {
        (
            true,
            format!(
                "heartbeat lateness {} is within the baseline's {} plus {}, and the loop costs \
                 {:+.1}% CPU (at most {:.0}% allowed)",
                ms(d(o.worst_ms)),
                ms(d(o.base_worst_ms)),
                ms(LATENESS_BUDGET),
                loss * 100.0,
                LOSS_BUDGET * 100.0
            ),
        )
    } else {
        (false, failures.join("; "))
    };
    Ok(Verdict {
        pass,
        measured,
        reason,
    })
}

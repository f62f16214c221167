//! Lab 5, CPU-bound work: the harness that runs the student's `count_all` next to a heartbeat
//! with a process pool, the work function, and the checker, which compares the heartbeat's
//! lateness and this process's own CPU time with the starter's.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::heartbeat::Heartbeat;
use super::lab::{Lab, Program};
use super::lab03::ms;
use super::process;
use super::verdict::{Check, LabError, Verdict};
use evloop_bench::workloads::cpu::process_cpu;
use evloop_bench::workloads::procs;

// The starter does not use `COUNT_PRIMES` yet (the reference solution and the student's do).
#[cfg_attr(not(lab_solutions), allow(unused_imports))]
pub use evloop_bench::workloads::procs::{count_primes, COUNT_PRIMES};

/// The heartbeat's period.
const BEAT: Duration = Duration::from_millis(5);
/// The student's worst lateness must be at most the starter's divided by this.
const REQUIRED_GAIN: f64 = 5.0;
/// This process may spend at most this share of the starter's CPU time: the rest of the work
/// must run in other processes.
const MAX_OWN_CPU_SHARE: f64 = 0.5;
/// The limits counted, and how many primes lie below each.
const LIMITS: [(u64, u64); 4] = [
    (300_000, 25_997),
    (400_000, 33_860),
    (500_000, 41_538),
    (200_000, 17_984),
];

/// What one run of a version measured.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    /// The heartbeat's worst lateness, in milliseconds.
    worst_ms: f64,
    /// How many times the heartbeat ticked.
    beats: u64,
    /// How long `count_all` took, in milliseconds.
    wall_ms: f64,
    /// CPU time this process spent during `count_all` (its pool workers are other processes),
    /// in milliseconds.
    own_cpu_ms: f64,
    /// How many limits were counted.
    limits: usize,
    /// The pool's workers.
    workers: usize,
    /// Empty if every count came back right and in order, else what went wrong.
    problem: String,
}

/// Runs one version next to a heartbeat and prints its [`Outcome`].
///
/// # Errors
///
/// The process pool or the runtime could not be started.
pub fn run(program: Program, quick: bool) -> Result<(), LabError> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pool = evloop::ProcessPool::builder(procs::registry())
        .max_workers(workers)
        .prestart(true)
        .build()
        .map_err(std::io::Error::other)
        .map_err(LabError::io("start the process pool"))?;
    let rounds = if quick { 1 } else { 2 };
    let (limits, expected): (Vec<u64>, Vec<u64>) = LIMITS
        .iter()
        .cycle()
        .take(LIMITS.len() * rounds)
        .copied()
        .unzip();
    let rt = process::quiet_loop("lab05")?;
    let outcome = rt.block_on(async {
        let heartbeat = Heartbeat::spawn(BEAT);
        evloop::yield_now().await;
        let (start, cpu) = (Instant::now(), process_cpu());
        let counts = match program {
            Program::Yours => super::lab05_yours::count_all(&pool, limits.clone()).await,
            Program::Starter => super::lab05_starter::count_all(&pool, limits.clone()).await,
            Program::Solution => super::lab05_solution::count_all(&pool, limits.clone()).await,
        };
        let (wall, own_cpu) = (start.elapsed(), process_cpu() - cpu);
        let (worst, beats) = heartbeat.stop().await;
        let problem = match counts {
            Ok(c) if c == expected => String::new(),
            Ok(c) => format!("expected the counts {expected:?}, got {c:?}"),
            Err(e) => format!("count_all failed: {e}"),
        };
        Outcome {
            worst_ms: worst.as_secs_f64() * 1e3,
            beats,
            wall_ms: wall.as_secs_f64() * 1e3,
            own_cpu_ms: own_cpu.as_secs_f64() * 1e3,
            limits: limits.len(),
            workers,
            problem,
        }
    });
    process::print_result(&outcome);
    Ok(())
}

/// Checks `program` against the starter.
///
/// # Errors
///
/// A program that cannot be started, or that does not finish.
pub fn check(lab: Lab, program: Program, quick: bool) -> Result<Verdict, LabError> {
    let limit = Duration::from_secs(120);
    let starter: Outcome = process::start(lab, Program::Starter, quick, &[])?.result(limit)?;
    let yours: Outcome = process::start(lab, program, quick, &[])?.result(limit)?;
    let who = if program == Program::Yours {
        "yours"
    } else {
        program.name()
    };
    let millis = |v: f64| ms(Duration::from_secs_f64(v / 1e3));
    let describe = |who: &str, o: &Outcome| {
        format!(
            "{who:<8} heartbeat worst lateness {} ({} beats of {}); {} counts took {} of wall \
             time and {} of this process's CPU",
            millis(o.worst_ms),
            o.beats,
            ms(BEAT),
            o.limits,
            millis(o.wall_ms),
            millis(o.own_cpu_ms),
        )
    };
    let speed_up = starter.wall_ms / yours.wall_ms.max(1e-6);
    let measured = vec![
        describe("starter", &starter),
        describe(who, &yours),
        format!(
            "speed-up over the starter: {speed_up:.2}x with {} pool workers on this machine \
             (for information: other programs on the machine share its cores)",
            yours.workers
        ),
    ];
    let gain = starter.worst_ms / yours.worst_ms.max(1e-6);
    let cpu_share = yours.own_cpu_ms / starter.own_cpu_ms.max(1e-6);
    let checks = vec![
        Check::new(
            "every count is right and in the order of the limits",
            yours.problem.is_empty(),
            yours.problem.clone(),
        ),
        Check::new(
            format!("heartbeat worst lateness at least {REQUIRED_GAIN}x lower than the starter's"),
            gain >= REQUIRED_GAIN,
            format!(
                "the heartbeat is at worst {} late next to your code against {} next to the \
                 starter's: only {gain:.1}x less, at least {REQUIRED_GAIN}x needed; the counting \
                 still runs on the loop thread",
                millis(yours.worst_ms),
                millis(starter.worst_ms)
            ),
        )
        .figure("starter_worst_ms", starter.worst_ms)
        .figure("yours_worst_ms", yours.worst_ms)
        .figure("gain_x", gain)
        .figure("required_gain_x", REQUIRED_GAIN),
        Check::new(
            format!(
                "this process's CPU time at most {:.0}% of the starter's (the work runs in the \
                 pool's processes)",
                MAX_OWN_CPU_SHARE * 100.0
            ),
            cpu_share <= MAX_OWN_CPU_SHARE,
            format!(
                "this process still spent {} of CPU against the starter's {} ({:.0}%, at most \
                 {:.0}% allowed): the counting runs on threads of this process (a thread \
                 pool?), not in the process pool's workers",
                millis(yours.own_cpu_ms),
                millis(starter.own_cpu_ms),
                cpu_share * 100.0,
                MAX_OWN_CPU_SHARE * 100.0
            ),
        )
        .figure("starter_own_cpu_ms", starter.own_cpu_ms)
        .figure("yours_own_cpu_ms", yours.own_cpu_ms)
        .figure("share_pct", cpu_share * 100.0)
        .figure("max_share_pct", MAX_OWN_CPU_SHARE * 100.0),
    ];
    let pass_reason = format!(
        "the heartbeat is at worst {} late next to your code against {} next to the starter's \
         ({gain:.1}x less, at least {REQUIRED_GAIN}x needed), the work ran in other processes \
         ({:.0}% of the starter's CPU here), and every count is right",
        millis(yours.worst_ms),
        millis(starter.worst_ms),
        cpu_share * 100.0
    );
    Ok(Verdict::from_checks(measured, checks, pass_reason))
}

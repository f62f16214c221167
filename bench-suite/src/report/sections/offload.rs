//! Section 2, blocking versus offloading: heartbeat tasks tick every millisecond while one task
//! repeatedly blocks (a `std::thread::sleep`) or computes, in the loop or offloaded.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::report::error::SectionError;
use crate::report::format::number;
use crate::report::model::{Better, Cell, Column, ColumnKind, Row, Section};
use crate::report::plot::{self, Series};
use crate::report::sections::{table, Ctx};
use crate::report::stats::quantile;
use crate::workloads::cpu::{burn_cpu, process_cpu, thread_cpu};
use crate::workloads::procs;

/// What the busy task does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// `std::thread::sleep`: blocks without using CPU.
    Sleep,
    /// CPU-bound work of the same length, in CPU time.
    Cpu,
}

/// Where the work runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// On the loop thread, followed by a `yield_now`.
    InLoop,
    /// `evloop::run_in_executor(None, ..)`: the loop's default thread pool.
    ThreadPool,
    /// `evloop::run_in_process`: a process pool of one worker.
    ProcessPool,
}

impl Via {
    /// Every way, in report order.
    pub const ALL: [Via; 3] = [Via::InLoop, Via::ThreadPool, Via::ProcessPool];

    fn describe(self) -> &'static str {
        match self {
            Via::InLoop => "in the loop",
            Via::ThreadPool => "through the thread pool (`run_in_executor`)",
            Via::ProcessPool => "through the process pool (`run_in_process`)",
        }
    }
}

impl Work {
    fn describe(self, block: Duration) -> String {
        match self {
            Work::Sleep => format!("{} ms `thread::sleep`", block.as_millis()),
            Work::Cpu => format!("{} ms of CPU work", block.as_millis()),
        }
    }
}

/// Does one piece of `work` on the calling thread; returns the CPU time it used.
fn do_work(work: Work, block: Duration) -> Duration {
    let cpu = thread_cpu();
    match work {
        Work::Sleep => std::thread::sleep(block),
        Work::Cpu => {
            burn_cpu(block);
        }
    }
    thread_cpu() - cpu
}

/// What one run measured.
#[derive(Debug)]
struct Outcome {
    /// `(time since start in ms, lateness in µs)` of every heartbeat tick.
    ticks: Vec<(f64, f64)>,
    /// Pieces of work completed.
    jobs: u64,
    /// Wall time of the run.
    elapsed: Duration,
    /// CPU time of the loop thread.
    loop_cpu: Duration,
    /// CPU time of the whole process.
    process_cpu: Duration,
    /// CPU time the pieces of work themselves used.
    job_cpu: Duration,
}

/// A heartbeat: ticks every millisecond until `end`, recording how late each tick is.
async fn heartbeat(start: Instant, end: Instant, ticks: Rc<RefCell<Vec<(f64, f64)>>>) {
    let mut next = Instant::now() + Duration::from_millis(1);
    while next < end {
        evloop::sleep_until(next).await;
        let now = Instant::now();
        let late = now.saturating_duration_since(next);
        ticks
            .borrow_mut()
            .push(((next - start).as_secs_f64() * 1e3, late.as_secs_f64() * 1e6));
        next = now + Duration::from_millis(1);
    }
}

fn experiment(work: Work, via: Via, ctx: &Ctx<'_>) -> Result<Outcome, SectionError> {
    let (window, block, heartbeats) = (
        ctx.sizes.offload_window,
        ctx.sizes.block,
        ctx.sizes.heartbeats,
    );
    let rt = crate::evloop_blocking_on_purpose().build()?;
    // One worker, started before the run: the thread pool's job runs on one thread too.
    let procs = match via {
        Via::ProcessPool => Some(
            evloop::ProcessPool::builder(procs::registry())
                .max_workers(1)
                .prestart(true)
                .build()
                .map_err(|e| {
                    SectionError::Failed(format!("the process pool did not start: {e}"))
                })?,
        ),
        _ => None,
    };
    Ok(rt.block_on(async {
        let ticks = Rc::new(RefCell::new(Vec::new()));
        let start = Instant::now();
        let end = start + window;
        let beats: Vec<_> = (0..heartbeats)
            .map(|_| evloop::spawn(heartbeat(start, end, ticks.clone())))
            .collect();
        let (cpu0, loop0) = (process_cpu(), thread_cpu());
        let (mut jobs, mut job_cpu) = (0, Duration::ZERO);
        while Instant::now() < end {
            job_cpu += match via {
                Via::InLoop => {
                    let used = do_work(work, block);
                    evloop::yield_now().await;
                    used
                }
                Via::ThreadPool => evloop::run_in_executor(None, move || do_work(work, block))
                    .await
                    .expect("the work does not panic"),
                Via::ProcessPool => {
                    let (func, micros) = match work {
                        Work::Sleep => (&procs::SLEEP, block.as_micros() as u64),
                        Work::Cpu => (&procs::BURN, block.as_micros() as u64),
                    };
                    let pool = procs.as_ref().expect("built above");
                    evloop::run_in_process(pool, func, micros)
                        .await
                        .expect("the work does not fail");
                    // The work's CPU is the worker's, in another process: none of it is
                    // counted in this process's CPU time.
                    Duration::ZERO
                }
            };
            jobs += 1;
        }
        for beat in beats {
            beat.await.expect("a heartbeat does not panic");
        }
        let outcome = Outcome {
            ticks: std::mem::take(&mut *ticks.borrow_mut()),
            jobs,
            elapsed: start.elapsed(),
            loop_cpu: thread_cpu() - loop0,
            process_cpu: process_cpu() - cpu0,
            job_cpu,
        };
        outcome
    }))
}

/// Columns of the section's table.
fn columns() -> Vec<Column> {
    let col = |name: &str, unit: &str| Column {
        name: name.into(),
        unit: Some(unit.into()),
        kind: ColumnKind::Plain,
    };
    vec![
        col("heartbeat lateness p50", "µs"),
        col("p99", "µs"),
        col("max", "µs"),
        col("work done", "per s"),
        col("loop thread CPU", "ms per s"),
        col("offload machinery CPU", "ms per s"),
    ]
}

fn outcome_cells(o: &Outcome, via: Via) -> Vec<Cell> {
    let mut late: Vec<f64> = o.ticks.iter().map(|t| t.1).collect();
    let n = late.len() as u64;
    let q = |late: &mut Vec<f64>, q| match quantile(late, q) {
        Some(v) => Cell::value(v, n),
        None => Cell::missing("no ticks"),
    };
    let secs = o.elapsed.as_secs_f64();
    // Offloaded, the work's own CPU time is spent off the loop thread; in the loop, inside it.
    let outside_loop = o.process_cpu.saturating_sub(o.loop_cpu);
    let machinery = match via {
        Via::InLoop => outside_loop,
        _ => outside_loop.saturating_sub(o.job_cpu),
    };
    vec![
        q(&mut late, 0.5),
        q(&mut late, 0.99),
        q(&mut late, 1.0),
        Cell::value(o.jobs as f64 / secs, o.jobs),
        Cell::value(o.loop_cpu.as_secs_f64() * 1e3 / secs, 1),
        Cell::value(machinery.as_secs_f64() * 1e3 / secs, 1),
    ]
}

/// The highest lateness among the ticks due in each 10 ms of the run, in ms; 10 ms slices in
/// which no tick was due (the loop was blocked) have no point.
fn lateness_series(name: &str, o: &Outcome) -> Series {
    let mut buckets: Vec<Option<f64>> = Vec::new();
    for &(t, late) in &o.ticks {
        let b = (t / 10.0) as usize;
        if buckets.len() <= b {
            buckets.resize(b + 1, None);
        }
        buckets[b] = Some(buckets[b].map_or(late / 1e3, |m: f64| m.max(late / 1e3)));
    }
    Series {
        name: name.into(),
        points: buckets
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| Some((i as f64 * 10.0, v?)))
            .collect(),
    }
}

/// Runs the section.
///
/// # Errors
///
/// Interrupted, or an experiment that failed.
pub fn run(ctx: &mut Ctx<'_>, section: &mut Section) -> Result<(), SectionError> {
    let s = ctx.sizes.clone();
    section.notes.push(format!(
        "{} heartbeat tasks each sleep 1 ms and record how late they wake (the next tick is due \
         1 ms after the wake); meanwhile one task repeats the work for {} s. Lateness is over every \
         tick of every heartbeat (samples = ticks). \"Work done\" counts pieces of work completed \
         per second. CPU figures come from `CLOCK_PROCESS_CPUTIME_ID` and \
         `CLOCK_THREAD_CPUTIME_ID`: the loop thread's CPU, and the CPU spent outside the loop \
         thread minus the CPU of the work itself (the pool's worker waiting, waking and polling \
         for jobs, and the monitor thread), both per second of run.",
        s.heartbeats,
        number(s.offload_window.as_secs_f64())
    ));
    section.notes.push(
        "In the loop, the working task is ready again (after its `yield_now`) when the \
         heartbeats wake, and runs first in the next cycle: a heartbeat waits for the rest of \
         the piece it woke during plus the whole next one, about twice the piece's length."
            .into(),
    );
    section.notes.push(
        "The process pool has one worker, started before the run, and its function is \
         registered by name; the worker is another process, so its CPU time (the work's and its \
         own polling) is not in the CPU columns, which count this process only."
            .into(),
    );
    ctx.progress.plan(6);
    section.tables.push(table(
        "One task blocking or computing next to 100 heartbeats ticking every millisecond:",
        columns(),
    ));
    for work in [Work::Sleep, Work::Cpu] {
        let mut series = Vec::new();
        for via in Via::ALL {
            let measured = format!("{}, {}", work.describe(s.block), via.describe());
            ctx.step(&measured)?;
            let o = experiment(work, via, ctx)?;
            series.push(lateness_series(via.describe(), &o));
            let cells = outcome_cells(&o, via);
            let t = section.tables.last_mut().expect("pushed above");
            t.rows.push(Row {
                measured,
                unit: None,
                method: "one run; lateness over all ticks".into(),
                better: Better::Neither,
                cells,
                summary: false,
                vs_best_peer: None,
            });
        }
        let (file, caption) = match work {
            Work::Sleep => (
                "offload-sleep.svg",
                "Heartbeat lateness while a task makes blocking sleeps",
            ),
            Work::Cpu => (
                "offload-cpu.svg",
                "Heartbeat lateness while a task does CPU work",
            ),
        };
        ctx.plot(section, file, caption, |path| {
            plot::lines_log_y(
                path,
                &format!("{caption} ({})", work.describe(s.block).replace('`', "")),
                "time the tick was due, since start (ms)",
                "worst lateness of the ticks due in each 10 ms (ms, log)",
                0.001,
                &series,
            )
        })?;
    }
    Ok(())
}

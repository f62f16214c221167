//! Section 3, yield batch size: a loop over many items yields every N items next to a
//! heartbeat; total-time overhead against the heartbeat's worst lateness.

use std::cell::Cell as StdCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::report::error::SectionError;
use crate::report::format::{count, number};
use crate::report::model::{Better, Cell, Column, ColumnKind, Row, Section};
use crate::report::plot::{self, CurveText, LabelledPoint};
use crate::report::sections::{median_cell, table, Ctx};
use crate::report::stats::median;
use crate::workloads::cpu::{thread_cpu, work_item};

/// The batch length the lecture recommends: "yield every few milliseconds".
const FEW_MS: Duration = Duration::from_millis(2);

/// What one run measured.
#[derive(Clone, Copy, Debug)]
struct Run {
    /// Wall time of the loop over the items.
    wall: Duration,
    /// CPU time of the loop thread meanwhile (the items, the yields, and the loop's cycles;
    /// preemption by other processes does not count).
    cpu: Duration,
    /// The heartbeat's worst lateness.
    worst: Duration,
}

/// One run: `items` items, a `yield_now` every `every` items (never if `None`), next to a
/// heartbeat ticking every millisecond.
fn one_run(items: u64, every: Option<u64>) -> Result<Run, SectionError> {
    let rt = crate::evloop_blocking_on_purpose().build()?;
    Ok(rt.block_on(async {
        let done = Rc::new(StdCell::new(false));
        let worst = Rc::new(StdCell::new(Duration::ZERO));
        let beat = {
            let (done, worst) = (done.clone(), worst.clone());
            evloop::spawn(async move {
                while !done.get() {
                    let due = Instant::now() + Duration::from_millis(1);
                    evloop::sleep_until(due).await;
                    worst.set(worst.get().max(due.elapsed()));
                }
            })
        };
        // Let the heartbeat arm its first timer.
        evloop::yield_now().await;
        let start = Instant::now();
        let cpu = thread_cpu();
        let mut seed = 0;
        for i in 1..=items {
            seed = work_item(seed);
            if every.is_some_and(|n| i % n == 0) {
                evloop::yield_now().await;
            }
        }
        let (wall, cpu) = (start.elapsed(), thread_cpu() - cpu);
        std::hint::black_box(seed);
        done.set(true);
        beat.await.expect("the heartbeat does not panic");
        Run {
            wall,
            cpu,
            worst: worst.get(),
        }
    }))
}

/// Runs the section.
///
/// # Errors
///
/// Interrupted, or a runtime that could not be built.
pub fn run(ctx: &mut Ctx<'_>, section: &mut Section) -> Result<(), SectionError> {
    let s = ctx.sizes.clone();
    let items = s.yield_items;
    let rounds = if s.quick { 1 } else { 5 };
    let mut grid: Vec<Option<u64>> = [
        1, 3, 10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000,
    ]
    .into_iter()
    .filter(|&n| n < items)
    .map(Some)
    .collect();
    grid.push(None);
    ctx.progress.plan((rounds * grid.len()) as u64);
    let mut took: Vec<Vec<f64>> = vec![Vec::new(); grid.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); grid.len()];
    let mut worst: Vec<Vec<f64>> = vec![Vec::new(); grid.len()];
    // Measure; whatever happens, the figures measured so far go into the report.
    let outcome = (|| -> Result<(), SectionError> {
        for r in 0..rounds {
            for (i, every) in grid.iter().enumerate() {
                ctx.step(&format!(
                    "round {}/{rounds}: yield every {}",
                    r + 1,
                    every.map_or("never".into(), count)
                ))?;
                let run = one_run(items, *every)?;
                took[i].push(run.wall.as_secs_f64() * 1e3);
                cpu[i].push(run.cpu.as_secs_f64() * 1e3);
                worst[i].push(run.worst.as_secs_f64() * 1e3);
            }
        }
        Ok(())
    })();
    let col = |name: &str, unit: &str| Column {
        name: name.into(),
        unit: Some(unit.into()),
        kind: ColumnKind::Plain,
    };
    let label = |every: &Option<u64>| match every {
        Some(n) => format!("N = {}", count(*n)),
        None => "never".into(),
    };
    if let Err(e) = outcome {
        // Without the full grid there is no baseline: keep the raw figures measured.
        let mut t = table(
            "Yield every N items (stopped before the baseline; raw figures):",
            vec![
                col("loop CPU time", "ms"),
                col("loop wall time", "ms"),
                col("heartbeat worst lateness", "ms"),
            ],
        );
        for (i, every) in grid.iter().enumerate() {
            t.rows.push(Row {
                measured: label(every),
                unit: None,
                method: format!("median of {} run(s)", cpu[i].len()),
                better: Better::Neither,
                cells: [&cpu[i], &took[i], &worst[i]]
                    .into_iter()
                    .map(|v| median_cell(v.clone()))
                    .collect(),
                summary: false,
                vs_best_peer: None,
            });
        }
        section.tables.push(t);
        return Err(e);
    }
    let took: Vec<f64> = took.iter_mut().map(|v| median(v).unwrap_or(0.0)).collect();
    let cpu: Vec<f64> = cpu.iter_mut().map(|v| median(v).unwrap_or(0.0)).collect();
    let worst: Vec<f64> = worst.iter_mut().map(|v| median(v).unwrap_or(0.0)).collect();
    let never = *cpu.last().expect("the grid ends with never");
    let per_item_ms = never / items as f64;
    // The batch closest to "a few milliseconds", on a log scale.
    let marked = grid
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.map(|n| (i, per_item_ms * n as f64)))
        .min_by(|a, b| {
            let d = |ms: f64| (ms / (FEW_MS.as_secs_f64() * 1e3)).ln().abs();
            d(a.1).total_cmp(&d(b.1))
        })
        .map(|(i, _)| i);
    section.notes.push(format!(
        "A loop over {} items (each a 64-byte FNV-1a hash, {} ns on this machine) calls \
         `yield_now()` every N items, next to one heartbeat task that sleeps 1 ms at a time and \
         records its worst lateness. Overhead is the loop thread's CPU time over its CPU time with \
         no yield at all, minus one: CPU time, because the wall time of a loaded machine carries \
         preemptions by other processes that are no cost of yielding (the wall time is in the \
         table too). Each figure is the median of {rounds} run(s), the N values interleaved; \
         the worst lateness includes whatever the machine's other work added.",
        number(items as f64),
        number(per_item_ms * 1e6)
    ));
    if let Some(first) = worst.first() {
        section.notes.push(format!(
            "With a yield after every item the heartbeat still saw {} ms of worst lateness in \
             this run: that is the floor the machine puts under every point (other processes \
             preempting the loop thread, timer slack), not a cost of the batch size.",
            number(*first)
        ));
    }
    if let Some(i) = marked {
        section.notes.push(format!(
            "Marked: N = {}, the batch closest to the lecture's \"a few milliseconds\" ({} ms per \
             batch here). Smaller N buys lower lateness with more overhead; larger N the reverse. \
             The curve depends on the work per item: read N as a batch *duration*, not a count.",
            count(grid[i].unwrap_or(0)),
            number(per_item_ms * grid[i].unwrap_or(0) as f64)
        ));
    }
    let mut t = table(
        "Yield every N items:",
        vec![
            col("batch", "ms"),
            col("loop CPU time", "ms"),
            col("loop wall time", "ms"),
            col("overhead", "%"),
            col("heartbeat worst lateness", "ms"),
        ],
    );
    let mut points = Vec::new();
    for (i, every) in grid.iter().enumerate() {
        let overhead = (cpu[i] / never - 1.0) * 100.0;
        let label = label(every);
        let batch = every.map_or(never, |n| per_item_ms * n as f64);
        t.rows.push(Row {
            measured: if Some(i) == marked {
                format!("{label} (a few ms per batch)")
            } else {
                label.clone()
            },
            unit: None,
            method: format!("median of {rounds}"),
            better: Better::Neither,
            cells: vec![
                Cell::value(batch, rounds as u64),
                Cell::value(cpu[i], rounds as u64),
                Cell::value(took[i], rounds as u64),
                Cell::value(overhead, rounds as u64),
                Cell::value(worst[i], rounds as u64),
            ],
            summary: false,
            vs_best_peer: None,
        });
        // "never" is the baseline: no overhead by definition, a reference line on the plot.
        if every.is_some() {
            points.push(LabelledPoint {
                x: worst[i],
                y: (overhead > 0.0).then_some(overhead),
                label,
                marked: Some(i) == marked,
            });
        }
    }
    let marked_legend = match marked {
        Some(i) => format!(
            "N = {}: closest to \"a few ms\" per batch ({} ms)",
            count(grid[i].unwrap_or(0)),
            number(per_item_ms * grid[i].unwrap_or(0) as f64)
        ),
        None => String::new(),
    };
    let reference = worst.last().map(|w| {
        (
            *w,
            format!("never yields: worst lateness {} ms", number(*w)),
        )
    });
    section.tables.push(t);
    ctx.plot(
        section,
        "yield-batch.svg",
        "Overhead of yielding against the heartbeat's worst lateness, one point per N",
        |path| {
            plot::labelled_curve(
                path,
                &CurveText {
                    title: "Yield every N items: overhead vs worst heartbeat lateness",
                    x_label: "heartbeat worst lateness (ms, log)",
                    y_label: "loop CPU time overhead (%, log)",
                    marked: &marked_legend,
                    unmeasurable: "no overhead measurable (0 % or below), drawn at the bottom",
                    reference: reference.clone(),
                },
                &points,
            )
        },
    )
}

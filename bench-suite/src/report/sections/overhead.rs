//! Section 6, instrumentation overhead: spawn and `yield_now` on evloop with the monitor off,
//! on (the default), and with poll timing, interleaved.

use crate::report::error::SectionError;
use crate::report::model::{Better, ColumnKind, Section};
use crate::report::sections::{column, median_cell, row, table, Ctx};
use crate::report::stats::nanos;
use crate::workloads::{spawn, yielding};

/// The configurations compared: name, slow-poll reports (the monitor), poll timing.
const CONFIGS: [(&str, bool, bool); 3] = [
    ("monitor off", false, false),
    ("monitor on (default)", true, false),
    ("monitor on + poll timing", true, true),
];

/// Runs the section.
///
/// # Errors
///
/// Interrupted, or a runtime that could not be built.
pub fn run(ctx: &mut Ctx<'_>, section: &mut Section) -> Result<(), SectionError> {
    let s = ctx.sizes.clone();
    let (rounds, ops) = (s.rounds, s.ops);
    section.notes.push(
        "evloop built with `Builder::slow_poll_reports` off / on, and `poll_timing(true)`, the \
         stall watchdog off in all three (the same configurations as the `monitor_overhead` \
         criterion bench). Ratios are to the fastest configuration."
            .into(),
    );
    let rts = CONFIGS
        .iter()
        .map(|&(_, reports, timing)| {
            evloop::Builder::new()
                .slow_poll_reports(reports)
                .stall_watchdog(false)
                .poll_timing(timing)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    ctx.progress.plan(rounds as u64);
    let mut spawn_ns: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut yield_ns: Vec<Vec<f64>> = vec![Vec::new(); 3];
    // Measure; whatever happens, the figures measured so far go into the report.
    let outcome = (|| -> Result<(), SectionError> {
        for r in 0..rounds {
            ctx.step(&format!("round {}/{rounds}", r + 1))?;
            for k in 0..rts.len() {
                let i = (k + r) % rts.len();
                let rt = &rts[i];
                spawn_ns[i].push(nanos(rt.block_on(spawn::evloop_batches(ops))) / ops as f64);
                let took = rt
                    .block_on(rt.spawn(yielding::yield_loop(ops, evloop::yield_now)))
                    .map_err(|e| SectionError::Failed(e.to_string()))?;
                yield_ns[i].push(nanos(took) / ops as f64);
            }
        }
        Ok(())
    })();
    // The configurations are variants of the subject, compared with each other.
    let mut t = table(
        "evloop's own cost of finding blocking calls:",
        CONFIGS
            .iter()
            .map(|c| column(c.0, ColumnKind::Peer))
            .collect(),
    );
    t.rows.push(row(
        "spawn an empty task and await it",
        "ns",
        s.method(ops),
        Better::Lower,
        spawn_ns.into_iter().map(median_cell).collect(),
    ));
    t.rows.push(row(
        "`yield_now`, no socket open",
        "ns",
        s.method(ops),
        Better::Lower,
        yield_ns.into_iter().map(median_cell).collect(),
    ));
    section.tables.push(t);
    outcome
}

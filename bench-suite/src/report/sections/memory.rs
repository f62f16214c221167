//! Section 1, memory per unit: resident and virtual bytes per sleeping task (evloop, tokio,
//! smol) and per parked OS thread, each measured in a fresh child process.

use std::io;
use std::time::Duration;

use crate::report::children::{self, spawn};
use crate::report::error::SectionError;
use crate::report::format::number;
use crate::report::model::{Better, Cell, ColumnKind, Section};
use crate::report::sections::{column, median_cell, row, runtime_columns, table, Ctx};
use crate::workloads::memory::{parked_threads, sleeping_tasks, Usage};
use crate::workloads::peers::Peer;

/// One GiB.
const GIB: f64 = (1u64 << 30) as f64;
/// The small thread stack measured next to the default one.
pub const SMALL_STACK: usize = 64 * 1024;

/// The child side: measures `count` units of `unit` and prints `resident virtual` (bytes of
/// growth) on one line.
///
/// # Errors
///
/// An unknown unit, or the error of the measurement.
pub fn child(unit: &str, count: usize, stack: Option<usize>) -> io::Result<String> {
    let usage = match unit {
        "threads" => parked_threads(count, stack)?,
        other => {
            let peer = Peer::from_name(other).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("unknown unit {other}"))
            })?;
            sleeping_tasks(peer, count)?
        }
    };
    Ok(format!("{} {}\n", usage.resident, usage.virtual_size))
}

/// Runs `memory-child` in a fresh process and parses its line: the process's growth with
/// `count` units of `unit` (`evloop`, `tokio`, `smol` sleeping tasks, or `threads` parked with
/// `stack` bytes of stack). Lab 9 compares the student's method with it.
///
/// # Errors
///
/// A child that could not be started, failed, or printed something else.
pub fn measure(unit: &str, count: usize, stack: Option<usize>) -> Result<Usage, SectionError> {
    let count_arg = count.to_string();
    let stack_arg = stack.map(|s| s.to_string());
    let mut args = vec!["memory-child", "--unit", unit, "--count", &count_arg];
    if let Some(s) = &stack_arg {
        args.extend(["--stack", s]);
    }
    let mut cmd = children::self_command(&args)?;
    if unit != "threads" {
        // One malloc arena: a runtime's helper thread (a watchdog, a reactor thread) whose
        // first allocation falls inside the measurement would otherwise reserve a 64 MiB arena
        // and count it as the tasks' address space, in some runs and not others.
        cmd.env("MALLOC_ARENA_MAX", "1");
    }
    let out = spawn(cmd)?.finish(Duration::from_secs(120))?;
    let mut fields = out.split_whitespace().map(str::parse::<u64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(resident)), Some(Ok(virtual_size))) => Ok(Usage {
            resident,
            virtual_size,
        }),
        _ => Err(SectionError::Failed(format!(
            "memory child for {unit} printed {out:?}"
        ))),
    }
}

/// Runs the section.
///
/// # Errors
///
/// Interrupted, or a child that failed.
pub fn run(ctx: &mut Ctx<'_>, section: &mut Section) -> Result<(), SectionError> {
    let s = ctx.sizes.clone();
    let rounds = if s.quick { 1 } else { 3 };
    let (tasks, threads) = (s.mem_tasks, s.mem_threads);
    section.notes.push(format!(
        "Each figure is the growth of the process's resident set (pages backed by RAM; \
         `/proc/self/statm` on Linux, `ps` elsewhere) or virtual size (address space reserved) \
         divided by the number of units, \
         measured in a fresh child process per runtime so that no allocator memory carries over; \
         median of {rounds} child process(es) per column, interleaved."
    ));
    section.notes.push(format!(
        "Tasks: {} tasks per runtime, each written inline as `async {{ sleep(60 s).await }}` \
         (a relaxed increment of a static counter before the sleep tells the parent when all \
         sleep; it adds no state to the task); the task children run with \
         `MALLOC_ARENA_MAX=1`, so that a helper thread's first allocation (evloop's watchdog, \
         smol's reactor thread) cannot reserve a 64 MiB malloc arena during the measurement and \
         count it as the tasks' address space. Threads: {} threads parked on a barrier, with \
         Rust's default stack (2 MiB unless `RUST_MIN_STACK` says otherwise) and with a 64 KiB \
         stack. A thread's virtual size includes its share of the C library's per-thread malloc \
         arenas (reserved, up to 8 per CPU), so it falls as the thread count grows. Thread \
         figures leave out the kernel's own per-thread memory (a 16 KiB kernel \
         stack and the task struct), which no process counter shows.",
        number(tasks as f64),
        number(threads as f64)
    ));
    ctx.progress.plan((rounds * 5) as u64);
    let units: [(&str, &str, Option<usize>, usize); 5] = [
        ("evloop", "evloop", None, tasks),
        ("tokio", "tokio", None, tasks),
        ("smol", "smol", None, tasks),
        ("threads, default stack", "threads", None, threads),
        (
            "threads, 64 KiB stack",
            "threads",
            Some(SMALL_STACK),
            threads,
        ),
    ];
    let mut resident: Vec<Vec<f64>> = vec![Vec::new(); units.len()];
    let mut virt: Vec<Vec<f64>> = vec![Vec::new(); units.len()];
    // Measure; whatever happens, the figures measured so far go into the report.
    let outcome = (|| -> Result<(), SectionError> {
        for r in 0..rounds {
            for (i, (name, unit, stack, count)) in units.iter().enumerate() {
                ctx.step(&format!("round {}/{rounds}: {name}", r + 1))?;
                let u = measure(unit, *count, *stack)?;
                resident[i].push(u.resident as f64 / *count as f64);
                virt[i].push(u.virtual_size as f64 / *count as f64);
            }
        }
        Ok(())
    })();
    let per_gib = |cells: &[crate::report::model::Cell]| -> Vec<Cell> {
        cells
            .iter()
            .map(|c| match c.value {
                Some(v) if v > 0.0 => Cell::value((GIB / v).floor(), c.samples),
                _ => Cell::missing("—"),
            })
            .collect()
    };
    let method = format!("median of {rounds} child process(es)");

    let mut t = table(
        &format!("Sleeping tasks ({} per runtime):", number(tasks as f64)),
        runtime_columns(&[]),
    );
    let res: Vec<Cell> = (0..3).map(|i| median_cell(resident[i].clone())).collect();
    let vir: Vec<Cell> = (0..3).map(|i| median_cell(virt[i].clone())).collect();
    let mut headline = row(
        "resident memory per sleeping task",
        "B",
        method.clone(),
        Better::Lower,
        res.clone(),
    );
    headline.summary = true;
    t.rows.push(headline);
    t.rows.push(row(
        "virtual memory per sleeping task",
        "B",
        method.clone(),
        Better::Lower,
        vir.clone(),
    ));
    t.rows.push(row(
        "tasks that fit in 1 GiB of RAM (resident)",
        "tasks",
        method.clone(),
        Better::Higher,
        per_gib(&res),
    ));
    t.rows.push(row(
        "tasks that fit in 1 GiB of address space (virtual)",
        "tasks",
        method.clone(),
        Better::Higher,
        per_gib(&vir),
    ));
    section.tables.push(t);

    let mut t = table(
        &format!(
            "Parked OS threads ({} per measurement):",
            number(threads as f64)
        ),
        vec![
            column("default stack", ColumnKind::Plain),
            column("64 KiB stack", ColumnKind::Plain),
        ],
    );
    let res: Vec<Cell> = (3..5).map(|i| median_cell(resident[i].clone())).collect();
    let vir: Vec<Cell> = (3..5).map(|i| median_cell(virt[i].clone())).collect();
    t.rows.push(row(
        "resident memory per thread",
        "B",
        method.clone(),
        Better::Neither,
        res.clone(),
    ));
    t.rows.push(row(
        "virtual memory (address space) per thread",
        "B",
        method.clone(),
        Better::Neither,
        vir.clone(),
    ));
    t.rows.push(row(
        "threads that fit in 1 GiB of RAM (resident)",
        "threads",
        method.clone(),
        Better::Neither,
        per_gib(&res),
    ));
    t.rows.push(row(
        "threads that fit in 1 GiB of address space (virtual)",
        "threads",
        method,
        Better::Neither,
        per_gib(&vir),
    ));
    section.tables.push(t);

    if let (Some(r), Some(v)) = (res[0].value, vir[0].value) {
        ctx.shared.thread_default = Some((r, v));
        section.notes.push(format!(
            "The slide's \"about 1 MB per thread\" is reserved address space: a thread with the \
             default stack reserves {} KiB of virtual memory here, but only {} KiB of it is \
             resident (the stack pages it touched, its guard page aside). What limits threads \
             in practice is the address space, the kernel's per-thread memory, and scheduling, \
             not resident RAM.",
            number(v / 1024.0),
            number(r / 1024.0)
        ));
    }
    for (i, peer) in ["evloop", "tokio", "smol"].iter().enumerate() {
        let r = median_cell(resident[i].clone()).value;
        let v = median_cell(virt[i].clone()).value;
        if let (Some(r), Some(v)) = (r, v) {
            ctx.shared.task_usage.push((peer.to_string(), r, v));
        }
    }
    outcome
}

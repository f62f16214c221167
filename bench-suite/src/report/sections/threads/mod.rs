//! Section 4, event loop versus threads: the slide's table with measured numbers. A loopback
//! TCP echo server holds many connections on one evloop thread, then with a thread per
//! connection; the clients run in a child process (one evloop thread), so each side has its
//! own file-descriptor budget.

pub mod clients;
pub mod servers;

use std::time::Duration;

use crate::report::error::SectionError;
use crate::report::format::number;
use crate::report::limits::raise_fd_limit;
use crate::report::model::{Better, Cell, ColumnKind, Section};
use crate::report::sections::{column, row, table, Ctx};
use crate::workloads::echo::MSG_LEN;
use clients::{run_clients, ClientFigures};
use servers::{LoopServer, Server, ThreadServer};

pub use clients::clients_child;

/// How long the handler blocks on a trigger: one blocking call.
pub const BLOCKING_CALL: Duration = Duration::from_millis(100);
/// Connections of the blocking-call runs: few enough that a normal round trip is short, so
/// that the blocking call stands out from queueing.
const BLOCK_CONNS: usize = 100;
/// File descriptors kept for everything but the connections.
const FD_MARGIN: u64 = 64;

/// Runs the section.
///
/// # Errors
///
/// Interrupted, or a server or client that failed.
pub fn run(ctx: &mut Ctx<'_>, section: &mut Section) -> Result<(), SectionError> {
    let s = ctx.sizes.clone();
    let limit = raise_fd_limit();
    let conns = s.conns.min(limit.saturating_sub(FD_MARGIN) as usize);
    section.notes.push(format!(
        "Loopback TCP echo of {MSG_LEN}-byte messages. The server runs in this process, the \
         clients in a child process on one evloop thread, each connection making round trips \
         back to back; the same clients drive both servers. The file-descriptor limit \
         (`RLIMIT_NOFILE`) was raised to its hard limit, {} here.",
        number(limit as f64)
    ));
    if conns < s.conns {
        section.notes.push(format!(
            "The limit allows {} connections, not the {} wanted: the counts below are lowered \
             to fit (raise the hard limit with `ulimit -Hn` as root to measure more).",
            number(conns as f64),
            number(s.conns as f64)
        ));
    }
    section.notes.push(format!(
        "\"One blocking call\": two more runs with {BLOCK_CONNS} connections (few, so that a \
         normal round trip is short and queueing does not hide the call): one plain, one in \
         which one connection's handler makes a {} ms `thread::sleep` halfway through; the \
         figures are the worst round trip seen by every other connection.",
        BLOCKING_CALL.as_millis()
    ));
    ctx.progress.plan(6);
    let mut t = table(
        "The slide's table, measured:",
        vec![
            column("evloop, one thread", ColumnKind::Plain),
            column("thread per connection", ColumnKind::Plain),
        ],
    );
    // Memory per unit, from section 1.
    let task = ctx
        .shared
        .task_usage
        .iter()
        .find(|(n, _, _)| n == "evloop")
        .map(|(_, r, v)| (*r, *v));
    let thread_mem = ctx.shared.thread_default;
    let from_memory = |v: Option<f64>| match v {
        Some(v) => Cell::value(v, 1),
        None => Cell::missing("see section 1 (not run)"),
    };
    t.rows.push(row(
        "resident memory per unit (task / thread), from section 1",
        "B",
        "section 1".into(),
        Better::Neither,
        vec![
            from_memory(task.map(|m| m.0)),
            from_memory(thread_mem.map(|m| m.0)),
        ],
    ));
    t.rows.push(row(
        "virtual memory per unit, from section 1",
        "B",
        "section 1".into(),
        Better::Neither,
        vec![
            from_memory(task.map(|m| m.1)),
            from_memory(thread_mem.map(|m| m.1)),
        ],
    ));
    section.tables.push(t);

    let seconds = s.echo_seconds;
    let block_secs = if s.quick { 0.4 } else { 1.0 };
    let block_conns = BLOCK_CONNS.min(conns);
    let block_at = Some((block_secs * 500.0) as u64);
    // Per server, its runs in order: all connections, few, few with the blocking call.
    let mut runs: Vec<Vec<ClientFigures>> = Vec::new();
    let mut refused = 0;
    // Measure; whatever happens, the figures measured so far go into the report.
    let outcome = (|| -> Result<(), SectionError> {
        for kind in ["evloop", "threads"] {
            let server: Box<dyn Server> = if kind == "evloop" {
                Box::new(LoopServer::start()?)
            } else {
                Box::new(ThreadServer::start()?)
            };
            runs.push(Vec::new());
            let mine = runs.last_mut().expect("pushed");
            ctx.step(&format!("{kind}: {} connections", number(conns as f64)))?;
            mine.push(run_clients(&*server, conns, seconds, None)?);
            ctx.step(&format!("{kind}: {block_conns} connections"))?;
            mine.push(run_clients(&*server, block_conns, block_secs, None)?);
            ctx.step(&format!("{kind}: one blocking call"))?;
            mine.push(run_clients(&*server, block_conns, block_secs, block_at)?);
            refused += server.refused();
        }
        Ok(())
    })();
    if refused > 0 {
        section.notes.push(format!(
            "The thread-per-connection server could not start a thread for {} connection(s) \
             (the OS refused): the connections held show how far it got.",
            number(refused as f64)
        ));
    }
    let t = section.tables.last_mut().expect("pushed above");
    // Which run of each server a row reads: 0 all connections, 1 few, 2 few with the call.
    let cells = |f: &dyn Fn(&ClientFigures) -> Cell, run: usize| -> Vec<Cell> {
        (0..2)
            .map(|server| match runs.get(server).and_then(|r| r.get(run)) {
                Some(figures) => f(figures),
                None => Cell::missing("not run"),
            })
            .collect()
    };
    let many = number(conns as f64);
    t.rows.push(row(
        &format!("connections held (each answered a round trip), of {many} opened"),
        "connections",
        "one run".into(),
        Better::Neither,
        cells(&|f| Cell::value(f.held as f64, 1), 0),
    ));
    t.rows.push(row(
        &format!("echo throughput, {many} connections busy"),
        "msg/s",
        format!("one run of {seconds} s"),
        Better::Neither,
        cells(
            &|f| Cell::value(f.messages as f64 / f.seconds, f.messages),
            0,
        ),
    ));
    t.rows.push(row(
        &format!("round trip p50 (p99), {many} connections busy"),
        "µs",
        "all round trips of the run".into(),
        Better::Neither,
        cells(
            &|f| Cell {
                value: Some(f.p50_us),
                samples: f.messages,
                note: Some(format!("p99 {}", number(f.p99_us))),
                ratio_to_best: None,
            },
            0,
        ),
    ));
    t.rows.push(row(
        &format!("{block_conns} connections, no blocking call: worst round trip"),
        "ms",
        format!("one run of {block_secs} s"),
        Better::Neither,
        cells(&|f| Cell::value(f.max_us / 1e3, f.messages), 1),
    ));
    t.rows.push(row(
        &format!(
            "{block_conns} connections, one {} ms blocking call in one handler: worst round \
             trip of the other connections",
            BLOCKING_CALL.as_millis()
        ),
        "ms",
        format!("one run of {block_secs} s"),
        Better::Neither,
        cells(&|f| Cell::value(f.max_us / 1e3, f.messages), 2),
    ));
    outcome
}

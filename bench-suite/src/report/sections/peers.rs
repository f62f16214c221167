//! Section 5, evloop against its peers: the same workloads on evloop, tokio `current_thread`
//! and smol, interleaved round by round in one process, next to Python's asyncio (a shipped
//! script, run once per round) and the floors with no runtime at all.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use async_executor::LocalExecutor;

use crate::report::children::{self, spawn};
use crate::report::error::SectionError;
use crate::report::model::{Better, Cell, ColumnKind, Section};
use crate::report::plot;
use crate::report::sections::{median_cell, row, runtime_columns, table, Ctx};
use crate::report::stats::nanos;
use crate::workloads::cpu::{burn_cpu, process_cpu};
use crate::workloads::peers::{tokio_current_thread, Peer};
use crate::workloads::{
    cross_loop, echo, floors, http, offload, procs, spawn as spawning, timer, wake, yielding,
};

/// The timer slack of the rows that measure evloop with one.
const SLACK: Duration = Duration::from_millis(1);

/// The script that measures asyncio, shipped in the crate and written beside the report.
const ASYNCIO_SCRIPT: &str = include_str!("../../../python/asyncio_peers.py");

/// The three runtimes, built once for the whole section (as criterion does).
struct Runtimes {
    evloop: evloop::Runtime,
    /// evloop with a 1 ms timer slack, for the spread-timer rows that say so.
    evloop_slack: evloop::Runtime,
    /// evloop with its idle spin off, for the rows that say so.
    evloop_no_spin: evloop::Runtime,
    tokio: tokio::runtime::Runtime,
    smol: LocalExecutor<'static>,
    /// evloop's process pool (one worker), or why it did not start.
    procs: Result<evloop::ProcessPool, String>,
}

/// A workload of the section: a row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    Spawn,
    Yield,
    YieldWithSockets,
    TimerArmCancel,
    TimerFire,
    TimerSpreadCpu,
    TimerSpreadLateness,
    TimerSpreadCpuSlack,
    TimerSpreadLatenessSlack,
    CrossThreadWake,
    CrossLoopRoundTrip,
    EchoRoundTrip,
    EchoThroughput64,
    HttpRoundTrip,
    HttpServerCpu,
    OffloadRoundTrip,
    OffloadCpu,
    Offload10us,
    Offload10usCpu,
    ProcessPoolRoundTrip,
    ProcessPoolCpu,
    CrossThreadWakeNoSpin,
    Offload10usNoSpin,
    Offload10usCpuNoSpin,
    ProcessPoolRoundTripNoSpin,
    ProcessPoolCpuNoSpin,
}

impl Workload {
    const ALL: [Workload; 26] = [
        Workload::Spawn,
        Workload::Yield,
        Workload::YieldWithSockets,
        Workload::TimerArmCancel,
        Workload::TimerFire,
        Workload::TimerSpreadCpu,
        Workload::TimerSpreadLateness,
        Workload::TimerSpreadCpuSlack,
        Workload::TimerSpreadLatenessSlack,
        Workload::CrossThreadWake,
        Workload::CrossLoopRoundTrip,
        Workload::EchoRoundTrip,
        Workload::EchoThroughput64,
        Workload::HttpRoundTrip,
        Workload::HttpServerCpu,
        Workload::OffloadRoundTrip,
        Workload::OffloadCpu,
        Workload::Offload10us,
        Workload::Offload10usCpu,
        Workload::ProcessPoolRoundTrip,
        Workload::ProcessPoolCpu,
        Workload::CrossThreadWakeNoSpin,
        Workload::Offload10usNoSpin,
        Workload::Offload10usCpuNoSpin,
        Workload::ProcessPoolRoundTripNoSpin,
        Workload::ProcessPoolCpuNoSpin,
    ];

    /// The workload a row with evloop's idle spin off repeats, and whether `self` is one.
    fn repeated(self) -> (Workload, bool) {
        match self {
            Workload::CrossThreadWakeNoSpin => (Workload::CrossThreadWake, true),
            Workload::Offload10usNoSpin => (Workload::Offload10us, true),
            Workload::Offload10usCpuNoSpin => (Workload::Offload10usCpu, true),
            Workload::ProcessPoolRoundTripNoSpin => (Workload::ProcessPoolRoundTrip, true),
            Workload::ProcessPoolCpuNoSpin => (Workload::ProcessPoolCpu, true),
            w => (w, false),
        }
    }

    /// What the row measures, its unit, and which figures are better.
    fn describe(self, idle: usize) -> (String, &'static str, Better) {
        use Better::*;
        match self {
            Workload::CrossThreadWakeNoSpin
            | Workload::Offload10usNoSpin
            | Workload::Offload10usCpuNoSpin
            | Workload::ProcessPoolRoundTripNoSpin
            | Workload::ProcessPoolCpuNoSpin => {
                let (what, unit, better) = self.repeated().0.describe(idle);
                (
                    format!("{what}, evloop with its idle spin off (`idle_spin(0)`)"),
                    unit,
                    better,
                )
            }
            Workload::Spawn => (
                "spawn an empty task and await it (batches of 1,000)".into(),
                "ns",
                Lower,
            ),
            Workload::Yield => ("`yield_now`, no socket open".into(), "ns", Lower),
            Workload::YieldWithSockets => (
                format!(
                    "`yield_now` with a listener and {} idle connections registered",
                    crate::report::format::count(idle as u64)
                ),
                "ns",
                Lower,
            ),
            Workload::TimerArmCancel => ("arm and cancel a timer".into(), "ns", Lower),
            Workload::TimerFire => (
                "fire a timer and finish its task (5,000 per deadline)".into(),
                "ns",
                Lower,
            ),
            Workload::TimerSpreadCpu => (
                "CPU time per timer, 1,000 tasks sleeping 1–1,000 µs each".into(),
                "ns",
                Lower,
            ),
            Workload::TimerSpreadLateness => (
                "mean lateness of those timers (how long after its deadline each task resumed)"
                    .into(),
                "µs",
                Lower,
            ),
            Workload::TimerSpreadCpuSlack => (
                "CPU time per spread timer, evloop with `timer_slack(1 ms)` (tokio's wheel has 1 ms slots)"
                    .into(),
                "ns",
                Lower,
            ),
            Workload::TimerSpreadLatenessSlack => (
                "mean lateness of spread timers, evloop with `timer_slack(1 ms)`".into(),
                "µs",
                Lower,
            ),
            Workload::CrossThreadWake => (
                "cross-thread wake of a parked loop, round trip (floor: two-thread ping-pong)"
                    .into(),
                "µs",
                Lower,
            ),
            Workload::CrossLoopRoundTrip => (
                "round trip to a task on another loop's thread (evloop: `PerCore` loop handle)"
                    .into(),
                "µs",
                Lower,
            ),
            Workload::EchoRoundTrip => (
                "TCP echo round trip, 1 connection, 64 B (floor: a mio loop)".into(),
                "µs",
                Lower,
            ),
            Workload::EchoThroughput64 => (
                "TCP echo throughput, 64 connections on the same thread (floor: a mio loop)".into(),
                "msg/s",
                Higher,
            ),
            Workload::HttpRoundTrip => (
                "HTTP/1.1 keep-alive request round trip, hyper, 1 connection (client: a plain thread)"
                    .into(),
                "µs",
                Lower,
            ),
            Workload::HttpServerCpu => (
                "server CPU time per HTTP/1.1 keep-alive request, hyper (the server's thread only)"
                    .into(),
                "µs",
                Lower,
            ),
            Workload::OffloadRoundTrip => (
                "thread-pool round trip of a job returning 1 (run_in_executor / spawn_blocking / unblock)"
                    .into(),
                "µs",
                Lower,
            ),
            Workload::OffloadCpu => (
                "CPU time per thread-pool round trip, all threads".into(),
                "µs",
                Lower,
            ),
            Workload::Offload10us => (
                "thread-pool round trip of a job of 10 µs of CPU work".into(),
                "µs",
                Lower,
            ),
            Workload::Offload10usCpu => (
                "CPU time per 10 µs-job round trip, all threads (the job's 10 µs included)".into(),
                "µs",
                Lower,
            ),
            Workload::ProcessPoolRoundTrip => (
                "process-pool round trip (floor: two-process pipe ping-pong)".into(),
                "µs",
                Lower,
            ),
            Workload::ProcessPoolCpu => (
                "CPU time per process-pool round trip, both processes (the worker's polling included)"
                    .into(),
                "µs",
                Lower,
            ),
        }
    }

    /// Operations per sample, from the section's base count.
    fn ops(self, base: u64) -> u64 {
        match self.repeated().0 {
            Workload::Spawn
            | Workload::Yield
            | Workload::YieldWithSockets
            | Workload::TimerArmCancel
            | Workload::TimerFire
            | Workload::TimerSpreadCpu
            | Workload::TimerSpreadLateness
            | Workload::TimerSpreadCpuSlack
            | Workload::TimerSpreadLatenessSlack => base,
            Workload::EchoThroughput64 => (base / 1000).max(5),
            // A request costs tens of microseconds.
            Workload::HttpRoundTrip | Workload::HttpServerCpu => (base / 50).max(50),
            _ => (base / 10).max(50),
        }
    }

    fn summary(self) -> bool {
        !matches!(
            self.repeated().0,
            Workload::OffloadCpu | Workload::Offload10usCpu | Workload::ProcessPoolCpu
        )
    }
}

/// Measures `w` on `peer`: one sample, in the row's unit.
fn measure(
    rts: &Runtimes,
    w: Workload,
    peer: Peer,
    ops: u64,
    idle: usize,
) -> Result<Option<f64>, SectionError> {
    let per_op = |d: Duration| nanos(d) / ops as f64;
    let per_op_us = |d: Duration| nanos(d) / ops as f64 / 1e3;
    // A row with the idle spin off repeats its workload on a loop that never spins.
    let (w, no_spin) = w.repeated();
    let evloop = if no_spin {
        &rts.evloop_no_spin
    } else {
        &rts.evloop
    };
    let ex = &rts.smol;
    let v = match (w, peer) {
        (Workload::Spawn, Peer::Evloop) => per_op(evloop.block_on(spawning::evloop_batches(ops))),
        (Workload::Spawn, Peer::Tokio) => per_op(rts.tokio.block_on(spawning::tokio_batches(ops))),
        (Workload::Spawn, Peer::Smol) => {
            per_op(async_io::block_on(ex.run(spawning::smol_batches(ex, ops))))
        }
        (Workload::Yield, Peer::Evloop) => per_op(
            rts.evloop
                .block_on(
                    rts.evloop
                        .spawn(yielding::yield_loop(ops, evloop::yield_now)),
                )
                .map_err(|e| SectionError::Failed(e.to_string()))?,
        ),
        (Workload::Yield, Peer::Tokio) => per_op(
            rts.tokio
                .block_on(
                    rts.tokio
                        .spawn(yielding::yield_loop(ops, tokio::task::yield_now)),
                )
                .map_err(|e| SectionError::Failed(e.to_string()))?,
        ),
        (Workload::Yield, Peer::Smol) => per_op(async_io::block_on(
            ex.run(ex.spawn(yielding::yield_loop(ops, futures_lite::future::yield_now))),
        )),
        (Workload::YieldWithSockets, Peer::Evloop) => per_op(evloop.block_on(async {
            let sockets = yielding::evloop_idle_sockets(idle).await?;
            let took = evloop::spawn(yielding::yield_loop(ops, evloop::yield_now))
                .await
                .map_err(std::io::Error::other)?;
            drop(black_box(sockets));
            std::io::Result::Ok(took)
        })?),
        (Workload::YieldWithSockets, Peer::Tokio) => per_op(rts.tokio.block_on(async {
            let sockets = yielding::tokio_idle_sockets(idle).await?;
            let took = tokio::spawn(yielding::yield_loop(ops, tokio::task::yield_now))
                .await
                .map_err(std::io::Error::other)?;
            drop(black_box(sockets));
            std::io::Result::Ok(took)
        })?),
        (Workload::YieldWithSockets, Peer::Smol) => per_op(async_io::block_on(ex.run(async {
            let sockets = yielding::smol_idle_sockets(idle).await?;
            let took = ex
                .spawn(yielding::yield_loop(ops, futures_lite::future::yield_now))
                .await;
            drop(black_box(sockets));
            std::io::Result::Ok(took)
        }))?),
        (Workload::TimerArmCancel, Peer::Evloop) => per_op(
            rts.evloop
                .block_on(rts.evloop.spawn(timer::arm_cancel(ops, evloop::sleep)))
                .map_err(|e| SectionError::Failed(e.to_string()))?,
        ),
        (Workload::TimerArmCancel, Peer::Tokio) => per_op(
            rts.tokio
                .block_on(rts.tokio.spawn(timer::arm_cancel(ops, tokio::time::sleep)))
                .map_err(|e| SectionError::Failed(e.to_string()))?,
        ),
        (Workload::TimerArmCancel, Peer::Smol) => per_op(async_io::block_on(
            ex.run(ex.spawn(timer::arm_cancel(ops, async_io::Timer::after))),
        )),
        (Workload::TimerFire, Peer::Evloop) => per_op(evloop.block_on(timer::evloop_fire(ops))),
        (Workload::TimerFire, Peer::Tokio) => per_op(rts.tokio.block_on(timer::tokio_fire(ops))),
        (Workload::TimerFire, Peer::Smol) => {
            per_op(async_io::block_on(ex.run(timer::smol_fire(ex, ops))))
        }
        (
            Workload::TimerSpreadCpu
            | Workload::TimerSpreadLateness
            | Workload::TimerSpreadCpuSlack
            | Workload::TimerSpreadLatenessSlack,
            peer,
        ) => {
            let spread = match peer {
                Peer::Evloop
                    if matches!(w, Workload::TimerSpreadCpu | Workload::TimerSpreadLateness) =>
                {
                    evloop.block_on(timer::evloop_spread(ops))
                }
                Peer::Evloop => rts.evloop_slack.block_on(timer::evloop_spread(ops)),
                Peer::Tokio => rts.tokio.block_on(timer::tokio_spread(ops)),
                Peer::Smol => async_io::block_on(ex.run(timer::smol_spread(ex, ops))),
            };
            if matches!(w, Workload::TimerSpreadCpu | Workload::TimerSpreadCpuSlack) {
                per_op(spread.cpu)
            } else {
                per_op_us(spread.lateness)
            }
        }
        (Workload::CrossThreadWake, peer) => {
            let bell = wake::Bell::default();
            let (tx, ringer) = wake::ringer(bell.clone(), ops);
            let answer = wake::answer(bell, tx, ops);
            match peer {
                Peer::Evloop => evloop.block_on(answer),
                Peer::Tokio => rts.tokio.block_on(answer),
                Peer::Smol => async_io::block_on(ex.run(answer)),
            }
            per_op_us(
                ringer
                    .join()
                    .map_err(|_| SectionError::Failed("the ringing thread panicked".into()))?,
            )
        }
        (Workload::CrossLoopRoundTrip, peer) => per_op_us(
            match peer {
                Peer::Evloop => cross_loop::on_evloop(ops),
                Peer::Tokio => cross_loop::on_tokio(ops),
                Peer::Smol => cross_loop::on_smol(ops),
            }
            .map_err(SectionError::Failed)?,
        ),
        (Workload::EchoRoundTrip, Peer::Evloop) => per_op_us(evloop.block_on(async {
            let mut c = echo::evloop_clients(1).await?;
            echo::round_trips(&mut c[0], ops).await
        })?),
        (Workload::EchoRoundTrip, Peer::Tokio) => per_op_us(rts.tokio.block_on(async {
            let mut c = echo::tokio_clients(1).await?;
            echo::with_tokio::round_trips(&mut c[0], ops).await
        })?),
        (Workload::EchoRoundTrip, Peer::Smol) => per_op_us(async_io::block_on(ex.run(async {
            let mut c = echo::smol_clients(ex, 1).await?;
            echo::round_trips(&mut c[0], ops).await
        }))?),
        (Workload::EchoThroughput64, peer) => {
            let took = match peer {
                Peer::Evloop => evloop.block_on(async {
                    let mut c = echo::evloop_clients(64).await?;
                    echo::evloop_throughput(&mut c, ops).await
                })?,
                Peer::Tokio => rts.tokio.block_on(async {
                    let mut c = echo::tokio_clients(64).await?;
                    echo::tokio_throughput(&mut c, ops).await
                })?,
                Peer::Smol => async_io::block_on(ex.run(async {
                    let mut c = echo::smol_clients(ex, 64).await?;
                    echo::smol_throughput(ex, &mut c, ops).await
                }))?,
            };
            64.0 * ops as f64 / took.as_secs_f64()
        }
        (Workload::HttpRoundTrip | Workload::HttpServerCpu, peer) => {
            let run = match peer {
                Peer::Evloop => http::on_evloop(evloop, ops)?,
                Peer::Tokio => http::on_tokio(&rts.tokio, ops)?,
                Peer::Smol => http::on_smol(ex, ops)?,
            };
            if w == Workload::HttpRoundTrip {
                per_op_us(run.took)
            } else {
                per_op_us(run.server_cpu)
            }
        }
        (
            Workload::OffloadRoundTrip
            | Workload::OffloadCpu
            | Workload::Offload10us
            | Workload::Offload10usCpu,
            peer,
        ) => {
            let work = match w {
                Workload::Offload10us | Workload::Offload10usCpu => Duration::from_micros(10),
                _ => Duration::ZERO,
            };
            let job = move || {
                if work.is_zero() {
                    black_box(1u64)
                } else {
                    burn_cpu(work).as_nanos() as u64
                }
            };
            let cpu = process_cpu();
            let took = match peer {
                Peer::Evloop => evloop.block_on(offload::evloop_round_trips(ops, job)),
                Peer::Tokio => rts.tokio.block_on(offload::tokio_round_trips(ops, job)),
                Peer::Smol => async_io::block_on(offload::smol_round_trips(ops, job)),
            };
            let cpu = process_cpu() - cpu;
            if matches!(w, Workload::OffloadRoundTrip | Workload::Offload10us) {
                per_op_us(took)
            } else {
                per_op_us(cpu)
            }
        }
        (Workload::ProcessPoolRoundTrip | Workload::ProcessPoolCpu, Peer::Evloop) => {
            let pool = rts
                .procs
                .as_ref()
                .map_err(|e| SectionError::Failed(e.clone()))?;
            let failed = |e: evloop::ExecError| SectionError::Failed(e.to_string());
            evloop.block_on(async {
                let worker_cpu = evloop::run_in_process(pool, &procs::CPU_TIME, ())
                    .await
                    .map_err(failed)?;
                let (cpu, start) = (process_cpu(), std::time::Instant::now());
                for i in 0..ops {
                    let back = evloop::run_in_process(pool, &procs::ECHO, black_box(i)).await;
                    black_box(back.map_err(failed)?);
                }
                let (took, cpu) = (start.elapsed(), process_cpu() - cpu);
                let worker_cpu = evloop::run_in_process(pool, &procs::CPU_TIME, ())
                    .await
                    .map_err(failed)?
                    - worker_cpu;
                Ok::<_, SectionError>(if w == Workload::ProcessPoolCpu {
                    per_op_us(cpu + Duration::from_nanos(worker_cpu))
                } else {
                    per_op_us(took)
                })
            })?
        }
        // tokio and smol have no process pool.
        (Workload::ProcessPoolRoundTrip | Workload::ProcessPoolCpu, _) => return Ok(None),
        (
            Workload::CrossThreadWakeNoSpin
            | Workload::Offload10usNoSpin
            | Workload::Offload10usCpuNoSpin
            | Workload::ProcessPoolRoundTripNoSpin
            | Workload::ProcessPoolCpuNoSpin,
            _,
        ) => unreachable!("a row with the idle spin off measures the workload it repeats"),
    };
    Ok(Some(v))
}

/// The floor of `w`, if it has one: one sample, in the row's unit.
fn floor(w: Workload, ops: u64) -> Result<Option<f64>, SectionError> {
    let w = w.repeated().0;
    match w {
        Workload::CrossThreadWake => Ok(Some(
            nanos(floors::thread_ping_pong(ops)) / ops as f64 / 1e3,
        )),
        Workload::EchoRoundTrip => Ok(Some(nanos(floors::mio_echo(1, ops)?) / ops as f64 / 1e3)),
        Workload::EchoThroughput64 => Ok(Some(
            64.0 * ops as f64 / floors::mio_echo(64, ops)?.as_secs_f64(),
        )),
        Workload::ProcessPoolRoundTrip | Workload::ProcessPoolCpu => {
            let (took, cpu) = pipe_floor(ops)?;
            let per_op = if w == Workload::ProcessPoolCpu {
                cpu
            } else {
                took
            };
            Ok(Some(nanos(per_op) / ops as f64 / 1e3))
        }
        _ => Ok(None),
    }
}

/// The pipe floor of the process-pool rows: `ops` one-byte round trips to a child process
/// after a warm-up. Returns their wall time and the CPU time both processes spent on as many.
fn pipe_floor(ops: u64) -> Result<(Duration, Duration), SectionError> {
    let mut cmd = children::self_command(&["pipe-echo"])?;
    cmd.stdin(Stdio::piped());
    let mut child = spawn(cmd)?;
    let c = child.child();
    let (mut to, mut from) = (
        c.stdin.take().expect("piped"),
        c.stdout.take().expect("piped"),
    );
    // CPU time is counted over the warm-up too, on both sides: the child counts from the
    // first byte it reads.
    const WARM_UP: u64 = 100;
    let cpu = process_cpu();
    floors::pipe_ping_pong(&mut to, &mut from, WARM_UP)?;
    let took = floors::pipe_ping_pong(&mut to, &mut from, ops)?;
    let cpu = process_cpu() - cpu;
    drop(to);
    let mut child_cpu = String::new();
    std::io::Read::read_to_string(&mut from, &mut child_cpu)?;
    child.finish(Duration::from_secs(10))?;
    let child_cpu: u64 = child_cpu
        .trim()
        .parse()
        .map_err(|_| SectionError::Failed(format!("the pipe-echo child printed {child_cpu:?}")))?;
    let cpu = (cpu + Duration::from_nanos(child_cpu)).mul_f64(ops as f64 / (ops + WARM_UP) as f64);
    Ok((took, cpu))
}

/// asyncio's figures of one round, by workload, in the rows' units.
fn asyncio_round(script: &PathBuf, ops: u64) -> Result<Vec<(Workload, f64)>, SectionError> {
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .arg(ops.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = spawn(cmd)?.finish(Duration::from_secs(120))?;
    let v: serde_json::Value = serde_json::from_str(out.trim())
        .map_err(|e| SectionError::Failed(format!("asyncio script printed {out:?}: {e}")))?;
    let get = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
    let mut figures = Vec::new();
    for (w, key, scale) in [
        (Workload::Spawn, "spawn_ns", 1.0),
        (Workload::Yield, "yield_ns", 1.0),
        (Workload::OffloadRoundTrip, "thread_pool_ns", 1e-3),
        (Workload::ProcessPoolRoundTrip, "process_pool_ns", 1e-3),
    ] {
        if let Some(x) = get(key) {
            figures.push((w, x * scale));
        }
    }
    Ok(figures)
}

/// Whether `python3` runs here.
fn python_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the section.
///
/// # Errors
///
/// Interrupted, or a workload that failed.
pub fn run(ctx: &mut Ctx<'_>, section: &mut Section) -> Result<(), SectionError> {
    let s = ctx.sizes.clone();
    let (rounds, idle) = (s.rounds, s.idle_conns);
    crate::report::limits::raise_fd_limit();
    let python = python_available();
    let script = ctx.out_dir.join("asyncio_peers.py");
    if python {
        std::fs::write(&script, ASYNCIO_SCRIPT)?;
    }
    section.notes.push(format!(
        "Each row's figures come from {rounds} rounds in this one process; in each round every \
         runtime runs the workload once, in turn (the order rotating), and each runtime's median over the rounds is shown. evloop is \
         built with `Builder::new()` (monitor on, the default), tokio is `current_thread` with \
         all drivers, smol is `async-executor`'s `LocalExecutor` driven by `async_io::block_on` \
         with `blocking::unblock` as its pool. Workloads live in `bench-suite/src/workloads/`, \
         shared with `cargo bench -p evloop-bench`."
    ));
    if python {
        section.notes.push(
            "asyncio: `asyncio_peers.py` (shipped in the crate, copied beside this report) runs \
             once per round, after the Rust runtimes: `create_task`, `sleep(0)`, \
             `run_in_executor` with a `ThreadPoolExecutor` and with a one-worker \
             `ProcessPoolExecutor` (job: the builtin `int`)."
                .into(),
        );
    } else {
        section
            .notes
            .push("asyncio rows skipped: `python3` was not found on this machine.".into());
    }
    section.notes.push(format!(
        "Spread-timer rows: rounds of 1,000 tasks, spawned eagerly and awaited together, each \
         sleeping 1 to 1,000 µs (every delay once, scrambled) and returning how late it resumed; \
         CPU time of the whole process per timer, and the mean lateness. evloop fires each \
         timer at its own deadline by default; the rows marked `timer_slack` run the same \
         workload on an evloop loop built with `Builder::timer_slack({} ms)`, which lets a \
         timer fire up to that late so that nearby deadlines share a wake-up. tokio and smol \
         run the same workload again in those rows.",
        SLACK.as_millis()
    ));
    section.notes.push(
        "Rows marked `idle_spin(0)`: the same workload on an evloop loop built with \
         `Builder::idle_spin(Duration::ZERO)`, which always sleeps when it has nothing to do; \
         by default a loop that other threads keep waking shortly after it sleeps spins up to \
         50 µs for their wake instead, while the machine has a core to spare. tokio and smol \
         run the same workload again in those rows."
            .into(),
    );
    section.notes.push(
        "Cross-loop row: a task on one single-threaded loop runs an empty task on a second \
         loop, on another thread, and awaits its output, once after another. evloop: \
         `LoopHandle::run` from loop 0 to loop 1 of a 2-loop `PerCore` group (default \
         `Builder`, so the same idle spin as the cross-thread wake row); tokio: `Handle::spawn` \
         on a second `current_thread` runtime, awaiting the `JoinHandle`; smol: `spawn` on an \
         `async-executor` run by another thread, awaiting the `Task`."
            .into(),
    );
    section.notes.push(
        "Process-pool row: evloop's pool has one worker started before the run, and awaits \
         `run_in_process` of a registered function that returns its argument; tokio and smol \
         have no process pool. \
         Floors: the cross-thread wake row's floor is two threads passing a token through two \
         `std::sync::mpsc` channels; the echo rows' floor is a hand-written `mio` loop holding \
         both ends of the connections on one thread; the process-pool row's floor is one byte \
         through a pipe to a child process and back. CPU rows count the CPU time of every \
         thread of the process (`CLOCK_PROCESS_CPUTIME_ID`), pools and monitor included."
            .into(),
    );
    section.notes.push(
        "HTTP rows: each runtime serves hyper's HTTP/1.1 on one connection (`TCP_NODELAY`, a \
         13-byte body; evloop through `evloop::hyper::EvloopIo`, tokio through hyper-util's \
         `TokioIo`, smol through `smol-hyper`'s `FuturesIo`) to a plain client thread of this \
         process that sends each request after reading the previous response, 50 unmeasured \
         requests first. The server's CPU time is its own thread's \
         (`CLOCK_THREAD_CPUTIME_ID`), read by the service at the first and the last measured \
         request, so the client is not counted. `bench-suite/scripts/http.sh` measures the same \
         servers under `wrk` and `h2load`, each on its own CPU."
            .into(),
    );
    let rts = Runtimes {
        evloop: evloop::Builder::new().build()?,
        evloop_slack: evloop::Builder::new().timer_slack(SLACK).build()?,
        evloop_no_spin: evloop::Builder::new().idle_spin(Duration::ZERO).build()?,
        tokio: tokio_current_thread(),
        smol: LocalExecutor::new(),
        procs: evloop::ProcessPool::builder(procs::registry())
            .max_workers(1)
            .prestart(true)
            .build()
            .map_err(|e| format!("the process pool did not start: {e}")),
    };
    let mut samples: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); 5]; Workload::ALL.len()];
    ctx.progress
        .plan((rounds * (Workload::ALL.len() + usize::from(python))) as u64);
    let peers = Peer::ALL;
    // Measure; whatever happens, the figures measured so far go into the report.
    let mut asyncio_error = None;
    let outcome = (|| -> Result<(), SectionError> {
        for r in 0..rounds {
            for (wi, &w) in Workload::ALL.iter().enumerate() {
                ctx.step(&format!("round {}/{rounds}: {:?}", r + 1, w))?;
                let ops = w.ops(s.ops);
                // Rotate the order each round, so no runtime always runs first.
                for k in 0..peers.len() {
                    let pi = (k + r) % peers.len();
                    if let Some(v) = measure(&rts, w, peers[pi], ops, idle)? {
                        samples[wi][pi].push(v);
                    }
                }
                if let Some(v) = floor(w, ops)? {
                    samples[wi][4].push(v);
                }
            }
            if python && asyncio_error.is_none() {
                ctx.step(&format!("round {}/{rounds}: asyncio", r + 1))?;
                match asyncio_round(&script, s.ops) {
                    Ok(figures) => {
                        for (w, v) in figures {
                            let wi = Workload::ALL.iter().position(|&x| x == w).expect("listed");
                            samples[wi][3].push(v);
                        }
                    }
                    // Python's side failing costs its cells, not the Rust rows.
                    Err(SectionError::Failed(e)) => asyncio_error = Some(e),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    })();
    let finished = outcome.is_ok();
    if let Some(e) = &asyncio_error {
        section.notes.push(format!(
            "asyncio's script failed, so its figures stop where it did: {e}"
        ));
    }
    let mut t = table(
        "Same workload, same run (median per operation; ratio to the best runtime of the row):",
        runtime_columns(&[("asyncio", ColumnKind::Peer), ("floor", ColumnKind::Floor)]),
    );
    for (wi, &w) in Workload::ALL.iter().enumerate() {
        let (measured, unit, better) = w.describe(idle);
        let cell = |col: usize| -> Cell {
            let v = &samples[wi][col];
            if !v.is_empty() {
                return median_cell(v.clone());
            }
            match (w, col) {
                (_, 3) if !python => Cell::missing("skipped: no python3"),
                (_, 3) if asyncio_error.is_some() => Cell::missing("skipped: script failed"),
                _ if !finished => Cell::missing("not run"),
                _ => Cell::missing("—"),
            }
        };
        let mut r = row(
            &measured,
            unit,
            s.method(w.ops(s.ops)),
            better,
            (0..5).map(cell).collect(),
        );
        r.summary = w.summary();
        // How close evloop gets to what the machine allows.
        if let (Some(e), Some(f)) = (r.cells[0].value, r.cells[4].value) {
            if f > 0.0 {
                r.cells[4].note = Some(format!("evloop at {:.2}× of it", e / f));
            }
        }
        t.rows.push(r);
    }
    t.compute_ratios();
    let bars = plot::vs_best_peer_bars(&t);
    section.tables.push(t);
    outcome?;
    ctx.plot(
        section,
        "peers.svg",
        "evloop vs best peer, per row (the tables' ratio): left of 1.00× evloop is ahead, right \
         of it behind",
        |path| {
            plot::ratio_bars(
                path,
                "evloop vs best peer: evloop's cost over the best peer's",
                "ratio, log scale (cost: time, memory, or 1/throughput); left of 1.00×: evloop ahead",
                &bars,
            )
        },
    )
}

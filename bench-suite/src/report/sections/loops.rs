//! Section 7, one loop per core: the same hyper server on one evloop loop, on two loops
//! (`evloop::PerCore`, in `ListenMode::Auto` and in hand-off mode), on tokio's `multi_thread`
//! runtime with 2 workers, on two tokio `current_thread` runtimes sharing the port through
//! `SO_REUSEPORT`, and on smol's executor run by 2 threads, each in a child process, under a
//! keep-alive load from client threads of this process, interleaved. On a small machine the
//! client shares the CPUs with the server, so the section reports what each request costs the
//! server and how much of the machine the client took, as well as requests per second.

use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{ChildStdin, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use crate::report::children;
use crate::report::error::SectionError;
use crate::report::model::{Better, ColumnKind, Section};
use crate::report::sections::{column, median_cell, row, table, Ctx};
use crate::workloads::cpu::process_cpu;
use crate::workloads::http_load::keep_alive;
use crate::workloads::http_servers::{serve, Protocol, TWO_THREADS};

/// The servers compared, their column headers and kinds.
const SERVERS: [(&str, &str, ColumnKind); 6] = [
    ("evloop2", "evloop, 2 loops (Auto)", ColumnKind::Subject),
    (
        "evloop2-handoff",
        "evloop, 2 loops, hand-off",
        ColumnKind::Plain,
    ),
    ("evloop", "evloop, 1 loop", ColumnKind::Plain),
    ("tokio-mt2", "tokio multi_thread(2)", ColumnKind::Peer),
    ("tokio-2ct", "tokio, 2 current_thread", ColumnKind::Peer),
    ("smol2", "smol, 2 threads", ColumnKind::Peer),
];

/// Keep-alive connections of both loads.
const CONNS: usize = 16;

/// A load: its name and the path every connection asks for.
struct Load {
    name: &'static str,
    path_of: fn(usize) -> &'static str,
}

/// The two loads: the plain answer, and 100 µs of server CPU per request.
const LOADS: [Load; 2] = [
    Load {
        name: "keep-alive",
        path_of: |_| "/",
    },
    Load {
        name: "server-bound",
        path_of: |_| crate::workloads::http::SERVER_BOUND_PATH,
    },
];

/// What one run measured.
struct Run {
    requests_per_sec: f64,
    server_cpu_us: f64,
    client_share: f64,
}

/// Runs the section.
///
/// # Errors
///
/// Interrupted, or a server or client that failed.
pub fn run(ctx: &mut Ctx<'_>, section: &mut Section) -> Result<(), SectionError> {
    debug_assert!(SERVERS.iter().skip(3).all(|s| TWO_THREADS.contains(&s.0)));
    let s = ctx.sizes.clone();
    // Each run starts a server process: fewer, shorter rounds than the in-process sections.
    let (rounds, secs) = if s.quick {
        (2, s.echo_seconds.min(0.4))
    } else {
        (5, 2.0)
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    section.notes.push(format!(
        "Each server is a child process serving HTTP/1.1 with hyper (the service of the peers \
         section's HTTP rows; `/cpu` burns 100 µs of CPU first); the client is {CONNS} threads \
         of this process, each with one keep-alive connection, sending a request as soon as \
         the last was answered, for {secs} s per run. Nothing is pinned: on this machine's \
         {cpus} CPUs the client and the server share them. Server CPU per request is the child \
         process's CPU time (every thread) over the requests; the client's share is this \
         process's CPU time over the run's wall time times the CPUs. The same servers and more \
         loads (paced, churning, uneven) are in `bench-suite/scripts/http.sh`."
    ));
    let n = SERVERS.len();
    let mut rps = vec![vec![Vec::new(); n]; LOADS.len()];
    let mut cpu = vec![vec![Vec::new(); n]; LOADS.len()];
    let mut share = vec![vec![Vec::new(); n]; LOADS.len()];
    ctx.progress.plan((rounds * LOADS.len() * n) as u64);
    // Measure; whatever happens, the figures measured so far go into the report.
    let outcome = (|| -> Result<(), SectionError> {
        for r in 0..rounds {
            for (l, load) in LOADS.iter().enumerate() {
                for k in 0..n {
                    let i = (k + r) % n;
                    ctx.step(&format!(
                        "round {}/{rounds}: {} on {}",
                        r + 1,
                        load.name,
                        SERVERS[i].1
                    ))?;
                    let run = one_run(SERVERS[i].0, load, secs, cpus)?;
                    rps[l][i].push(run.requests_per_sec);
                    cpu[l][i].push(run.server_cpu_us);
                    share[l][i].push(run.client_share);
                }
            }
        }
        Ok(())
    })();
    let mut t = table(
        "The same hyper server on two threads, and on one evloop loop:",
        SERVERS
            .iter()
            .map(|&(_, name, kind)| column(name, kind))
            .collect(),
    );
    let method = format!("median of {rounds} interleaved rounds of {secs} s");
    let rows = [
        (
            format!("requests/s, keep-alive, {CONNS} connections"),
            "req/s",
            Better::Higher,
            &rps[0],
        ),
        (
            "server CPU time per keep-alive request".to_owned(),
            "µs",
            Better::Lower,
            &cpu[0],
        ),
        (
            format!("requests/s, 100 µs of server CPU each, {CONNS} connections"),
            "req/s",
            Better::Higher,
            &rps[1],
        ),
        (
            "server CPU time per server-bound request".to_owned(),
            "µs",
            Better::Lower,
            &cpu[1],
        ),
    ];
    // The client's share is the context of the figures, not a cost of the server's.
    for (l, load) in LOADS.iter().enumerate() {
        let shares: Vec<String> = SERVERS
            .iter()
            .zip(&share[l])
            .filter_map(|(server, samples)| {
                let mut samples = samples.clone();
                crate::report::stats::median(&mut samples).map(|m| format!("{} {m:.1}%", server.1))
            })
            .collect();
        if !shares.is_empty() {
            section.notes.push(format!(
                "The client's share of the CPUs, {} (median): {}.",
                load.name,
                shares.join(", ")
            ));
        }
    }
    for (measured, unit, better, samples) in rows {
        t.rows.push(row(
            &measured,
            unit,
            method.clone(),
            better,
            samples.iter().cloned().map(median_cell).collect(),
        ));
    }
    section.tables.push(t);
    outcome
}

/// Serves with `server` in a child process, runs `load` against it for `secs`, and measures.
fn one_run(server: &str, load: &Load, secs: f64, cpus: usize) -> Result<Run, SectionError> {
    let mut cmd = children::self_command(&["loops-server", "--runtime", server])?;
    cmd.stdin(Stdio::piped());
    let mut child = children::spawn(cmd)?;
    let c = child.child();
    let mut to = c.stdin.take().expect("piped");
    let mut from = BufReader::new(c.stdout.take().expect("piped"));
    let addr: SocketAddr = loop {
        let line = read_line(&mut from)?;
        if let Some(addr) = line.strip_prefix("listening on ") {
            break addr
                .parse()
                .map_err(|e| SectionError::Failed(format!("{server}: {addr}: {e}")))?;
        }
    };
    let server_before = server_cpu(&mut to, &mut from)?;
    let (client_before, start) = (process_cpu(), Instant::now());
    let latencies = keep_alive(addr, CONNS, secs, load.path_of)
        .map_err(|e| SectionError::Failed(format!("{} on {server}: {e}", load.name)))?;
    let (wall, client) = (start.elapsed(), process_cpu() - client_before);
    let server_cpu_time = server_cpu(&mut to, &mut from)? - server_before;
    drop(to);
    child.finish(Duration::from_secs(30))?;
    let requests = latencies.len().max(1) as f64;
    Ok(Run {
        requests_per_sec: latencies.len() as f64 / wall.as_secs_f64(),
        server_cpu_us: server_cpu_time.as_secs_f64() * 1e6 / requests,
        client_share: client.as_secs_f64() / (wall.as_secs_f64() * cpus as f64) * 100.0,
    })
}

/// Asks the server child for its process's CPU time so far.
fn server_cpu(
    to: &mut ChildStdin,
    from: &mut BufReader<ChildStdout>,
) -> Result<Duration, SectionError> {
    writeln!(to)?;
    to.flush()?;
    loop {
        let line = read_line(from)?;
        if let Some(ns) = line.strip_prefix("cpu ") {
            let ns: u64 = ns
                .trim()
                .parse()
                .map_err(|_| SectionError::Failed(format!("the server child printed {line:?}")))?;
            return Ok(Duration::from_nanos(ns));
        }
    }
}

/// The next line of the child's output (without its newline).
fn read_line(from: &mut BufReader<ChildStdout>) -> Result<String, SectionError> {
    let mut line = String::new();
    if from.read_line(&mut line)? == 0 {
        return Err(SectionError::Failed(
            "the server child ended before it was asked to".into(),
        ));
    }
    Ok(line.trim_end().to_owned())
}

/// The child process of a run (`loops-server --runtime NAME`): serves HTTP/1.1 on a loopback
/// port with `runtime`, prints `listening on ADDR`, answers every line of stdin with `cpu NS`
/// (the process's CPU time so far), and exits when stdin closes.
///
/// # Errors
///
/// Never returns `Ok`; the server's error if it could not start.
pub fn server_child(runtime: &str) -> io::Result<String> {
    let name = runtime.to_owned();
    let server = std::thread::spawn(move || {
        serve(&name, "127.0.0.1:0", Protocol::H1).map_err(|e| e.to_string())
    });
    let stdin = io::stdin();
    let mut line = String::new();
    loop {
        line.clear();
        if stdin.lock().read_line(&mut line)? == 0 || server.is_finished() {
            break;
        }
        let mut out = io::stdout().lock();
        writeln!(out, "cpu {}", process_cpu().as_nanos())?;
        out.flush()?;
    }
    if server.is_finished() {
        let failed = server
            .join()
            .map_err(|_| io::Error::other("the server panicked"))?;
        return Err(io::Error::other(failed.err().unwrap_or_default()));
    }
    // The servers serve until the process ends.
    std::process::exit(0)
}

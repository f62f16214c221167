//! Section 8, the scale curve (`report --scale`): slide 11's "hundreds of thousands of
//! connections" measured as far as this machine allows. At each point a server child process
//! holds every connection on one thread (evloop, tokio `current_thread`, smol) or on a thread
//! per connection (default and 64 KiB stacks), client child processes (one evloop thread each,
//! as many as the descriptor limit needs) hold the other ends and send one 64-byte message per
//! connection per second, and the report reads the server's resident memory, the kernel's
//! memory, the accept rate, the round trips and the server's CPU time.

pub mod clients;
pub mod server;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::report::children::{self, spawn, ChildGuard};
use crate::report::error::SectionError;
use crate::report::format::{bytes, number};
use crate::report::limits::raise_fd_limit;
use crate::report::model::{Better, Cell, ColumnKind, Section};
use crate::report::plot::{self, Series};
use crate::report::sections::{column, row, table, Ctx};

/// Descriptors a process keeps for everything but connections.
const FD_MARGIN: u64 = 100;
/// Connections per listening port: loopback has about 28,000 source ports per destination
/// address and port, so a point above that needs more listening ports.
const CONNS_PER_PORT: usize = 10_000;
/// The points of the curve, before the descriptor limit cuts them.
const POINTS: [usize; 5] = [1_000, 10_000, 100_000, 250_000, 500_000];
/// The points of a `--quick` run.
const QUICK_POINTS: [usize; 2] = [200, 2_000];
/// How often each connection sends a message.
const PERIOD: Duration = Duration::from_secs(1);
/// The server kinds, in column order, and their column titles.
const KINDS: [(&str, &str); 5] = [
    ("evloop", "evloop"),
    ("tokio", "tokio"),
    ("smol", "smol"),
    ("threads", "thread per conn. (2 MiB stack)"),
    ("threads-small", "thread per conn. (64 KiB stack)"),
];
/// The share of the machine's available memory the thread servers may use at most, by the
/// previous point's cost per thread: far from what would bring in the OOM killer.
const THREAD_MEMORY_SHARE: f64 = 0.25;
/// The most threads a thread server starts, whatever the memory allows.
const THREAD_CAP: usize = 100_000;

/// What one point measured for one server kind.
#[derive(Clone, Debug, Default)]
struct Point {
    /// Connections asked for.
    wanted: usize,
    /// Connections held (each answered a round trip).
    held: usize,
    /// Server's resident bytes per held connection.
    resident_per_conn: f64,
    /// The kernel's memory per held connection (both sockets: slab and TCP buffers), where
    /// the system says (Linux).
    kernel_per_conn: Option<f64>,
    /// Accepts per second.
    accept_rate: f64,
    /// Round trips: count, p50 and p99 in µs.
    messages: u64,
    p50_us: f64,
    p99_us: f64,
    /// Server CPU during the traffic, as a share of one core.
    cpu_share: f64,
    /// Connections the thread servers closed at their cap, or because the OS refused a thread.
    over_cap: usize,
    os_refused: usize,
}

/// How a row reads its cell from a point's figures.
type Figure = dyn Fn(&Point) -> Option<Cell>;

/// A child process whose stdout is read line by line, with time limits.
struct LineChild {
    /// Kills the child (and its process group) when dropped.
    _guard: ChildGuard,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    what: String,
}

impl LineChild {
    /// Starts this binary with `args`.
    fn start(what: &str, args: &[&str]) -> Result<LineChild, SectionError> {
        let mut cmd = children::self_command(args)?;
        cmd.stdin(Stdio::piped());
        let mut guard = spawn(cmd)?;
        let child = guard.child();
        let stdin = child.stdin.take();
        let (stdout, mut err) = (
            child.stdout.take().expect("piped"),
            child.stderr.take().expect("piped"),
        );
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            *sink.lock().unwrap_or_else(|e| e.into_inner()) = text;
        });
        Ok(LineChild {
            _guard: guard,
            stdin,
            lines,
            stderr,
            what: what.to_owned(),
        })
    }

    /// The next line, within `limit`.
    fn line(&self, limit: Duration) -> Result<String, SectionError> {
        let deadline = Instant::now() + limit;
        loop {
            if children::interrupted() {
                return Err(SectionError::Interrupted);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SectionError::Failed(format!(
                    "{} printed nothing for {} s",
                    self.what,
                    limit.as_secs()
                )));
            }
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(line) => return Ok(line),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // Give the stderr reader a moment to collect what the child said.
                    std::thread::sleep(Duration::from_millis(100));
                    let err = self
                        .stderr
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone();
                    return Err(SectionError::Failed(format!(
                        "{} exited early; its stderr: {}",
                        self.what,
                        err.trim()
                    )));
                }
            }
        }
    }

    /// Writes `line` to its stdin.
    fn send(&mut self, line: &str) -> Result<(), SectionError> {
        let stdin = self.stdin.as_mut().expect("stdin is kept until drop");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|e| {
                std::thread::sleep(Duration::from_millis(100));
                let err = self
                    .stderr
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                let last: Vec<&str> = err
                    .lines()
                    .filter(|l| !l.starts_with(' '))
                    .take(3)
                    .collect();
                SectionError::Failed(format!(
                    "writing to {}: {e}; it said: {}",
                    self.what,
                    last.join(" / ")
                ))
            })
    }
}

/// What the server answered to `measure`.
#[derive(Clone, Copy, Debug)]
struct ServerFigures {
    rss: u64,
    cpu_ns: u64,
    accepted: usize,
    accept_span_ns: u64,
    over_cap: usize,
    os_refused: usize,
}

fn measure(server: &mut LineChild) -> Result<ServerFigures, SectionError> {
    server.send("measure")?;
    let line = server.line(Duration::from_secs(30))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() != 6 {
        return Err(SectionError::Failed(format!(
            "the scale server answered {line:?}"
        )));
    }
    Ok(ServerFigures {
        rss: v[0],
        cpu_ns: v[1],
        accepted: v[2] as usize,
        accept_span_ns: v[3],
        over_cap: v[4] as usize,
        os_refused: v[5] as usize,
    })
}

/// The kernel's memory that grows with sockets, in bytes: slab memory (socket, inode, file and
/// epoll structures) and the TCP buffers' pages (`/proc/net/sockstat`); `None` where the system
/// does not say (not Linux).
fn kernel_memory() -> Option<u64> {
    let slab = meminfo_kib("Slab:")? * 1024;
    let sockstat = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let tcp_pages: u64 = sockstat
        .lines()
        .find(|l| l.starts_with("TCP:"))?
        .split_whitespace()
        .skip_while(|w| *w != "mem")
        .nth(1)?
        .parse()
        .ok()?;
    let page = rustix::param::page_size() as u64;
    Some(slab + tcp_pages * page)
}

/// The figure of `key` (`"Slab:"`) in `/proc/meminfo`, in KiB, where the system has it.
fn meminfo_kib(key: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Bytes of memory the system can still give (`MemAvailable`), where it says.
fn available_memory() -> Option<u64> {
    Some(meminfo_kib("MemAvailable:")? * 1024)
}

/// Memory maps a Rust thread takes on Linux: its stack and the stack's guard page, its
/// signal stack and that stack's guard page.
const MAPS_PER_THREAD: usize = 4;

/// The most threads a thread server may start, and what set that cap: the process's memory
/// maps (Linux's `vm.max_map_count`: past it, a new thread cannot map its signal stack and the
/// process aborts), a share of the available memory at the last point's cost per thread, and a
/// fixed ceiling; whichever is lowest, with nine tenths of the first as a margin.
fn thread_cap(available: Option<u64>, last: Option<&Point>) -> (usize, String) {
    let mut cap = (
        THREAD_CAP,
        format!("the fixed ceiling of {}", number(THREAD_CAP as f64)),
    );
    let max_maps = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok());
    if let Some(maps) = max_maps {
        let by_maps = maps * 9 / 10 / MAPS_PER_THREAD;
        if by_maps < cap.0 {
            cap = (
                by_maps,
                format!(
                    "the memory-map limit (`vm.max_map_count` = {}; a thread takes {MAPS_PER_THREAD}: \
                     its stack, a guard page, a signal stack and its guard page; past the limit a \
                     new thread cannot map its signal stack and the whole server aborts)",
                    number(maps as f64)
                ),
            );
        }
    }
    if let (Some(avail), Some(last)) = (available, last) {
        let cost = last.resident_per_conn + last.kernel_per_conn.unwrap_or(0.0);
        let by_memory = (avail as f64 * THREAD_MEMORY_SHARE / cost.max(1.0)) as usize;
        if by_memory < cap.0 {
            cap = (
                by_memory,
                format!(
                    "{:.0}% of the available memory at the last point's cost per thread",
                    THREAD_MEMORY_SHARE * 100.0
                ),
            );
        }
    }
    cap
}

/// Measures one point: `wanted` connections to a `kind` server, clients holding at most
/// `per_client` connections each, `seconds` of traffic.
fn run_point(
    kind: &str,
    wanted: usize,
    per_client: usize,
    seconds: f64,
    max_threads: usize,
) -> Result<Point, SectionError> {
    let ports = wanted.div_ceil(CONNS_PER_PORT).max(1);
    let (ports_arg, cap_arg) = (ports.to_string(), max_threads.to_string());
    let mut server = LineChild::start(
        &format!("the {kind} scale server"),
        &[
            "scale-server",
            "--kind",
            kind,
            "--ports",
            &ports_arg,
            "--max-threads",
            &cap_arg,
        ],
    )?;
    let line = server.line(Duration::from_secs(30))?;
    let addrs: Vec<String> = line
        .split_whitespace()
        .skip(1)
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    if addrs.is_empty() {
        return Err(SectionError::Failed(format!(
            "the scale server printed {line:?}"
        )));
    }
    let kernel_before = kernel_memory();
    let before = measure(&mut server)?;
    let addrs_arg = addrs.join(",");
    let secs_arg = seconds.to_string();
    let period_arg = PERIOD.as_millis().to_string();
    let mut clients = Vec::new();
    let mut left = wanted;
    while left > 0 {
        let share = left.min(per_client);
        left -= share;
        let share_arg = share.to_string();
        clients.push(LineChild::start(
            "a scale client",
            &[
                "scale-clients",
                "--addrs",
                &addrs_arg,
                "--conns",
                &share_arg,
                "--period-ms",
                &period_arg,
                "--seconds",
                &secs_arg,
            ],
        )?);
    }
    // Connecting takes up to a few seconds per ten thousand connections.
    let connect_limit = Duration::from_secs(60 + (wanted / 1_000) as u64);
    let mut held = 0;
    for c in &clients {
        let line = c.line(connect_limit)?;
        held += line
            .strip_prefix("held ")
            .and_then(|n| n.trim().parse::<usize>().ok())
            .ok_or_else(|| SectionError::Failed(format!("a scale client printed {line:?}")))?;
    }
    let connected = measure(&mut server)?;
    let kernel_after = kernel_memory();
    let mut messages = 0;
    let mut pooled = Vec::new();
    for c in &clients {
        let line = c.line(Duration::from_secs_f64(seconds + 60.0))?;
        let mut words = line.split_whitespace();
        if words.next() != Some("done") {
            return Err(SectionError::Failed(format!(
                "a scale client printed {line:?}"
            )));
        }
        let n: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
        messages += n;
        // Each quantile stands for an equal share of that client's round trips.
        let qs: Vec<f64> = words.filter_map(|w| w.parse().ok()).collect();
        let weight = n as f64 / qs.len().max(1) as f64;
        pooled.extend(qs.into_iter().map(|q| (q, weight)));
    }
    let after = measure(&mut server)?;
    drop(clients);
    drop(server);
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = pooled.iter().map(|p| p.1).sum();
    let at = |q: f64| -> f64 {
        let mut seen = 0.0;
        for &(v, w) in &pooled {
            seen += w;
            if seen >= q * total {
                return v;
            }
        }
        pooled.last().map_or(0.0, |p| p.0)
    };
    let per = |bytes: f64| bytes / held.max(1) as f64;
    Ok(Point {
        wanted,
        held,
        resident_per_conn: per(connected.rss.saturating_sub(before.rss) as f64),
        kernel_per_conn: kernel_before
            .zip(kernel_after)
            .map(|(b, a)| per(a.saturating_sub(b) as f64)),
        accept_rate: if connected.accept_span_ns > 0 {
            connected.accepted.saturating_sub(1) as f64 / (connected.accept_span_ns as f64 / 1e9)
        } else {
            0.0
        },
        messages,
        p50_us: at(0.5),
        p99_us: at(0.99),
        cpu_share: after.cpu_ns.saturating_sub(connected.cpu_ns) as f64 / 1e9 / seconds,
        over_cap: after.over_cap,
        os_refused: after.os_refused,
    })
}

/// The points this machine allows: those below the descriptor limit, and the limit itself
/// when it cuts the curve.
fn points(quick: bool, max_conns: usize) -> Vec<usize> {
    let wanted: &[usize] = if quick { &QUICK_POINTS } else { &POINTS };
    let mut points: Vec<usize> = wanted.iter().copied().filter(|&p| p <= max_conns).collect();
    if wanted.iter().any(|&p| p > max_conns) && !points.contains(&max_conns) {
        points.push(max_conns);
    }
    points
}

/// The section's estimate of its own duration and peak memory, printed before it starts.
pub fn estimate(quick: bool) -> String {
    let limit = raise_fd_limit();
    let max_conns = limit.saturating_sub(FD_MARGIN) as usize;
    let points = points(quick, max_conns);
    let seconds = if quick { 1.0 } else { 3.0 };
    let conns: usize = points.iter().sum();
    // About 1 s of setup per point and kind, plus connecting at ~15,000 a second.
    let duration = KINDS.len() as f64 * (points.len() as f64 * (1.0 + seconds))
        + KINDS.len() as f64 * conns as f64 / 15_000.0;
    let largest = points.last().copied().unwrap_or(0);
    // A thread server's peak: about 40 KiB per connection with the kernel's share.
    let memory = largest as f64 * 40.0 * 1024.0;
    format!(
        "the scale curve: points {} connections, about {:.0} s and up to about {} MiB of \
         memory",
        points
            .iter()
            .map(|p| number(*p as f64))
            .collect::<Vec<_>>()
            .join(", "),
        duration,
        (memory / (1 << 20) as f64).ceil()
    )
}

/// Runs the section (the report runs it only with `--scale`).
///
/// # Errors
///
/// Interrupted, or a child that failed.
pub fn run(ctx: &mut Ctx<'_>, section: &mut Section) -> Result<(), SectionError> {
    let quick = ctx.sizes.quick;
    let limit = raise_fd_limit();
    let max_conns = limit.saturating_sub(FD_MARGIN) as usize;
    let per_client = max_conns;
    let points = points(quick, max_conns);
    let seconds = if quick { 1.0 } else { 3.0 };
    eprintln!("evloop-bench report: {}", estimate(quick));
    let cut = (if quick {
        &QUICK_POINTS[..]
    } else {
        &POINTS[..]
    })
    .iter()
    .any(|&p| p > max_conns);
    section.notes.push(format!(
        "Loopback TCP. At each point a server child process holds every connection (evloop, \
         tokio `current_thread` and smol: a task per connection on one thread; or a thread \
         per connection), and client child processes (one evloop thread each, at most {} \
         connections each) hold the other ends; every connection sends one {}-byte message a \
         second, its phase spread over the second, for {seconds} s after all are open. \
         Figures per point: the server's resident memory growth per connection, the kernel's \
         memory growth per connection (slab and TCP buffers from `/proc/meminfo` and \
         `/proc/net/sockstat`: both ends' sockets, since both live on this machine), the \
         server's accept rate, the round trips' p50 and p99, and the server process's CPU \
         time during the traffic as a share of one core.",
        number(per_client as f64),
        crate::workloads::echo::MSG_LEN
    ));
    if cut {
        section.notes.push(format!(
            "The curve stops at {} connections: the server needs one descriptor per \
             connection, and this machine's hard descriptor limit (`RLIMIT_NOFILE`) is {} \
             (`ulimit -Hn`; raising it needs root). The clients run in other processes, each \
             with its own limit, and the connections spread over one listening port per {} \
             (loopback has about 28,000 source ports per destination), so nothing else stops \
             the curve first here; the code goes on to {} where a machine allows.",
            number(max_conns as f64),
            number(limit as f64),
            number(CONNS_PER_PORT as f64),
            number(POINTS[POINTS.len() - 1] as f64)
        ));
    }
    ctx.progress.plan((points.len() * KINDS.len()) as u64);
    let mut results: Vec<Vec<Point>> = vec![Vec::new(); KINDS.len()];
    let mut stopped: Vec<Option<String>> = vec![None; KINDS.len()];
    let available = available_memory();
    let outcome = (|| -> Result<(), SectionError> {
        for &p in &points {
            for (k, (kind, name)) in KINDS.iter().enumerate() {
                ctx.step(&format!("{name}: {} connections", number(p as f64)))?;
                if stopped[k].is_some() {
                    continue;
                }
                let threads = kind.starts_with("threads");
                let (cap, why_cap) = if threads {
                    thread_cap(available, results[k].last())
                } else {
                    (usize::MAX, String::new())
                };
                let point = run_point(kind, p, per_client, seconds, cap)?;
                if point.held < p * 9 / 10 {
                    let why = if point.over_cap > 0 {
                        format!(
                            "{} connections were closed at the cap of {} threads, set by {why_cap}",
                            number(point.over_cap as f64),
                            number(cap as f64)
                        )
                    } else if point.os_refused > 0 {
                        format!("the OS refused {} threads", number(point.os_refused as f64))
                    } else {
                        "the other connections failed".to_owned()
                    };
                    stopped[k] = Some(format!(
                        "stopped at {} connections: held {}; {why}",
                        number(p as f64),
                        number(point.held as f64)
                    ));
                }
                results[k].push(point);
            }
        }
        Ok(())
    })();
    let mut t = table(
        "The scale curve (one run per point; per connection unless said):",
        KINDS
            .iter()
            .map(|(_, n)| column(n, ColumnKind::Plain))
            .collect(),
    );
    let cell_at = |k: usize, p: usize, f: &Figure| -> Cell {
        results[k]
            .iter()
            .find(|x| x.wanted == p)
            .and_then(f)
            .unwrap_or_else(|| {
                Cell::missing(if stopped[k].is_some() {
                    "stopped"
                } else {
                    "not run"
                })
            })
    };
    for &p in &points {
        let at = number(p as f64);
        let rows: [(String, &str, &Figure); 6] = [
            (format!("{at}: connections held"), "connections", &|x| {
                Some(Cell::value(x.held as f64, 1))
            }),
            (
                format!("{at}: server resident memory per connection"),
                "B",
                &|x| Some(Cell::value(x.resident_per_conn, 1)),
            ),
            (
                format!("{at}: kernel memory per connection (both sockets)"),
                "B",
                &|x| {
                    Some(x.kernel_per_conn.map_or_else(
                        || Cell::missing("not measurable here (Linux's /proc only)"),
                        |v| Cell::value(v, 1),
                    ))
                },
            ),
            (format!("{at}: accept rate"), "conn/s", &|x| {
                Some(Cell::value(x.accept_rate, 1))
            }),
            (format!("{at}: echo round trip p50 (p99)"), "µs", &|x| {
                Some(Cell {
                    value: Some(x.p50_us),
                    samples: x.messages,
                    note: Some(format!("p99 {}", number(x.p99_us))),
                    ratio_to_best: None,
                })
            }),
            (format!("{at}: server CPU, share of one core"), "%", &|x| {
                Some(Cell::value(x.cpu_share * 100.0, 1))
            }),
        ];
        for (measured, unit, f) in rows {
            t.rows.push(row(
                &measured,
                unit,
                "one run".into(),
                Better::Neither,
                (0..KINDS.len()).map(|k| cell_at(k, p, f)).collect(),
            ));
        }
    }
    section.tables.push(t);
    for (k, why) in stopped.iter().enumerate() {
        if let Some(why) = why {
            section.notes.push(format!("{}: {why}.", KINDS[k].1));
        }
    }
    // The projection: how many connections this machine's memory would hold.
    if let (Some(avail), Some(last)) = (available, results[0].last()) {
        let cost = last.resident_per_conn + last.kernel_per_conn.unwrap_or(0.0) / 2.0;
        if cost > 0.0 {
            let by_memory = avail as f64 / cost;
            section.notes.push(format!(
                "Projection: at the largest point evloop's server paid {} of its own memory \
                 and about {} of the kernel's (half of the two sockets' {}) per connection, \
                 {} in all; the {:.1} GiB this machine has available (`MemAvailable`) would \
                 hold about {} connections at that cost. The limits, in the order this \
                 machine meets them: the descriptor limit ({} per process, hard), loopback's \
                 source ports (about 28,000 per destination; lifted here by a listening port \
                 per {} connections), then memory.",
                bytes(last.resident_per_conn),
                bytes(last.kernel_per_conn.unwrap_or(0.0) / 2.0),
                bytes(last.kernel_per_conn.unwrap_or(0.0)),
                bytes(cost),
                avail as f64 / (1u64 << 30) as f64,
                number(by_memory.floor()),
                number(limit as f64),
                number(CONNS_PER_PORT as f64),
            ));
        }
    }
    let series = |f: &dyn Fn(&Point) -> f64| -> Vec<Series> {
        KINDS
            .iter()
            .enumerate()
            .filter(|(k, _)| !results[*k].is_empty())
            .map(|(k, (_, name))| Series {
                name: (*name).to_owned(),
                points: results[k].iter().map(|x| (x.held as f64, f(x))).collect(),
            })
            .collect()
    };
    let memory = series(&|x| x.resident_per_conn + x.kernel_per_conn.unwrap_or(0.0) / 2.0);
    let p99 = series(&|x| x.p99_us);
    outcome?;
    ctx.plot(
        section,
        "scale-memory.svg",
        "memory per connection (server's own and half of the kernel's) against connections, log axes",
        |path| {
            plot::lines_log_log(
                path,
                "Memory per connection",
                "connections held (log)",
                "bytes per connection (log)",
                &memory,
            )
        },
    )?;
    ctx.plot(
        section,
        "scale-p99.svg",
        "echo round trip p99 against connections, log axes",
        |path| {
            plot::lines_log_log(
                path,
                "Echo round trip p99",
                "connections held (log)",
                "p99 round trip, µs (log)",
                &p99,
            )
        },
    )
}

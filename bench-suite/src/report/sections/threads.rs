//! Section 4, event loop versus threads: the slide's table with measured numbers. A loopback
//! TCP echo server holds many connections on one evloop thread, then with a thread per
//! connection; the clients run in a child process (one evloop thread), so each side has its
//! own file-descriptor budget.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

use crate::report::children::{self, spawn};
use crate::report::error::SectionError;
use crate::report::format::number;
use crate::report::model::{Better, Cell, ColumnKind, Section};
use crate::report::sections::{column, row, table, Ctx};
use crate::report::stats::quantile;
use crate::workloads::echo::MSG_LEN;
use crate::workloads::wake::Bell;

/// First byte of a message that makes the server handler block before echoing it.
const TRIGGER: u8 = 0xFF;
/// How long the handler blocks on a trigger: one blocking call.
const BLOCKING_CALL: Duration = Duration::from_millis(100);
/// Connections of the blocking-call runs: few enough that a normal round trip is short, so
/// that the blocking call stands out from queueing.
const BLOCK_CONNS: usize = 100;
/// File descriptors kept for everything but the connections.
const FD_MARGIN: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    let lim = getrlimit(Resource::Nofile);
    if let Some(max) = lim.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(max),
                maximum: Some(max),
            },
        );
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// A loopback listener with a backlog of 4,096 (std's `bind` asks for 128): a burst of
/// thousands of connects must not overflow the accept queue, or the kernel drops SYNs and the
/// client retries a second later.
fn listener() -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// What the client child measured.
#[derive(Debug, Default)]
struct ClientFigures {
    /// Connections that completed a first round trip.
    held: usize,
    /// Round trips completed in the timed phase.
    messages: u64,
    /// Length of the timed phase, in seconds.
    seconds: f64,
    /// Round-trip times in µs (all connections but the one that sends the trigger): p50, p99,
    /// max.
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
}

/// The client child: opens `conns` connections to `addr`, checks each with one round trip,
/// then makes round trips on all of them for `seconds`; connection 0 sends the blocking
/// trigger `block_at_ms` into the run. Prints `held messages seconds p50 p99 max`.
///
/// # Errors
///
/// The error of connecting (the first one only: later failures count as connections not
/// held).
pub fn clients_child(
    addr: &str,
    conns: usize,
    seconds: f64,
    block_at_ms: Option<u64>,
) -> io::Result<String> {
    raise_fd_limit();
    let addr: std::net::SocketAddr = addr
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
    evloop::Builder::new()
        .slow_poll_reports(false)
        .build()?
        .block_on(async move {
            let mut streams = Vec::with_capacity(conns);
            for _ in 0..conns {
                match evloop::net::TcpStream::connect(addr).await {
                    Ok(s) => {
                        s.set_nodelay(true)?;
                        streams.push(s);
                    }
                    Err(e) if streams.is_empty() => return Err(e),
                    Err(_) => break,
                }
            }
            // One round trip on each, all at once: the connections the server really holds.
            let checks: Vec<_> = streams
                .into_iter()
                .map(|mut s| {
                    evloop::spawn(async move {
                        let mut buf = [1u8; MSG_LEN];
                        s.write_all(&buf).await.ok()?;
                        evloop::timeout(Duration::from_secs(30), s.read_exact(&mut buf))
                            .await
                            .ok()?
                            .ok()?;
                        Some(s)
                    })
                })
                .collect();
            let mut held = Vec::new();
            for c in checks {
                if let Ok(Some(s)) = c.await {
                    held.push(s);
                }
            }
            let figures = Rc::new(RefCell::new((0u64, Vec::new())));
            let start = Instant::now();
            let end = start + Duration::from_secs_f64(seconds);
            let n_held = held.len();
            let tasks: Vec<_> = held
                .into_iter()
                .enumerate()
                .map(|(i, mut s)| {
                    let figures = figures.clone();
                    evloop::spawn(async move {
                        let mut trigger = (i == 0)
                            .then_some(block_at_ms)
                            .flatten()
                            .map(|ms| start + Duration::from_millis(ms));
                        let mut buf = [2u8; MSG_LEN];
                        while Instant::now() < end {
                            let t = Instant::now();
                            buf[0] = if trigger.is_some_and(|at| t >= at) {
                                trigger = None;
                                TRIGGER
                            } else {
                                2
                            };
                            if s.write_all(&buf).await.is_err()
                                || s.read_exact(&mut buf).await.is_err()
                            {
                                break;
                            }
                            let mut f = figures.borrow_mut();
                            f.0 += 1;
                            if i != 0 || block_at_ms.is_none() {
                                f.1.push(t.elapsed().as_secs_f64() * 1e6);
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                let _ = t.await;
            }
            let elapsed = start.elapsed().as_secs_f64();
            let (messages, mut lat) = std::mem::take(&mut *figures.borrow_mut());
            let q = |lat: &mut Vec<f64>, q| quantile(lat, q).unwrap_or(0.0);
            Ok(format!(
                "{n_held} {messages} {elapsed} {} {} {}\n",
                q(&mut lat, 0.5),
                q(&mut lat, 0.99),
                q(&mut lat, 1.0)
            ))
        })
}

/// A server being measured, stopped when dropped.
trait Server {
    /// Where it listens.
    fn addr(&self) -> std::net::SocketAddr;
    /// Connections it dropped because it could not serve them.
    fn refused(&self) -> usize {
        0
    }
}

/// The evloop server: one loop thread, a task per connection.
struct LoopServer {
    addr: std::net::SocketAddr,
    stop: Bell,
    thread: Option<thread::JoinHandle<()>>,
}

impl LoopServer {
    fn start() -> io::Result<LoopServer> {
        let listener = listener()?;
        let addr = listener.local_addr()?;
        let stop = Bell::default();
        let bell = stop.clone();
        let thread = thread::Builder::new()
            .name("evloop-server".into())
            .spawn(move || {
                let rt = evloop::Builder::new()
                    .slow_poll_reports(false)
                    .build()
                    .expect("build the server loop");
                rt.block_on(async move {
                    let listener = evloop::net::TcpListener::from_std(listener)
                        .expect("register the listener");
                    let serve = async {
                        while let Ok((mut s, _)) = listener.accept().await {
                            let _ = s.set_nodelay(true);
                            drop(evloop::spawn(async move {
                                let mut buf = [0u8; MSG_LEN];
                                while s.read_exact(&mut buf).await.is_ok() {
                                    if buf[0] == TRIGGER {
                                        // The blocking call, on the loop thread on purpose.
                                        thread::sleep(BLOCKING_CALL);
                                    }
                                    if s.write_all(&buf).await.is_err() {
                                        break;
                                    }
                                }
                            }));
                        }
                    };
                    futures_lite::future::or(serve, bell.wait()).await;
                });
            })?;
        Ok(LoopServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl Server for LoopServer {
    fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

impl Drop for LoopServer {
    fn drop(&mut self) {
        self.stop.ring();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The thread-per-connection server: an accepting thread, and a thread per connection with
/// blocking reads and writes.
struct ThreadServer {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    /// Connections dropped because no thread could be started.
    refused: Arc<AtomicUsize>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl ThreadServer {
    fn start() -> io::Result<ThreadServer> {
        let listener = listener()?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicUsize::new(0));
        let (s, rf) = (stop.clone(), refused.clone());
        let acceptor = thread::Builder::new()
            .name("accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if s.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let _ = stream.set_nodelay(true);
                    let spawned = thread::Builder::new().spawn(move || {
                        let mut buf = [0u8; MSG_LEN];
                        while stream.read_exact(&mut buf).is_ok() {
                            if buf[0] == TRIGGER {
                                thread::sleep(BLOCKING_CALL);
                            }
                            if stream.write_all(&buf).is_err() {
                                break;
                            }
                        }
                    });
                    if spawned.is_err() {
                        rf.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })?;
        Ok(ThreadServer {
            addr,
            stop,
            refused,
            acceptor: Some(acceptor),
        })
    }
}

impl Server for ThreadServer {
    fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread with one last connection.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn clients(
    server: &dyn Server,
    conns: usize,
    seconds: f64,
    block_at_ms: Option<u64>,
) -> Result<ClientFigures, SectionError> {
    let (addr, conns_arg, secs_arg) = (
        server.addr().to_string(),
        conns.to_string(),
        seconds.to_string(),
    );
    let block_arg = block_at_ms.map(|b| b.to_string());
    let mut args = vec![
        "echo-clients",
        "--addr",
        &addr,
        "--conns",
        &conns_arg,
        "--seconds",
        &secs_arg,
    ];
    if let Some(b) = &block_arg {
        args.extend(["--block-at-ms", b]);
    }
    let out =
        spawn(children::self_command(&args)?)?.finish(Duration::from_secs_f64(seconds + 120.0))?;
    let f: Vec<f64> = out
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if f.len() != 6 {
        return Err(SectionError::Failed(format!(
            "echo clients printed {out:?}"
        )));
    }
    Ok(ClientFigures {
        held: f[0] as usize,
        messages: f[1] as u64,
        seconds: f[2],
        p50_us: f[3],
        p99_us: f[4],
        max_us: f[5],
    })
}

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
            mine.push(clients(&*server, conns, seconds, None)?);
            ctx.step(&format!("{kind}: {block_conns} connections"))?;
            mine.push(clients(&*server, block_conns, block_secs, None)?);
            ctx.step(&format!("{kind}: one blocking call"))?;
            mine.push(clients(&*server, block_conns, block_secs, block_at)?);
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

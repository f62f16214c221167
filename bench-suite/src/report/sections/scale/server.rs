//! The server side of the scale curve: a child process (`evloop-bench scale-server`) holding
//! every connection of one point on one runtime's thread (evloop, tokio `current_thread`,
//! smol) or on a thread per connection, echoing 64-byte messages. It answers `measure` lines
//! on stdin with its resident memory, CPU time and accept figures, and exits when stdin closes.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crate::report::limits::raise_fd_limit;
use crate::report::sections::threads::servers::listener;
use crate::workloads::cpu::process_cpu;
use crate::workloads::echo::MSG_LEN;
use crate::workloads::memory::usage;

/// The stack of the small-stack thread server.
pub const SMALL_STACK: usize = 64 * 1024;

/// What the server has seen so far, shared by its accepting code and its `measure` answers.
#[derive(Debug, Default)]
struct Counters {
    /// Connections accepted and served.
    accepted: AtomicUsize,
    /// Nanoseconds from the server's start to its first and its latest accept.
    first_accept_ns: AtomicU64,
    last_accept_ns: AtomicU64,
    /// Connections closed at once because the thread cap was reached.
    over_cap: AtomicUsize,
    /// Connections closed at once because the OS refused a thread.
    os_refused: AtomicUsize,
}

impl Counters {
    /// Counts an accept at `now`.
    fn accepted(&self, start: Instant) {
        let ns = start.elapsed().as_nanos() as u64;
        if self.accepted.fetch_add(1, Ordering::Relaxed) == 0 {
            self.first_accept_ns.store(ns, Ordering::Relaxed);
        }
        self.last_accept_ns.store(ns, Ordering::Relaxed);
    }
}

/// The child: binds `ports` listeners, prints `ports P1 P2 ...`, serves on `kind` (`evloop`,
/// `tokio`, `smol`, `threads` or `threads-small`, the latter two with at most `max_threads`
/// connection threads) and answers every `measure` line on stdin with `rss cpu_ns accepted
/// accept_span_ns over_cap os_refused`; returns when stdin closes.
///
/// # Errors
///
/// An unknown kind, or the error of binding, of starting the server thread or of stdio.
pub fn server_child(kind: &str, ports: usize, max_threads: usize) -> io::Result<()> {
    raise_fd_limit();
    let listeners = (0..ports.max(1))
        .map(|_| listener())
        .collect::<io::Result<Vec<_>>>()?;
    let mut line = String::from("ports");
    for l in &listeners {
        line += &format!(" {}", l.local_addr()?.port());
    }
    let counters = Arc::new(Counters::default());
    let start = Instant::now();
    match kind {
        "evloop" | "tokio" | "smol" => {
            let (kind, counters) = (kind.to_owned(), counters.clone());
            thread::Builder::new()
                .name(format!("{kind}-server"))
                .spawn(move || serve_on_loop(&kind, listeners, &counters, start))?;
        }
        "threads" | "threads-small" => {
            let stack = (kind == "threads-small").then_some(SMALL_STACK);
            for listener in listeners {
                let counters = counters.clone();
                thread::Builder::new()
                    .name("accept".into())
                    .spawn(move || {
                        accept_threads(listener, stack, max_threads, &counters, start)
                    })?;
            }
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown server kind {other}"),
            ))
        }
    }
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    for command in io::stdin().lock().lines() {
        if command?.trim() != "measure" {
            continue;
        }
        let c = &counters;
        let span = c
            .last_accept_ns
            .load(Ordering::Relaxed)
            .saturating_sub(c.first_accept_ns.load(Ordering::Relaxed));
        writeln!(
            out,
            "{} {} {} {span} {} {}",
            usage()?.resident,
            process_cpu().as_nanos(),
            c.accepted.load(Ordering::Relaxed),
            c.over_cap.load(Ordering::Relaxed),
            c.os_refused.load(Ordering::Relaxed),
        )?;
        out.flush()?;
    }
    Ok(())
}

/// Echoes messages on a loop runtime, a task per connection, until the process exits.
fn serve_on_loop(
    kind: &str,
    listeners: Vec<TcpListener>,
    counters: &Arc<Counters>,
    start: Instant,
) {
    match kind {
        "evloop" => {
            let rt = evloop::Builder::new()
                .slow_poll_reports(false)
                .build()
                .expect("build the server loop");
            rt.block_on(async {
                use futures_lite::{AsyncReadExt, AsyncWriteExt};
                let accepts: Vec<_> = listeners
                    .into_iter()
                    .map(|l| {
                        let counters = counters.clone();
                        evloop::spawn(async move {
                            let l = evloop::net::TcpListener::from_std(l).expect("register");
                            while let Ok((mut s, _)) = l.accept().await {
                                counters.accepted(start);
                                let _ = s.set_nodelay(true);
                                drop(evloop::spawn(async move {
                                    let mut buf = [0u8; MSG_LEN];
                                    while s.read_exact(&mut buf).await.is_ok()
                                        && s.write_all(&buf).await.is_ok()
                                    {
                                    }
                                }));
                            }
                        })
                    })
                    .collect();
                for a in accepts {
                    let _ = a.await;
                }
            });
        }
        "tokio" => {
            let rt = crate::workloads::peers::tokio_current_thread();
            rt.block_on(async {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let accepts: Vec<_> = listeners
                    .into_iter()
                    .map(|l| {
                        let counters = counters.clone();
                        tokio::spawn(async move {
                            l.set_nonblocking(true).expect("non-blocking listener");
                            let l = tokio::net::TcpListener::from_std(l).expect("register");
                            while let Ok((mut s, _)) = l.accept().await {
                                counters.accepted(start);
                                let _ = s.set_nodelay(true);
                                tokio::spawn(async move {
                                    let mut buf = [0u8; MSG_LEN];
                                    while s.read_exact(&mut buf).await.is_ok()
                                        && s.write_all(&buf).await.is_ok()
                                    {
                                    }
                                });
                            }
                        })
                    })
                    .collect();
                for a in accepts {
                    let _ = a.await;
                }
            });
        }
        _ => {
            use futures_lite::{AsyncReadExt, AsyncWriteExt};
            // Connection tasks are spawned from the accepting tasks, so the executor must
            // outlive every task: it lives as long as this child process, which serves until
            // it exits.
            let ex: &'static async_executor::LocalExecutor<'static> =
                Box::leak(Box::new(async_executor::LocalExecutor::new()));
            async_io::block_on(ex.run(async {
                let accepts: Vec<_> = listeners
                    .into_iter()
                    .map(|l| {
                        let counters = counters.clone();
                        ex.spawn(async move {
                            let l = async_net::TcpListener::try_from(l).expect("register");
                            while let Ok((mut s, _)) = l.accept().await {
                                counters.accepted(start);
                                let _ = s.set_nodelay(true);
                                ex.spawn(async move {
                                    let mut buf = [0u8; MSG_LEN];
                                    while s.read_exact(&mut buf).await.is_ok()
                                        && s.write_all(&buf).await.is_ok()
                                    {
                                    }
                                })
                                .detach();
                            }
                        })
                    })
                    .collect();
                for a in accepts {
                    a.await;
                }
            }));
        }
    }
}

/// Accepts on `listener` and starts a thread per connection (with `stack` bytes of stack, or
/// Rust's default), at most `max_threads` in all; beyond the cap, or when the OS refuses a
/// thread, the connection is closed and counted.
fn accept_threads(
    listener: TcpListener,
    stack: Option<usize>,
    max_threads: usize,
    counters: &Arc<Counters>,
    start: Instant,
) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if counters.accepted.load(Ordering::Relaxed) >= max_threads {
            counters.over_cap.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let mut builder = thread::Builder::new();
        if let Some(stack) = stack {
            builder = builder.stack_size(stack);
        }
        let spawned = builder.spawn(move || {
            let mut buf = [0u8; MSG_LEN];
            while stream.read_exact(&mut buf).is_ok() && stream.write_all(&buf).is_ok() {}
        });
        match spawned {
            Ok(_) => counters.accepted(start),
            Err(_) => {
                counters.os_refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

//! The echo clients: a child process on one evloop thread, driving the server being measured.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::report::children::{self, spawn};
use crate::report::error::SectionError;
use crate::report::limits::raise_fd_limit;
use crate::report::sections::threads::servers::{Server, TRIGGER};
use crate::report::stats::quantile;
use crate::workloads::echo::MSG_LEN;

/// What the client child measured.
#[derive(Debug, Default)]
pub struct ClientFigures {
    /// Connections that completed a first round trip.
    pub held: usize,
    /// Round trips completed in the timed phase.
    pub messages: u64,
    /// Length of the timed phase, in seconds.
    pub seconds: f64,
    /// Median round trip, in µs, over every connection but the one that sends the trigger.
    pub p50_us: f64,
    /// 99th percentile round trip, in µs, over the same connections.
    pub p99_us: f64,
    /// Worst round trip, in µs, over the same connections.
    pub max_us: f64,
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
            let held = open_checked(&[addr], conns).await?;
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

/// Opens `conns` connections, spread over `addrs` in turn, then makes one round trip on each,
/// all at once, and returns the connections that answered: those the server really holds.
///
/// # Errors
///
/// The error of the first connect (later failures count as connections not held).
pub async fn open_checked(
    addrs: &[std::net::SocketAddr],
    conns: usize,
) -> io::Result<Vec<evloop::net::TcpStream>> {
    let mut streams = Vec::with_capacity(conns);
    for i in 0..conns {
        match evloop::net::TcpStream::connect(addrs[i % addrs.len()]).await {
            Ok(s) => {
                s.set_nodelay(true)?;
                streams.push(s);
            }
            Err(e) if streams.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    let checks: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            evloop::spawn(async move {
                let mut buf = [1u8; MSG_LEN];
                s.write_all(&buf).await.ok()?;
                evloop::timeout(Duration::from_secs(60), s.read_exact(&mut buf))
                    .await
                    .ok()?
                    .ok()?;
                Some(s)
            })
        })
        .collect();
    let mut held = Vec::with_capacity(checks.len());
    for c in checks {
        if let Ok(Some(s)) = c.await {
            held.push(s);
        }
    }
    Ok(held)
}

/// Runs the client child against `server` and reads its figures.
///
/// # Errors
///
/// Interrupted, or a child that failed or printed something else than its figures.
pub fn run_clients(
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

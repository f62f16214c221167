//! The client side of the scale curve: a child process (`evloop-bench scale-clients`) that
//! opens its share of a point's connections on one evloop thread, checks each with a round
//! trip, prints `held H`, then sends one 64-byte message per connection every period (the
//! connections' phases spread evenly) for a few seconds, timing each round trip, and prints
//! `done MESSAGES` and the round trips' quantiles.

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::report::limits::raise_fd_limit;
use crate::report::sections::threads::clients::open_checked;
use crate::report::stats::quantile;
use crate::workloads::echo::MSG_LEN;

/// How many quantiles of its round trips a client child prints: the parent pools them.
pub const QUANTILES: usize = 200;

/// The child: `conns` connections spread over `addrs` in turn, then `seconds` of one message
/// per connection every `period`.
///
/// # Errors
///
/// The error of the first connect (later failures count as connections not held), or of
/// stdout.
pub fn clients_child(
    addrs: &[SocketAddr],
    conns: usize,
    period: Duration,
    seconds: f64,
) -> io::Result<()> {
    raise_fd_limit();
    let rt = evloop::Builder::new().slow_poll_reports(false).build()?;
    rt.block_on(async move {
        let held = open_checked(addrs, conns).await?;
        let mut out = io::stdout().lock();
        writeln!(out, "held {}", held.len())?;
        out.flush()?;
        drop(out);
        let n = held.len().max(1);
        let round_trips = Rc::new(RefCell::new(Vec::new()));
        let start = Instant::now();
        let end = start + Duration::from_secs_f64(seconds);
        let tasks: Vec<_> = held
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                let round_trips = round_trips.clone();
                evloop::spawn(async move {
                    // Phases spread over the period, so the load is even.
                    let mut next = start + period.mul_f64(i as f64 / n as f64);
                    let mut buf = [2u8; MSG_LEN];
                    while next < end {
                        evloop::sleep_until(next).await;
                        let t = Instant::now();
                        if s.write_all(&buf).await.is_err() || s.read_exact(&mut buf).await.is_err()
                        {
                            break;
                        }
                        round_trips
                            .borrow_mut()
                            .push(t.elapsed().as_secs_f64() * 1e6);
                        next += period;
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
        let mut samples = std::mem::take(&mut *round_trips.borrow_mut());
        let mut line = format!("done {}", samples.len());
        for k in 0..QUANTILES {
            let q = (k as f64 + 0.5) / QUANTILES as f64;
            line += &format!(" {:.1}", quantile(&mut samples, q).unwrap_or(0.0));
        }
        let mut out = io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()
    })
}

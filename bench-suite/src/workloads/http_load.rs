//! HTTP/1.1 loads that `wrk` cannot make, for `bench-suite/scripts/http.sh` (through the
//! `http_load` binary) and the report's loops section, each returning every request's latency:
//!
//! - `paced ADDR PATH RATE SECS`: 32 connections, each on a thread of its own, together sending
//!   RATE requests per second on a fixed schedule (open loop: a request's latency counts from
//!   the time it was due, so a server that falls behind is not flattered);
//! - `churn ADDR PATH SECS`: 32 threads, each opening a connection, sending a number of
//!   requests that varies from connection to connection (1 to 400, the same sequence in every
//!   run), closing it and opening the next, in bursts: connections open and close unevenly, so
//!   the counts of live connections per server thread drift;
//! - `uneven ADDR SECS`: 32 keep-alive connections, each on a thread of its own sending a
//!   request as soon as the last one was answered: 4 of them ask for `/cpu` (100 µs of server
//!   CPU each), the others for `/`: uneven work per connection, which no placement can move
//!   once a connection is placed;
//! - a keep-alive load of any number of connections ([`keep_alive`]), for the report.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::workloads::http::Client;

/// Connections (and threads) of the paced, churning and uneven loads.
pub const CONNS: usize = 32;

/// The paced load (see the module's docs): each thread's requests are due every
/// `CONNS / rate` seconds, the threads' schedules interleaved.
///
/// # Errors
///
/// As [`keep_alive`].
pub fn paced(addr: SocketAddr, path: &str, rate: f64, secs: f64) -> io::Result<Vec<Duration>> {
    let period = Duration::from_secs_f64(CONNS as f64 / rate);
    let start = Instant::now() + Duration::from_millis(100);
    let end = start + Duration::from_secs_f64(secs);
    let threads: Vec<_> = (0..CONNS)
        .map(|i| {
            let path = path.to_owned();
            std::thread::spawn(move || -> io::Result<Vec<Duration>> {
                let mut client = Client::connect(addr, &path)?;
                let mut due = start + period.mul_f64(i as f64 / CONNS as f64);
                let mut latencies = Vec::new();
                while due < end {
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    client.get()?;
                    latencies.push(due.elapsed());
                    due += period;
                }
                Ok(latencies)
            })
        })
        .collect();
    collect(threads)
}

/// The churning load (see the module's docs).
///
/// # Errors
///
/// As [`keep_alive`].
pub fn churn(addr: SocketAddr, path: &str, secs: f64) -> io::Result<Vec<Duration>> {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let threads: Vec<_> = (0..CONNS)
        .map(|i| {
            let path = path.to_owned();
            std::thread::spawn(move || -> io::Result<Vec<Duration>> {
                let mut latencies = Vec::new();
                let mut seed = i as u64 + 1;
                while Instant::now() < end {
                    // xorshift: 1 to 400 requests on this connection.
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let requests = 1 + seed % 400;
                    let mut client = Client::connect(addr, &path)?;
                    for _ in 0..requests {
                        let sent = Instant::now();
                        client.get()?;
                        latencies.push(sent.elapsed());
                    }
                    // Bursts: every fourth connection pauses before the next opens.
                    if seed % 4 == 0 {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                Ok(latencies)
            })
        })
        .collect();
    collect(threads)
}

/// A closed-loop keep-alive load: `conns` connections, each on a thread of its own sending a
/// request for `path_of(i)` as soon as the last one was answered, for `secs` seconds.
///
/// # Errors
///
/// The first error of a connection (connecting, or a request without a whole response).
pub fn keep_alive(
    addr: SocketAddr,
    conns: usize,
    secs: f64,
    path_of: fn(usize) -> &'static str,
) -> io::Result<Vec<Duration>> {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let threads: Vec<_> = (0..conns)
        .map(|i| {
            std::thread::spawn(move || -> io::Result<Vec<Duration>> {
                let mut client = Client::connect(addr, path_of(i))?;
                let mut latencies = Vec::new();
                while Instant::now() < end {
                    let sent = Instant::now();
                    client.get()?;
                    latencies.push(sent.elapsed());
                }
                Ok(latencies)
            })
        })
        .collect();
    collect(threads)
}

/// The uneven load: 32 keep-alive connections, 4 of them asking for `/cpu`.
///
/// # Errors
///
/// As [`keep_alive`].
pub fn uneven(addr: SocketAddr, secs: f64) -> io::Result<Vec<Duration>> {
    keep_alive(addr, CONNS, secs, |i| if i % 8 == 0 { "/cpu" } else { "/" })
}

fn collect(
    threads: Vec<std::thread::JoinHandle<io::Result<Vec<Duration>>>>,
) -> io::Result<Vec<Duration>> {
    let mut all = Vec::new();
    for t in threads {
        all.extend(
            t.join()
                .map_err(|_| io::Error::other("a client thread panicked"))??,
        );
    }
    Ok(all)
}

//! The listen backlog: a burst of connects made while the loop does not accept is queued by
//! the kernel, up to the documented backlog, instead of being dropped and retried.

mod util;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use evloop::net::{TcpListener, UnixListener};
use socket2::{Domain, SockAddr, Socket, Type};

/// The burst of the issue: more than the standard library's backlog of 128.
const BURST: usize = 1000;

/// The system's cap on every backlog (`net.core.somaxconn` on Linux, `kern.ipc.somaxconn` on
/// macOS and the BSDs, 128 by default there).
fn somaxconn() -> usize {
    util::os::listen_backlog_cap()
}

/// The burst, unless `somaxconn` keeps any backlog on this machine below it.
fn burst() -> usize {
    let cap = somaxconn();
    if cap < BURST {
        eprintln!("the system caps the listen backlog at {cap}; the burst is {cap} connects");
    }
    BURST.min(cap)
}

/// Makes sure the process may hold the client and server ends of the burst.
fn raise_fd_limit(needed: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some_and(|cur| cur < needed) {
        // A finite soft limit even under an unlimited hard one: macOS refuses an unlimited
        // soft limit for descriptors.
        let wanted = needed.max(4096);
        let new = rustix::process::Rlimit {
            current: Some(limit.maximum.map_or(wanted, |max| max.min(wanted))),
            maximum: limit.maximum,
        };
        setrlimit(Resource::Nofile, new).expect("raise RLIMIT_NOFILE");
    }
}

/// Blocking connects, each given `limit` to complete: with a full accept queue Linux drops the
/// SYN and the client retries after 1 s, 3 s, 7 s..., so a connect beyond the backlog does not
/// complete while nobody accepts, and times out. Stops at the first connect that fails and
/// returns the connected streams and how many connects were not made.
fn tcp_burst(addr: SocketAddr, n: usize, limit: Duration) -> (Vec<std::net::TcpStream>, usize) {
    let mut streams = Vec::with_capacity(n);
    while streams.len() < n {
        match std::net::TcpStream::connect_timeout(&addr, limit) {
            Ok(s) => streams.push(s),
            Err(_) => break,
        }
    }
    let failed = n - streams.len();
    (streams, failed)
}

#[test]
fn tcp_burst_before_the_loop_accepts_is_fully_queued() {
    let n = burst();
    raise_fd_limit(2 * n as u64 + 256);
    util::within(Duration::from_secs(120), move || {
        evloop::run(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            // Every connect is made and completed before the loop accepts the first one.
            let (clients, failed) =
                evloop::to_thread(move || tcp_burst(addr, n, Duration::from_secs(10)))
                    .await
                    .expect("connecting thread");
            assert_eq!(
                failed,
                0,
                "only {} of {n} connects completed while the loop was not accepting: the backlog \
                 is smaller than the burst",
                clients.len()
            );
            let mut accepted = 0;
            while accepted < n {
                let (_stream, _) =
                    evloop::timeout(Duration::from_secs(10), listener.accept()).await??;
                accepted += 1;
            }
            assert_eq!(accepted, clients.len());
            io::Result::Ok(())
        })
        .unwrap();
    });
}

/// Non-blocking Unix connects: a full Unix backlog fails a connect at once with `WouldBlock`
/// (no retry, no timing involved). Returns the connected sockets and the refusals.
fn unix_burst(path: &std::path::Path, n: usize) -> (Vec<Socket>, usize) {
    let addr = SockAddr::unix(path).unwrap();
    let mut sockets = Vec::with_capacity(n);
    let mut refused = 0;
    for _ in 0..n {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        socket.set_nonblocking(true).unwrap();
        match socket.connect(&addr) {
            Ok(()) => sockets.push(socket),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => refused += 1,
            Err(e) => panic!("unexpected connect error: {e}"),
        }
    }
    (sockets, refused)
}

fn socket_path(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("evloop-{name}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn unix_burst_before_the_loop_accepts_is_fully_queued() {
    let n = burst();
    raise_fd_limit(2 * n as u64 + 256);
    let path = socket_path("burst");
    util::within(Duration::from_secs(60), move || {
        evloop::run(async move {
            let listener = UnixListener::bind(&path)?;
            let (clients, refused) = unix_burst(&path, n);
            assert_eq!(refused, 0, "{refused} of {n} Unix connects were refused");
            let mut accepted = 0;
            while accepted < n {
                evloop::timeout(Duration::from_secs(10), listener.accept()).await??;
                accepted += 1;
            }
            assert_eq!(accepted, clients.len());
            std::fs::remove_file(&path)
        })
        .unwrap();
    });
}

#[test]
fn a_chosen_unix_backlog_is_honoured() {
    const BACKLOG: u32 = 16;
    let path = socket_path("small-backlog");
    util::within(Duration::from_secs(60), move || {
        evloop::run(async move {
            let listener = UnixListener::bind_with_backlog(&path, BACKLOG)?;
            let (clients, refused) = unix_burst(&path, 100);
            // Linux queues backlog + 1 connections; allow a little slack for other kernels.
            assert!(
                (BACKLOG as usize..=BACKLOG as usize + 2).contains(&clients.len()),
                "{} connects were queued with a backlog of {BACKLOG}",
                clients.len()
            );
            assert_eq!(refused, 100 - clients.len());
            for _ in 0..clients.len() {
                evloop::timeout(Duration::from_secs(10), listener.accept()).await??;
            }
            std::fs::remove_file(&path)
        })
        .unwrap();
    });
}

#[test]
fn a_chosen_tcp_backlog_is_honoured() {
    const BACKLOG: u32 = 16;
    util::within(Duration::from_secs(60), move || {
        evloop::run(async move {
            let listener = TcpListener::bind_with_backlog("127.0.0.1:0", BACKLOG).await?;
            let addr = listener.local_addr()?;
            // 30 connects with a short limit: those beyond the backlog cannot complete while
            // the loop does not accept (their SYN is dropped; the first retry is 1 s later).
            let (clients, failed) =
                evloop::to_thread(move || tcp_burst(addr, 30, Duration::from_millis(200)))
                    .await
                    .expect("connecting thread");
            assert!(
                clients.len() <= BACKLOG as usize + 2 && failed >= 30 - BACKLOG as usize - 2,
                "{} connects completed with a backlog of {BACKLOG}",
                clients.len()
            );
            assert!(clients.len() >= BACKLOG as usize);
            io::Result::Ok(())
        })
        .unwrap();
    });
}

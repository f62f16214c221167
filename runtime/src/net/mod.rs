//! Non-blocking networking: TCP, UDP and Unix-domain sockets.
//!
//! Every type here wraps a standard-library socket in an [`Async`](crate::Async), so it works
//! with the `futures-io` traits (and so with `futures-lite`, codecs and HTTP crates).
//!
//! Host names are resolved without blocking the loop: socket addresses are used as given, and
//! anything that needs a DNS lookup (`"localhost:8080"`) is resolved by `getaddrinfo` on the
//! loop's default thread pool while the calling task waits; see [`resolve`].

mod addr;
mod tcp;
mod udp;
mod unix;

pub use addr::{resolve, ToSocketAddrs};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

use std::io;
use std::net::SocketAddr;

/// Runs `f` on each resolved address until one succeeds; returns the last error otherwise.
async fn each_addr<A, T, F, Fut>(addr: A, mut f: F) -> io::Result<T>
where
    A: ToSocketAddrs,
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last_err = None;
    for addr in resolve(addr).await? {
        match f(addr).await {
            Ok(t) => return Ok(t),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address",
        )
    }))
}

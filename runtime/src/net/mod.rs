//! Non-blocking networking: TCP, UDP and Unix-domain sockets.
//!
//! Every type here wraps a standard-library socket in an [`Async`](crate::Async), so it works
//! with the `futures-io` traits (and so with `futures-lite`, codecs and HTTP crates).
//!
//! Host names are resolved without blocking the loop: socket addresses are used as given, and
//! anything that needs a DNS lookup (`"localhost:8080"`) is resolved by `getaddrinfo` on the
//! loop's default thread pool while the calling task waits; see [`resolve`].

mod addr;
mod stream;
mod tcp;
mod udp;
mod unix;

pub use addr::{resolve, ToSocketAddrs};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

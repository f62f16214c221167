//! Non-blocking networking: TCP, UDP and Unix-domain sockets.
//!
//! Every type here wraps a standard-library socket in an [`Async`](crate::Async), so it works
//! with the `futures-io` traits (and so with `futures-lite`, codecs and HTTP crates).
//!
//! Host names are resolved without blocking the loop: socket addresses are used as given, and
//! anything that needs a DNS lookup (`"localhost:8080"`) is resolved by `getaddrinfo` on the
//! loop's I/O pool while the calling task waits; see [`resolve`].
//!
//! Sockets are `!Send`: each is registered with the loop of the thread that created it, and only
//! that loop reports its readiness (glommio and monoio make the same choice). A crate that
//! requires `Send` streams (for example one that moves a connection to another thread) cannot
//! take them; the `futures-io` traits, which most protocol crates use, need no `Send`.
//!
//! Listeners listen with a backlog of 1024 connections (capped by the OS), so a burst of
//! connects made while the loop is busy waits in the kernel rather than being refused.
//!
//! # Examples
//!
//! A TCP server that handles each connection in its own task, and a client, on one loop:
//!
//! ```
//! use futures_lite::{io, AsyncReadExt, AsyncWriteExt};
//! use evloop::net::{TcpListener, TcpStream};
//!
//! evloop::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     evloop::spawn(async move {
//!         while let Ok((stream, _peer)) = listener.accept().await {
//!             // One task per connection; `&TcpStream` reads and writes, so `copy` echoes.
//!             evloop::spawn(async move { io::copy(&stream, &mut &stream).await });
//!         }
//!     });
//!
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"echo me").await?;
//!     let mut reply = [0; 7];
//!     client.read_exact(&mut reply).await?;
//!     assert_eq!(&reply, b"echo me");
//!     std::io::Result::Ok(())
//! })?;
//! # std::io::Result::Ok(())
//! ```

mod addr;
mod stream;
mod tcp;
mod udp;
mod unix;

pub use addr::{resolve, ToSocketAddrs};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

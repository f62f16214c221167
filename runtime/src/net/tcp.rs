//! TCP: [`TcpListener`] and [`TcpStream`].

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use socket2::{Domain, Protocol, Socket, Type};

use super::addr::{each_addr, ToSocketAddrs};
use super::stream::{async_read_write, connect};
use crate::io::async_fd::Async;

/// A TCP server socket, accepting connections without blocking the loop.
///
/// # Examples
///
/// ```no_run
/// use evloop::net::TcpListener;
/// use futures_lite::io;
///
/// evloop::run(async {
///     let listener = TcpListener::bind("127.0.0.1:8080").await?;
///     loop {
///         let (stream, _peer) = listener.accept().await?;
///         evloop::spawn(async move {
///             // Echo: copy what the peer sends back to it.
///             let _ = io::copy(&stream, &mut &stream).await;
///         });
///     }
///     # #[allow(unreachable_code)] std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
pub struct TcpListener {
    /// The registered listening socket.
    inner: Async<std::net::TcpListener>,
}

impl TcpListener {
    /// The listen backlog of [`bind`](Self::bind): how many connections the kernel queues
    /// before the loop accepts them. The kernel caps it at `net.core.somaxconn` (4096 by
    /// default on Linux since 5.4, 128 before) without an error.
    pub const DEFAULT_BACKLOG: u32 = 1024;

    /// Binds to `addr` and starts listening with a backlog of
    /// [`DEFAULT_BACKLOG`](Self::DEFAULT_BACKLOG) (capped by the OS), `SO_REUSEADDR` on, as
    /// the standard library sets it on Unix.
    ///
    /// A port of 0 picks a free port; see [`local_addr`](Self::local_addr). A host name is
    /// resolved off the loop thread; each resolved address is tried in turn.
    ///
    /// # Errors
    ///
    /// Returns the error of the last address tried (for example `AddrInUse`).
    ///
    /// # Panics
    ///
    /// The returned future panics if polled outside an evloop event loop.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        Self::bind_with_backlog(addr, Self::DEFAULT_BACKLOG).await
    }

    /// Like [`bind`](Self::bind), with a chosen listen backlog: the number of connections the
    /// kernel completes and queues while the loop is busy. When the queue is full, Linux drops
    /// new connection requests and clients retry a second or more later. Values above
    /// `i32::MAX` are clamped; the kernel caps the backlog at `net.core.somaxconn`.
    ///
    /// # Errors
    ///
    /// Returns the error of the last address tried (for example `AddrInUse`).
    ///
    /// # Panics
    ///
    /// The returned future panics if polled outside an evloop event loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::net::TcpListener;
    ///
    /// evloop::run(async {
    ///     // A burst of up to 4096 connects is queued (if `somaxconn` allows it).
    ///     let listener = TcpListener::bind_with_backlog("127.0.0.1:0", 4096).await?;
    ///     assert_ne!(listener.local_addr()?.port(), 0);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn bind_with_backlog(
        addr: impl ToSocketAddrs,
        backlog: u32,
    ) -> io::Result<TcpListener> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        each_addr(addr, |addr| async move {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            socket.set_reuse_address(true)?;
            socket.bind(&addr.into())?;
            socket.listen(backlog)?;
            Ok(TcpListener {
                inner: Async::new(std::net::TcpListener::from(socket))?,
            })
        })
        .await
    }

    /// Registers an already bound and listening std listener with the loop.
    ///
    /// # Errors
    ///
    /// Returns the OS error if it cannot be made non-blocking or registered.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: Async::new(listener)?,
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `accept`, for example `EMFILE` when the process is out of file
    /// descriptors; the listener stays usable.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self.inner.read_with(|l| l.accept()).await?;
        Ok((TcpStream::from_std(stream)?, peer))
    }

    /// Waits for a connection and returns it unregistered, for another loop to register.
    pub(crate) async fn accept_std(&self) -> io::Result<(std::net::TcpStream, SocketAddr)> {
        self.inner.read_with(|l| l.accept()).await
    }

    /// A stream of incoming connections; it never ends.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The local address, with the actual port when bound to port 0.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The registered std listener.
    pub fn get_ref(&self) -> &std::net::TcpListener {
        self.inner.get_ref()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.get_ref().fmt(f)
    }
}

/// Stream of connections from [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    /// The listener accepting the connections.
    listener: &'a TcpListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let listener = &self.listener.inner;
        listener
            .poll_op(crate::io::reactor::Dir::Read, cx, &mut |l| l.accept())
            .map(|r| Some(r.and_then(|(stream, _)| TcpStream::from_std(stream))))
    }
}

/// A TCP connection, implementing [`AsyncRead`] and [`AsyncWrite`] (also through `&TcpStream`,
/// so a reading task and a writing task can share one stream).
///
/// A peer that closed the connection gives `Ok(0)` on read and `BrokenPipe` or
/// `ConnectionReset` on write (the first write after the peer closed may still succeed: the
/// kernel learns of the close from the peer's answer to it).
///
/// Like every evloop socket, a `TcpStream` is `!Send`: it is registered with the loop of its
/// thread, and only that loop reports its readiness.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<evloop::net::TcpStream>();
/// ```
///
/// # Examples
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use evloop::net::{TcpListener, TcpStream};
///
/// evloop::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
///     let (mut server, _) = listener.accept().await?;
///     client.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
pub struct TcpStream {
    /// The registered connected socket.
    inner: Async<std::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr` without blocking the loop: the socket is non-blocking from the start
    /// and the task waits for the connection to complete. A host name is resolved off the loop
    /// thread; each resolved address is tried in turn.
    ///
    /// # Errors
    ///
    /// Returns the error of the last address tried (for example `ConnectionRefused`).
    ///
    /// # Panics
    ///
    /// The returned future panics if polled outside an evloop event loop.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(addr, connect_addr).await
    }

    /// Registers a connected std stream with the loop.
    ///
    /// # Errors
    ///
    /// Returns the OS error if it cannot be made non-blocking or registered.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: Async::new(stream)?,
        })
    }

    /// The remote address.
    ///
    /// # Errors
    ///
    /// Returns `NotConnected` once the peer is gone, or another OS error of `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    ///
    /// # Errors
    ///
    /// Returns the OS error of `setsockopt`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `getsockopt`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get_ref().nodelay()
    }

    /// Shuts down the read half, the write half, or both.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `shutdown`, such as `NotConnected`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Reads data without removing it from the socket's queue.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `recv`.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|s| s.peek(buf)).await
    }

    /// The registered std stream.
    pub fn get_ref(&self) -> &std::net::TcpStream {
        self.inner.get_ref()
    }
}

/// Connects one address with a non-blocking socket.
async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    Ok(TcpStream {
        inner: connect(socket, &addr.into()).await?,
    })
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.get_ref().fmt(f)
    }
}

async_read_write!(TcpStream);
async_read_write!(&TcpStream);

//! TCP: [`TcpListener`] and [`TcpStream`].

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use socket2::{Domain, Protocol, Socket, Type};

use super::{each_addr, ToSocketAddrs};
use crate::io::Async;

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
            .poll_op(crate::reactor::Dir::Read, cx, &mut |l| l.accept())
            .map(|r| Some(r.and_then(|(stream, _)| TcpStream::from_std(stream))))
    }
}

/// A TCP connection, implementing [`AsyncRead`] and [`AsyncWrite`] (also through `&TcpStream`,
/// so a reading task and a writing task can share one stream).
///
/// A peer that closed the connection gives `Ok(0)` on read and `BrokenPipe` or
/// `ConnectionReset` on write.
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
    socket.set_nonblocking(true)?;
    let in_progress = match socket.connect(&addr.into()) {
        Ok(()) => false,
        Err(e) if connect_in_progress(&e) => true,
        Err(e) => return Err(e),
    };
    let stream = Async::new_nonblocking(std::net::TcpStream::from(socket))?;
    if in_progress {
        stream.writable().await?;
        if let Some(e) = stream.get_ref().take_error()? {
            return Err(e);
        }
        // Writable without a pending error but not connected: report it as the OS would.
        stream.get_ref().peer_addr()?;
    }
    Ok(TcpStream { inner: stream })
}

/// Whether a non-blocking `connect` is still in progress (`EINPROGRESS`).
pub(super) fn connect_in_progress(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::INPROGRESS.raw_os_error())
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.get_ref().fmt(f)
    }
}

macro_rules! async_read_write {
    ($ty:ty) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut &self.inner).poll_read(cx, buf)
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                self.inner
                    .poll_op(crate::reactor::Dir::Read, cx, &mut |mut s| {
                        s.read_vectored(bufs)
                    })
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut &self.inner).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.inner
                    .poll_op(crate::reactor::Dir::Write, cx, &mut |mut s| {
                        s.write_vectored(bufs)
                    })
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                // Sockets have no user-space buffer to flush.
                Poll::Ready(Ok(()))
            }

            /// Shuts down the write half, so the peer reads end of stream.
            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(match self.inner.get_ref().shutdown(Shutdown::Write) {
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                    other => other,
                })
            }
        }
    };
}

async_read_write!(TcpStream);
async_read_write!(&TcpStream);
pub(super) use async_read_write;

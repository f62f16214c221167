//! Unix-domain stream sockets: [`UnixListener`] and [`UnixStream`].

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{self as std_unix, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use socket2::{Domain, SockAddr, Socket, Type};

use super::stream::{async_read_write, connect};
use crate::io::async_fd::Async;

/// A Unix-domain server socket.
pub struct UnixListener {
    /// The registered listening socket.
    inner: Async<std_unix::UnixListener>,
}

impl UnixListener {
    /// Binds to the socket file at `path` and listens.
    ///
    /// # Errors
    ///
    /// Returns the OS error, for example `AddrInUse` if the file exists.
    ///
    /// # Panics
    ///
    /// Panics if no event loop is running on this thread.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: Async::new(std_unix::UnixListener::bind(path)?)?,
        })
    }

    /// Waits for a connection.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `accept`; the listener stays usable.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, peer) = self.inner.read_with(|l| l.accept()).await?;
        Ok((UnixStream::from_std(stream)?, peer))
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.get_ref().fmt(f)
    }
}

/// A Unix-domain stream connection, implementing [`AsyncRead`] and [`AsyncWrite`].
pub struct UnixStream {
    /// The registered connected socket.
    inner: Async<std_unix::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket file at `path` without blocking the loop.
    ///
    /// # Errors
    ///
    /// Returns the OS error: `NotFound` or `ConnectionRefused` when nobody listens, and
    /// `WouldBlock` when the listener's backlog is full (Unix sockets do not queue connects).
    ///
    /// # Panics
    ///
    /// The returned future panics if polled outside an evloop event loop.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        Ok(UnixStream {
            inner: connect(socket, &SockAddr::unix(path)?).await?,
        })
    }

    /// A connected pair of sockets.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `socketpair`.
    ///
    /// # Panics
    ///
    /// Panics if no event loop is running on this thread.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std_unix::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Registers a connected std stream with the loop.
    ///
    /// # Errors
    ///
    /// Returns the OS error if it cannot be made non-blocking or registered.
    pub fn from_std(stream: std_unix::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: Async::new(stream)?,
        })
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Shuts down the read half, the write half, or both.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `shutdown`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.get_ref().fmt(f)
    }
}

async_read_write!(UnixStream);
async_read_write!(&UnixStream);

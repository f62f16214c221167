//! UDP: [`UdpSocket`].

use std::fmt;
use std::io;
use std::net::SocketAddr;

use super::addr::{each_addr, resolve, ToSocketAddrs};
use crate::io::async_fd::Async;

/// A UDP socket.
///
/// # Examples
///
/// ```
/// use evloop::net::UdpSocket;
///
/// evloop::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
pub struct UdpSocket {
    /// The registered socket.
    inner: Async<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds a socket to `addr` (port 0 picks a free port).
    ///
    /// # Errors
    ///
    /// Returns the error of the last address tried.
    ///
    /// # Panics
    ///
    /// The returned future panics if polled outside an evloop event loop.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        each_addr(addr, |addr| async move {
            Ok(UdpSocket {
                inner: Async::new(std::net::UdpSocket::bind(addr)?)?,
            })
        })
        .await
    }

    /// Registers a bound std socket with the loop.
    ///
    /// # Errors
    ///
    /// Returns the OS error if it cannot be made non-blocking or registered.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: Async::new(socket)?,
        })
    }

    /// Sets the default destination of [`send`](Self::send) and the only source
    /// [`recv`](Self::recv) accepts.
    ///
    /// # Errors
    ///
    /// Returns the error of the last address tried.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(
            addr,
            |addr| async move { self.inner.get_ref().connect(addr) },
        )
        .await
    }

    /// Sends a datagram to `addr`; returns the number of bytes sent.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `sendto`, or the resolver's error for a host name.
    pub async fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = *resolve(addr)
            .await?
            .first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to send to"))?;
        self.inner.write_with(|s| s.send_to(buf, addr)).await
    }

    /// Receives a datagram; returns its length and its sender. A datagram longer than `buf` is
    /// truncated.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `recvfrom`.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|s| s.recv_from(buf)).await
    }

    /// Receives a datagram without removing it from the queue.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `recvfrom`.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|s| s.peek_from(buf)).await
    }

    /// Sends a datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `send`, such as `NotConnected` or `ConnectionRefused`.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_with(|s| s.send(buf)).await
    }

    /// Receives a datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `recv`, such as `ConnectionRefused` when the peer's port is
    /// closed.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|s| s.recv(buf)).await
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// Returns the OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// Returns `NotConnected` if [`connect`](Self::connect) was not called.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The registered std socket.
    pub fn get_ref(&self) -> &std::net::UdpSocket {
        self.inner.get_ref()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.get_ref().fmt(f)
    }
}

//! What connected stream sockets (TCP and Unix) share: a non-blocking connect, and the
//! `futures-io` traits.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use socket2::{SockAddr, SockRef, Socket};

use crate::io::async_fd::Async;
use crate::io::reactor::Dir;

/// Connects `socket` to `addr` without blocking the loop: the socket is non-blocking from the
/// start, and the task waits for the connection to complete.
///
/// # Errors
///
/// Returns the OS error of the connection (for example `ConnectionRefused`).
pub(super) async fn connect<S>(socket: Socket, addr: &SockAddr) -> io::Result<Async<S>>
where
    S: AsFd + From<OwnedFd>,
{
    socket.set_nonblocking(true)?;
    let in_progress = match socket.connect(addr) {
        Ok(()) => false,
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INPROGRESS.raw_os_error()) => true,
        Err(e) => return Err(e),
    };
    let stream = Async::new_nonblocking(S::from(OwnedFd::from(socket)))?;
    if in_progress {
        // Writable means connected (or failed): wait for that edge.
        stream.clear_ready(Dir::Write);
        stream.writable().await?;
        let socket = SockRef::from(stream.get_ref());
        if let Some(e) = socket.take_error()? {
            return Err(e);
        }
        // Writable without a pending error but not connected: report it as the OS would.
        socket.peer_addr()?;
    }
    Ok(stream)
}

/// After a read from a stream socket that returned fewer bytes than `asked` (and more than
/// none), tells the reactor the socket's buffer is drained (see `Reactor::short_read`), so
/// that the next read waits for the next edge instead of making a system call that would
/// only return `WouldBlock`.
pub(crate) fn short_read<T: AsFd>(
    stream: &Async<T>,
    read: &std::task::Poll<io::Result<usize>>,
    asked: usize,
) {
    if let std::task::Poll::Ready(Ok(n)) = read {
        if *n > 0 && *n < asked {
            stream.short_read();
        }
    }
}

/// Implements `AsyncRead` and `AsyncWrite` for a stream type whose `inner` field is an
/// `Async` of a std stream (and for a shared reference to it).
macro_rules! async_read_write {
    ($ty:ty) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let asked = buf.len();
                let read = Pin::new(&mut &self.inner).poll_read(cx, buf);
                crate::net::stream::short_read(&self.inner, &read, asked);
                read
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                let asked = bufs.iter().map(|b| b.len()).sum();
                let read = self
                    .inner
                    .poll_op(crate::io::reactor::Dir::Read, cx, &mut |mut s| {
                        s.read_vectored(bufs)
                    });
                crate::net::stream::short_read(&self.inner, &read, asked);
                read
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
                    .poll_op(crate::io::reactor::Dir::Write, cx, &mut |mut s| {
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

pub(super) use async_read_write;

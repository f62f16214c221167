//! [`EvloopIo`]: hyper's I/O traits over evloop sockets, and back.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use pin_project_lite::pin_project;

/// The most bytes one read asks for: hyper's read buffer can grow large, and the unfilled part
/// handed to the socket is zeroed first (safe code cannot pass uninitialised memory to
/// `futures-io`'s `poll_read`), so a bounded chunk keeps that cost small.
const MAX_READ: usize = 64 * 1024;

/// The fewest bytes one read asks for. A read asks for twice what the last one returned,
/// between this and [`MAX_READ`]: a server whose requests are small zeroes 1 KiB per read
/// rather than hyper's whole 8 KiB buffer, and a large body doubles its way up in a few reads.
const MIN_READ: usize = 1024;

pin_project! {
    /// Adapts I/O between the `futures-io` traits, which evloop's sockets implement, and
    /// hyper's [`Read`](::hyper::rt::Read) and [`Write`](::hyper::rt::Write).
    ///
    /// - `EvloopIo<T>` implements hyper's `Read`/`Write` when `T` implements
    ///   [`AsyncRead`]/[`AsyncWrite`]: wrap a [`TcpStream`](crate::net::TcpStream),
    ///   [`UnixStream`](crate::net::UnixStream) or any `futures-io` stream (a TLS stream,
    ///   for instance) to hand it to hyper.
    /// - `EvloopIo<T>` implements `AsyncRead`/`AsyncWrite` when `T` implements hyper's
    ///   traits: wrap what hyper hands back (an upgraded connection, say) to use it with
    ///   `futures-io` code.
    ///
    /// The wrapper is `Send` exactly when `T` is; evloop's sockets are not (see the
    /// [module docs](crate::hyper)).
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::hyper::EvloopIo;
    /// use evloop::net::{TcpListener, TcpStream};
    ///
    /// evloop::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     let io = EvloopIo::new(stream);
    ///     // `io` is now `hyper::rt::Read + hyper::rt::Write + Unpin`.
    ///     let stream: TcpStream = io.into_inner();
    ///     # drop(stream);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    #[derive(Debug)]
    pub struct EvloopIo<T> {
        // The wrapped stream (pin-project-lite takes no doc comment on a pinned field).
        #[pin]
        inner: T,
        // How many bytes the next read asks for at most (see `MIN_READ`).
        read_size: usize,
    }
}

impl<T> EvloopIo<T> {
    /// Wraps `inner`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::hyper::EvloopIo;
    ///
    /// let io = EvloopIo::new(futures_lite::io::Cursor::new(b"GET / HTTP/1.1\r\n\r\n".to_vec()));
    /// assert_eq!(io.inner().get_ref().len(), 18);
    /// ```
    pub fn new(inner: T) -> Self {
        EvloopIo {
            inner,
            read_size: MIN_READ,
        }
    }

    /// The wrapped stream.
    ///
    /// # Examples
    ///
    /// ```
    /// let io = evloop::hyper::EvloopIo::new(futures_lite::io::empty());
    /// let _empty: &futures_lite::io::Empty = io.inner();
    /// ```
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut io = evloop::hyper::EvloopIo::new(futures_lite::io::Cursor::new(vec![1, 2]));
    /// io.inner_mut().set_position(1);
    /// assert_eq!(io.inner().position(), 1);
    /// ```
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// let io = evloop::hyper::EvloopIo::new(futures_lite::io::Cursor::new(vec![1, 2]));
    /// assert_eq!(io.into_inner().into_inner(), vec![1, 2]);
    /// ```
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead> ::hyper::rt::Read for EvloopIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ::hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let len = buf.remaining().min(*this.read_size);
        let n = ready!(this.inner.poll_read(cx, buf.initialize_unfilled_to(len)))?;
        *this.read_size = (2 * n).clamp(MIN_READ, MAX_READ);
        assert!(
            n <= len,
            "an AsyncRead implementation reported {n} bytes read into a buffer of {len}"
        );
        // SAFETY: `initialize_unfilled_to(len)` initialised the first `len` bytes of the
        // unfilled part, and `n <= len` (checked above), so the `n` bytes the cursor moves over
        // are initialised, which is all `advance` requires.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite> ::hyper::rt::Write for EvloopIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_close(cx)
    }

    fn is_write_vectored(&self) -> bool {
        // `futures-io` has no way to ask; evloop's sockets implement vectored writes.
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }
}

impl<T: ::hyper::rt::Read> AsyncRead for EvloopIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read_buf = ::hyper::rt::ReadBuf::new(buf);
        ready!(self.project().inner.poll_read(cx, read_buf.unfilled()))?;
        Poll::Ready(Ok(read_buf.filled().len()))
    }
}

impl<T: ::hyper::rt::Write> AsyncWrite for EvloopIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

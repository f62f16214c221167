//! [`Async`]: any non-blocking file descriptor, driven by the loop's I/O registry.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::io::reactor::{Dir, Reactor};
use crate::scheduler::budget;
use crate::scheduler::context::with_core;

/// An I/O object registered with the event loop: a socket, pipe or other pollable descriptor.
///
/// `Async<T>` puts the descriptor in non-blocking mode and registers it with the loop's poller.
/// Operations are attempted first; one that would block suspends the task until the poller
/// reports readiness, and is then retried. Dropping an `Async` removes the registration.
///
/// It implements the `futures-io` traits [`AsyncRead`] and [`AsyncWrite`] when `T` (or `&T`)
/// implements [`Read`] and [`Write`], so async codecs and helpers from the ecosystem work on it.
/// Regular files cannot be polled by the OS; use [`evloop::fs`](crate::fs) helpers for them.
///
/// `Async` is `!Send`: it belongs to the loop that registered it.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<evloop::Async<std::os::unix::net::UnixStream>>();
/// ```
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use evloop::Async;
///
/// evloop::run(async {
///     let (a, b) = UnixStream::pair()?;
///     let (a, b) = (Async::new(a)?, Async::new(b)?);
///     a.write_with(|s| (&*s).write(b"ping")).await?;
///     let mut buf = [0; 4];
///     let n = b.read_with(|s| (&*s).read(&mut buf)).await?;
///     assert_eq!(&buf[..n], b"ping");
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
pub struct Async<T: AsFd> {
    /// The I/O object; `None` only after [`Async::into_inner`].
    io: Option<T>,
    /// Key of the registration in `reactor`.
    key: usize,
    /// The registry of the loop this object belongs to.
    reactor: Rc<Reactor>,
}

impl<T: AsFd> Async<T> {
    /// Puts `io` in non-blocking mode and registers it with the loop running on this thread.
    ///
    /// # Errors
    ///
    /// Returns the OS error if the descriptor cannot be made non-blocking or registered, and a
    /// `PermissionDenied` error naming [`evloop::fs`](crate::fs) for a regular file or a
    /// directory, which no OS poller can wait for (epoll refuses them; kqueue would report them
    /// always ready).
    ///
    /// # Panics
    ///
    /// Panics if no event loop is running on this thread.
    #[track_caller]
    pub fn new(io: T) -> io::Result<Self> {
        rustix::io::ioctl_fionbio(io.as_fd(), true)?;
        Self::new_nonblocking(io)
    }

    /// Registers `io`, which the caller has already put in non-blocking mode.
    ///
    /// A descriptor left in blocking mode would block the whole loop on its first operation.
    ///
    /// # Errors
    ///
    /// Returns the OS error if the descriptor cannot be registered.
    ///
    /// # Panics
    ///
    /// Panics if no event loop is running on this thread.
    #[track_caller]
    pub fn new_nonblocking(io: T) -> io::Result<Self> {
        let reactor = with_core("evloop::Async::new", |core| core.reactor().clone());
        // SAFETY: `Async` owns `io` until its `Drop` or `into_inner`, and both deregister it
        // before giving it up, so the descriptor leaves the poller before it can be closed.
        let key = unsafe { reactor.register(io.as_fd()) }?;
        Ok(Async {
            io: Some(io),
            key,
            reactor,
        })
    }

    /// The inner I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("Async used after into_inner")
    }

    /// Deregisters the I/O object and returns it (still in non-blocking mode).
    ///
    /// # Errors
    ///
    /// Returns the OS error if the poller refused to deregister it.
    pub fn into_inner(mut self) -> io::Result<T> {
        let io = self.io.take().expect("Async used after into_inner");
        self.reactor.deregister(self.key, io.as_fd())?;
        Ok(io)
    }

    /// Waits until the object is readable: an edge was reported since an operation last
    /// returned `WouldBlock` (for a new object: since it was registered, which reports the
    /// current state at once). Readiness can be spurious; the next read may still block.
    ///
    /// # Errors
    ///
    /// Never fails today; the `Result` leaves room for poller errors.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_readable(cx)).await
    }

    /// Waits until the object is writable; see [`readable`](Self::readable).
    ///
    /// # Errors
    ///
    /// Never fails today; the `Result` leaves room for poller errors.
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_writable(cx)).await
    }

    /// Polls for readability; see [`readable`](Self::readable).
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(Dir::Read, cx).map(Ok)
    }

    /// Polls for writability; see [`writable`](Self::writable).
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(Dir::Write, cx).map(Ok)
    }

    /// Runs a non-blocking read-like operation until it does not return `WouldBlock`, waiting
    /// for readability in between.
    ///
    /// # Errors
    ///
    /// Returns the error of `op`, if it is not `WouldBlock`.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_op(Dir::Read, cx, &mut op)).await
    }

    /// Runs a non-blocking write-like operation until it does not return `WouldBlock`, waiting
    /// for writability in between.
    ///
    /// # Errors
    ///
    /// Returns the error of `op`, if it is not `WouldBlock`.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_op(Dir::Write, cx, &mut op)).await
    }

    /// Tries `op`; on `WouldBlock`, clears the readiness of `dir` and waits for its next edge.
    pub(crate) fn poll_op<R>(
        &self,
        dir: Dir,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.get_ref();
        poll_until_ready(&self.reactor, self.key, dir, cx, || op(io))
    }

    /// Forgets that `dir` may be ready: the next operation or readiness check waits for an edge
    /// (for a non-blocking `connect` in progress, which is not writable yet).
    pub(crate) fn clear_ready(&self, dir: Dir) {
        self.reactor.clear_ready(self.key, dir);
    }

    /// A read from this stream returned fewer bytes than asked (see `Reactor::short_read`).
    #[inline]
    pub(crate) fn short_read(&self) {
        self.reactor.short_read(self.key);
    }

    /// Like [`poll_op`](Self::poll_op), for operations that need `&mut T`.
    fn poll_op_mut<R>(
        &mut self,
        dir: Dir,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.io.as_mut().expect("Async used after into_inner");
        poll_until_ready(&self.reactor, self.key, dir, cx, || op(io))
    }

    fn poll_ready(&self, dir: Dir, cx: &mut Context<'_>) -> Poll<()> {
        poll_ready(&self.reactor, self.key, dir, cx)
    }
}

/// Runs `op` until it does not return `WouldBlock`: on `WouldBlock`, clears the readiness of
/// `dir` and waits for its next edge (`Pending`), then tries again. The operation is tried
/// first (a socket usually has data or room when a task asks), unless the direction is known
/// drained (an operation hit `WouldBlock`, or a stream read short, since the last edge): then
/// it would only return `WouldBlock`, so the task waits for the edge without the system call.
fn poll_until_ready<R>(
    reactor: &Rc<Reactor>,
    key: usize,
    dir: Dir,
    cx: &mut Context<'_>,
    mut op: impl FnMut() -> io::Result<R>,
) -> Poll<io::Result<R>> {
    // An operation that completes spends a unit of the task's budget: check it first, as the
    // operation cannot be undone.
    ready!(budget::poll_proceed(cx));
    loop {
        if reactor.is_drained(key, dir) && reactor.poll_ready(key, dir, cx).is_pending() {
            check_same_loop(reactor);
            return Poll::Pending;
        }
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                reactor.clear_ready(key, dir);
                if reactor.poll_ready(key, dir, cx).is_pending() {
                    check_same_loop(reactor);
                    return Poll::Pending;
                }
            }
            result => {
                budget::spend();
                return Poll::Ready(result);
            }
        }
    }
}

/// Polls the readiness of `dir` of the source `key` of `reactor`; readiness spends a unit of
/// the task's cooperative budget.
fn poll_ready(reactor: &Rc<Reactor>, key: usize, dir: Dir, cx: &mut Context<'_>) -> Poll<()> {
    let poll = reactor.poll_ready(key, dir, cx);
    if poll.is_pending() {
        check_same_loop(reactor);
    }
    budget::ready_or_yield(cx, poll)
}

/// Checks, before a task waits on `reactor`, that it belongs to the loop running on this
/// thread: only that loop will ever report its readiness.
///
/// # Panics
///
/// Panics when it does not, instead of letting the task wait for ever.
fn check_same_loop(reactor: &Rc<Reactor>) {
    let same_loop = with_core("an evloop I/O object", |core| {
        Rc::ptr_eq(core.reactor(), reactor)
    });
    assert!(
        same_loop,
        "this evloop I/O object was registered with another event loop, which will never \
         report its readiness here; create I/O objects inside the loop that uses them"
    );
}

// `Async` never hands out `Pin<&mut T>`: pinning an `Async` does not pin the I/O object.
impl<T: AsFd> Unpin for Async<T> {}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        if let Some(io) = &self.io {
            // Nothing useful can be done if the poller refuses; the fd is closed right after,
            // which removes it from the poller anyway.
            let _ = self.reactor.deregister(self.key, io.as_fd());
        }
    }
}

impl<T: AsFd + fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Async").field("io", &self.io).finish()
    }
}

impl<T: AsFd + Read> AsyncRead for Async<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_op_mut(Dir::Read, cx, |io| io.read(buf))
    }
}

impl<T: AsFd> AsyncRead for &Async<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_op(Dir::Read, cx, &mut |mut io: &T| io.read(buf))
    }
}

impl<T: AsFd + Write> AsyncWrite for Async<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_op_mut(Dir::Write, cx, |io| io.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_op_mut(Dir::Write, cx, |io| io.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl<T: AsFd> AsyncWrite for &Async<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_op(Dir::Write, cx, &mut |mut io: &T| io.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_op(Dir::Write, cx, &mut |mut io: &T| io.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

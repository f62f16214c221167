//! Unix signals as futures and streams: [`ctrl_c`] and [`Signals`].
//!
//! # Implementation
//!
//! The handlers are installed by [`signal_hook`] (through `signal-hook-registry`, which chains
//! with handlers installed before and is async-signal-safe). The handler records the signal
//! and writes one byte to a self-pipe (a Unix socket pair); the reading end is registered with
//! the loop like any socket, so a waiting task sleeps in the poller and is resumed in step 3 of
//! the cycle when a signal arrives. No thread is started, and nothing runs in the handler but
//! `signal-hook`'s bookkeeping and one `send`.
//!
//! As with every signal library that chains handlers, a handler stays installed once a signal
//! was watched: after the last [`Signals`] for `SIGINT` is dropped, Ctrl-C no longer stops the
//! process (it is delivered to nobody). A server that wants a second Ctrl-C to stop it at once
//! keeps its [`Signals`] and exits on the second signal, as the `echo` example does.

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io::{self, Read};
use std::os::raw::c_int;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_core::Stream;
use signal_hook::iterator::backend::SignalDelivery;
use signal_hook::iterator::exfiltrator::SignalOnly;

use crate::io::async_fd::Async;

pub use signal_hook::consts::signal::{
    SIGALRM, SIGCHLD, SIGCONT, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGTSTP, SIGUSR1,
    SIGUSR2, SIGWINCH,
};

/// Waits for Ctrl-C (`SIGINT`).
///
/// The handler is installed when the future is first polled; a Ctrl-C before that stops the
/// process as usual. To watch from the start of `main`, create a [`Signals`] early instead.
/// Once it was installed, it stays: after this future completes or is dropped, further Ctrl-Cs
/// are ignored unless something watches `SIGINT` again (see the [module docs](self)).
///
/// # Errors
///
/// Returns a [`SignalError`] if the handler cannot be installed or the self-pipe fails.
///
/// # Panics
///
/// The returned future panics if polled outside an evloop event loop.
///
/// # Examples
///
/// ```no_run
/// evloop::run(async {
///     println!("press Ctrl-C to stop");
///     evloop::signal::ctrl_c().await?;
///     println!("stopping");
///     Ok::<_, evloop::signal::SignalError>(())
/// })?;
/// # Ok::<_, evloop::signal::SignalError>(())
/// ```
pub async fn ctrl_c() -> Result<(), SignalError> {
    let mut signals = Signals::new([SIGINT])?;
    signals.recv().await.map(drop)
}

/// A stream of Unix signals, of one kind or several.
///
/// Created with the signals to watch; each arrival is yielded as its number (`SIGTERM`, ...).
/// Arrivals of the same signal between two reads are merged into one, as the kernel merges
/// them too. The stream never ends. Several `Signals` may watch the same signal; each gets
/// every arrival.
///
/// A `Signals` is `!Send`: its self-pipe is registered with the loop that created it.
///
/// # Examples
///
/// ```
/// use evloop::signal::{Signals, SIGUSR1};
///
/// evloop::run(async {
///     let mut signals = Signals::new([SIGUSR1])?;
///     // Send the signal to ourselves.
///     rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::USR1)
///         .expect("kill");
///     assert_eq!(signals.recv().await?, SIGUSR1);
///     Ok::<_, evloop::signal::SignalError>(())
/// })?;
/// # Ok::<_, evloop::signal::SignalError>(())
/// ```
pub struct Signals {
    /// The registrations and the per-signal "arrived" flags, with the self-pipe's reading end
    /// (the same socket as `wakeup`, shared through a duplicated descriptor).
    delivery: SignalDelivery<UnixStream, SignalOnly>,
    /// The self-pipe's reading end registered with the loop, to wait for the handler's byte.
    wakeup: Rc<Async<UnixStream>>,
    /// Signals read from `delivery` and not yielded yet.
    arrived: VecDeque<c_int>,
    /// The wait for the next byte in progress, for [`Stream::poll_next`].
    wait: Option<Pin<Box<dyn Future<Output = io::Result<()>>>>>,
}

impl Signals {
    /// Installs handlers for `signals` and returns the stream of their arrivals.
    ///
    /// # Errors
    ///
    /// - [`SignalError::Forbidden`] for `SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE` and `SIGSEGV`,
    ///   which cannot be caught (the first two) or must not be (the others);
    /// - [`SignalError::Invalid`] for a number that is no signal on this system;
    /// - [`SignalError::Io`] if the self-pipe cannot be created or registered.
    ///
    /// # Panics
    ///
    /// Panics if no event loop is running on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::signal::{SignalError, Signals, SIGINT, SIGTERM};
    ///
    /// evloop::run(async {
    ///     let signals = Signals::new([SIGINT, SIGTERM])?;
    ///     # drop(signals);
    ///     let err = Signals::new([9]).unwrap_err(); // SIGKILL
    ///     assert!(matches!(err, SignalError::Forbidden { signal: 9 }));
    ///     Ok::<_, SignalError>(())
    /// })?;
    /// # Ok::<_, SignalError>(())
    /// ```
    #[track_caller]
    pub fn new(signals: impl IntoIterator<Item = c_int>) -> Result<Signals, SignalError> {
        let signals: Vec<c_int> = signals.into_iter().collect();
        for &signal in &signals {
            check(signal)?;
        }
        let (read, write) = UnixStream::pair().map_err(SignalError::Io)?;
        let wakeup =
            Async::new(read.try_clone().map_err(SignalError::Io)?).map_err(SignalError::Io)?;
        let delivery = SignalDelivery::with_pipe(read, write, SignalOnly, &signals)
            .map_err(|e| register_error(&signals, e))?;
        Ok(Signals {
            delivery,
            wakeup: Rc::new(wakeup),
            arrived: VecDeque::new(),
            wait: None,
        })
    }

    /// Watches one more signal.
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::signal::{Signals, SIGHUP, SIGTERM};
    ///
    /// evloop::run(async {
    ///     let signals = Signals::new([SIGTERM])?;
    ///     signals.add(SIGHUP)?;
    ///     Ok::<_, evloop::signal::SignalError>(())
    /// })?;
    /// # Ok::<_, evloop::signal::SignalError>(())
    /// ```
    pub fn add(&self, signal: c_int) -> Result<(), SignalError> {
        check(signal)?;
        self.delivery
            .handle()
            .add_signal(signal)
            .map_err(|e| register_error(&[signal], e))
    }

    /// Waits for the next signal and returns its number.
    ///
    /// # Errors
    ///
    /// Returns [`SignalError::Io`] if reading the self-pipe fails.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use evloop::signal::{Signals, SIGHUP, SIGTERM};
    ///
    /// evloop::run(async {
    ///     let mut signals = Signals::new([SIGHUP, SIGTERM])?;
    ///     while signals.recv().await? == SIGHUP {
    ///         println!("reloading the configuration");
    ///     }
    ///     println!("terminating");
    ///     Ok::<_, evloop::signal::SignalError>(())
    /// })?;
    /// # Ok::<_, evloop::signal::SignalError>(())
    /// ```
    pub async fn recv(&mut self) -> Result<c_int, SignalError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next signal; see [`recv`](Self::recv).
    ///
    /// # Errors
    ///
    /// Returns [`SignalError::Io`] if reading the self-pipe fails.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<c_int, SignalError>> {
        loop {
            if let Some(signal) = self.arrived.pop_front() {
                return Poll::Ready(Ok(signal));
            }
            // Collect what arrived; this drains the self-pipe without blocking.
            self.arrived.extend(self.delivery.pending());
            if !self.arrived.is_empty() {
                continue;
            }
            // Nothing yet: wait until the handler writes its next byte.
            let wait = self.wait.get_or_insert_with(|| {
                let wakeup = Rc::clone(&self.wakeup);
                Box::pin(async move {
                    let mut byte = [0u8; 1];
                    wakeup.read_with(|s| (&*s).read(&mut byte)).await.map(drop)
                })
            });
            let result = std::task::ready!(wait.as_mut().poll(cx));
            self.wait = None;
            result.map_err(SignalError::Io)?;
        }
    }
}

impl Stream for Signals {
    type Item = Result<c_int, SignalError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signals")
            .field("arrived", &self.arrived)
            .finish_non_exhaustive()
    }
}

/// Rejects what `signal-hook` would panic on.
fn check(signal: c_int) -> Result<(), SignalError> {
    if signal_hook::consts::FORBIDDEN.contains(&signal) {
        return Err(SignalError::Forbidden { signal });
    }
    // `signal-hook`'s per-signal tables hold 128 entries; no Unix has signals beyond that.
    if !(1..128).contains(&signal) {
        return Err(SignalError::Invalid { signal });
    }
    Ok(())
}

/// Maps a failed registration: `sigaction` refuses a number that is no signal with `EINVAL`.
fn register_error(signals: &[c_int], e: io::Error) -> SignalError {
    match (e.kind(), signals) {
        (io::ErrorKind::InvalidInput, [signal]) => SignalError::Invalid { signal: *signal },
        _ => SignalError::Io(e),
    }
}

/// Why a signal cannot be watched.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignalError {
    /// The signal cannot be caught (`SIGKILL`, `SIGSTOP`) or must not be (`SIGILL`, `SIGFPE`,
    /// `SIGSEGV`: the program state is undefined once they arrive).
    Forbidden {
        /// The signal number.
        signal: c_int,
    },
    /// The number is no signal on this system.
    Invalid {
        /// The number given.
        signal: c_int,
    },
    /// Installing a handler, or creating, registering or reading the self-pipe, failed.
    Io(io::Error),
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalError::Forbidden { signal } => write!(
                f,
                "signal {signal} cannot be watched: SIGKILL and SIGSTOP cannot be caught, and \
                 SIGILL, SIGFPE and SIGSEGV mean the program state is broken; watch SIGTERM or \
                 SIGINT to stop cleanly"
            ),
            SignalError::Invalid { signal } => write!(
                f,
                "{signal} is not a signal number on this system; use the constants in \
                 evloop::signal (SIGINT, SIGTERM, ...)"
            ),
            SignalError::Io(e) => write!(f, "watching signals failed: {e}"),
        }
    }
}

impl std::error::Error for SignalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SignalError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SignalError> for io::Error {
    fn from(e: SignalError) -> io::Error {
        match e {
            SignalError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidInput, other),
        }
    }
}

#[allow(dead_code)]
fn _assert_auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SignalError>();
}

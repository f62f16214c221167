//! [`yield_now`]: the `asyncio.sleep(0)` equivalent.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields to the event loop once: the `asyncio.sleep(0)` equivalent.
///
/// The task goes to the back of the ready queue. Every other task that is ready runs once before
/// it resumes, and the loop polls the OS for I/O (timeout zero) if the last poll was 100 µs ago
/// or more, so a CPU-heavy loop that awaits this every few milliseconds keeps the rest of the
/// loop, sockets included, responsive (slide 9).
///
/// # Examples
///
/// ```
/// evloop::run(async {
///     let mut sum = 0u64;
///     for i in 0..1_000_000u64 {
///         sum += i;
///         if i % 10_000 == 0 {
///             evloop::yield_now().await; // let the other tasks and I/O through
///         }
///     }
///     assert_eq!(sum, 499_999_500_000);
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// Future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct YieldNow {
    /// Whether the first poll (the one that yields) has happened.
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

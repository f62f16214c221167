//! The cooperative budget: how many operations one poll of a task may complete without
//! waiting before evloop makes it yield.
//!
//! Cooperative scheduling trusts every task to reach an `.await` that returns `Pending`. A task
//! whose operations never wait (an accept loop on a listener that fails at once with "too many
//! open files", a read loop on a socket that always has data) would otherwise run for ever and
//! freeze the loop: nothing else runs, not even the tasks that would fix the condition. So
//! every evloop leaf future that completes without waiting (socket and `Async` operations and
//! readiness, timers already due, `JoinHandle`s already done) spends one unit of the running
//! task's budget; once it is spent, the operation wakes the task and returns `Pending`
//! instead, and the task goes to the back of the ready queue. The budget is reset before every
//! poll (`Builder::coop_budget`, 128 by default, as tokio's).

use std::cell::Cell;
use std::task::{Context, Poll};

use crate::scheduler::context::with_core;

thread_local! {
    /// Units left to the poll in progress on this thread. Outside a poll (never reset), so large
    /// that it never runs out.
    static BUDGET: Cell<u32> = const { Cell::new(u32::MAX) };
}

/// Gives the poll that starts now `units` to spend.
#[inline(always)]
pub(crate) fn reset(units: u32) {
    BUDGET.with(|b| b.set(units));
}

/// `Ready` if the running task may complete one more operation without waiting; otherwise
/// wakes the task and returns `Pending` (it runs again in the next cycle). Call it only when
/// the operation is about to complete, and follow a `Ready` by [`spend`].
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    if BUDGET.with(Cell::get) > 0 {
        return Poll::Ready(());
    }
    forced_yield(cx)
}

/// Spends one unit: an operation completed without waiting.
#[inline]
pub(crate) fn spend() {
    BUDGET.with(|b| b.set(b.get().saturating_sub(1)));
}

/// Spends one unit for a result that is ready now, unless the budget is spent: then the task
/// is woken and `Pending` returned instead. Only for results that polling again gives again
/// (readiness, a deadline passed): nothing is lost by not returning this one.
#[inline]
pub(crate) fn ready_or_yield<T>(cx: &mut Context<'_>, value: Poll<T>) -> Poll<T> {
    if value.is_ready() {
        std::task::ready!(poll_proceed(cx));
        spend();
    }
    value
}

/// The budget is spent: the task yields.
#[cold]
fn forced_yield(cx: &mut Context<'_>) -> Poll<()> {
    cx.waker().wake_by_ref();
    with_core("evloop's cooperative budget", |core| {
        core.observer().forced_yield()
    });
    Poll::Pending
}

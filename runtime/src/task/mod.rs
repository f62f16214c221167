//! Tasks: [`spawn`], [`Builder`], [`JoinHandle`], [`JoinError`] and [`yield_now`].
//!
//! A task is a future owned by the loop. Its allocation, reference counting and waker come from
//! [`async_task`]; evloop adds what the loop needs around it: metadata in the same allocation
//! (`meta.rs`: id, spawn location, poll count and flags in one word), a harness that catches
//! panics and keeps the loop's registry of live tasks up to date (`harness.rs`), and abort
//! (`join.rs`).

pub(crate) mod harness;
pub(crate) mod join;
pub(crate) mod meta;
pub(crate) mod spawn;
pub(crate) mod yield_now;

pub use join::{JoinError, JoinHandle};
pub use meta::TaskId;
pub use spawn::{spawn, Builder};
pub use yield_now::{yield_now, YieldNow};

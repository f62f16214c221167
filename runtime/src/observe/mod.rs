//! Observability: what the loop records about itself and how it reports it.
//!
//! The [`observer::Observer`] owns the counters, poll timing, the cycle trace and the
//! [`probe::Probe`] that the [`monitor`] thread watches; the cycle calls its hooks. Reports go
//! through [`report`]: `tracing` when a subscriber is installed, stderr otherwise.

pub(crate) mod monitor;
pub(crate) mod observer;
pub(crate) mod probe;
pub(crate) mod report;
pub(crate) mod sched;
pub(crate) mod stats;
pub(crate) mod timing;
pub(crate) mod trace;

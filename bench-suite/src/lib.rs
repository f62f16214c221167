//! evloop-bench: the measurement report of evloop against tokio, smol and Python's asyncio, and
//! the workloads it shares with the criterion benches.
//!
//! `cargo run --release -p evloop-bench -- report` runs the report (see `docs/benchmarks.md`);
//! `cargo bench -p evloop-bench` runs the criterion benches. Both time the same workload
//! functions, kept once in [`workloads`].
//!
//! # Implementation
//!
//! - [`workloads`] holds one module per kind of work (spawning, yielding, timers, TCP echo,
//!   thread-pool round trips, cross-thread wakes, memory, the raw floors), each written for
//!   evloop, tokio's `current_thread` runtime and smol in the same shape.
//! - [`report`] runs the report's six sections on the calling thread, each comparison's
//!   runtimes interleaved in rounds; measurements that need a fresh process (memory, echo
//!   clients, the pipe floor) re-execute the report binary with a hidden subcommand, and every
//!   child is killed when the report stops, Ctrl-C included.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use evloop_bench::workloads::spawn;
//!
//! // Spawn and await 100 empty tasks on evloop; the future returns the time it took.
//! let rt = evloop::Builder::new().build().unwrap();
//! let took: Duration = rt.block_on(spawn::evloop_batches(100));
//! assert!(took > Duration::ZERO);
//! ```
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod report;
pub mod workloads;

pub use crate::workloads::peers::{evloop_blocking_on_purpose, tokio_current_thread};
pub use crate::workloads::spawn::{batches, evloop_batches as evloop_spawn_batches, BATCH};
pub use crate::workloads::yielding::yield_loop;

//! The work that the criterion benches and the report both time, once, for every runtime.
//!
//! Each function runs inside the runtime it is written for and returns the time its measured
//! part took, so that setup (spawning a server, arming a deadline) stays out of the figure.

pub mod cpu;
pub mod cross_loop;
pub mod echo;
pub mod floors;
pub mod http;
pub mod http_load;
pub mod http_servers;
pub mod memory;
pub mod offload;
pub mod peers;
pub mod procs;
pub mod spawn;
pub mod timer;
pub mod wake;
pub mod yielding;

//! The runtimes evloop is measured against, built the same way everywhere.

use std::fmt;

/// A runtime measured in a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// evloop, built with `evloop::Builder::new()` (the defaults).
    Evloop,
    /// tokio's `current_thread` runtime with all drivers on.
    Tokio,
    /// smol: `async-executor`'s `LocalExecutor` driven by `async_io::block_on`.
    Smol,
}

impl Peer {
    /// Every Rust runtime, evloop first.
    pub const ALL: [Peer; 3] = [Peer::Evloop, Peer::Tokio, Peer::Smol];

    /// The runtime's name as the report and the benches print it.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Evloop => "evloop",
            Peer::Tokio => "tokio",
            Peer::Smol => "smol",
        }
    }

    /// The runtime named `name`, if any.
    pub fn from_name(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An evloop loop for an experiment that blocks it on purpose (a blocking call in the loop,
/// a long computation between yields, or a benchmark that arms millions of timers in one
/// poll): its slow-poll reports and stall watchdog are off, since a report there would read
/// as a fault in the terminal of someone running the report or the benches.
pub fn evloop_blocking_on_purpose() -> evloop::Builder {
    evloop::Builder::new()
        .slow_poll_reports(false)
        .stall_watchdog(false)
}

/// tokio's single-threaded runtime (`current_thread`, all drivers on), the peer evloop is
/// measured against.
///
/// # Panics
///
/// Panics if the runtime cannot be created (the OS refuses an epoll instance or an eventfd).
pub fn tokio_current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("create a tokio runtime")
}

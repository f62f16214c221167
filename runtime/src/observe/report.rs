//! Where the loop's reports go: `tracing` when a subscriber is installed, stderr otherwise.

use std::fmt;

/// Reports a problem the user should act on (a slow poll, a stall, a lost panic).
///
/// Emitted as a `tracing` warning with target `evloop` when a global or scoped subscriber is
/// installed, so it lands wherever the application's logs go; printed on stderr, prefixed with
/// `evloop:`, otherwise. Never panics.
pub(crate) fn warn(message: fmt::Arguments<'_>) {
    if tracing::dispatcher::has_been_set() {
        tracing::warn!(target: "evloop", "{message}");
    } else {
        to_stderr(message);
    }
}

/// Reports one step of the loop's cycle (the cycle trace): a `tracing` event at level `INFO`
/// with target `evloop::cycle` when a subscriber is installed, a line on stderr otherwise.
pub(crate) fn trace(message: fmt::Arguments<'_>) {
    if tracing::dispatcher::has_been_set() {
        tracing::info!(target: "evloop::cycle", "{message}");
    } else {
        to_stderr(message);
    }
}

/// One line on stderr, prefixed with `evloop:`; a failed write is ignored (never a panic).
fn to_stderr(message: fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "evloop: {message}");
}

//! A worker's exit where the system has no notification `polling` can wait for: none (the
//! lifeline does it).

use std::io;
use std::process::Child;

use polling::Poller;

/// Never made.
#[derive(Debug)]
pub(super) enum Watch {}

impl Watch {
    /// None: the lifeline watches the exit.
    pub(super) fn start(_: &Poller, _: &Child, _: usize) -> io::Result<Option<Watch>> {
        Ok(None)
    }

    /// Nothing to stop.
    pub(super) fn stop(&self, _: &Poller, _: &Child) {
        match *self {}
    }
}

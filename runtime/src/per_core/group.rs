//! What the loops of a `PerCore` group share: the stop, and each loop's connection and message
//! counters, from which the per-loop stats and the imbalance warning come.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use event_listener::Event;

/// The group's stop: set once, awaited by every loop.
#[derive(Debug, Default)]
pub(super) struct Stop {
    begun: AtomicBool,
    event: Event,
}

impl Stop {
    pub(super) fn begin(&self) {
        if !self.begun.swap(true, Ordering::SeqCst) {
            self.event.notify(usize::MAX);
        }
    }

    pub(super) fn begun(&self) -> bool {
        self.begun.load(Ordering::SeqCst)
    }

    pub(super) async fn wait(&self) {
        loop {
            if self.begun() {
                return;
            }
            let listener = self.event.listen();
            // Checked again after listening: a stop that began in between is not missed.
            if self.begun() {
                return;
            }
            listener.await;
        }
    }
}

/// A loop's state, as its connections see it when they close.
const RUNNING: u8 = 0;
/// The loop's setup panicked: the connections closing now are lost.
const DIED: u8 = 1;
/// The loop is closing (its setup returned, or the drain timeout passed): the connections
/// closing now are cut.
const CUT: u8 = 2;

/// One loop's counters, written by its own thread and (for `live` and `messages`) by others.
#[derive(Debug, Default)]
pub(super) struct Counters {
    accepted: AtomicU64,
    handed_off: AtomicU64,
    live: AtomicUsize,
    lost: AtomicU64,
    cut: AtomicU64,
    messages: AtomicU64,
    imbalance_warnings: AtomicU64,
    widest_gap: AtomicUsize,
    state: AtomicU8,
}

/// What one loop of a group did, as counted by the group: its connections (those served
/// through [`GroupListener::serve`](crate::GroupListener::serve)), its messages and its CPU time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoopStats {
    /// Connections this loop served: accepted by it, or handed to it by the accepting loop.
    pub accepted: u64,
    /// Connections this loop accepted and handed to another loop (hand-off mode).
    pub handed_off: u64,
    /// Connections open on this loop now (at its end: open when it ended).
    pub live: usize,
    /// Connections that were open on this loop when its setup panicked: closed with it.
    pub lost: u64,
    /// Connections still open when the loop closed (its setup returned, or the drain timeout
    /// passed after the group's stop): closed then (a reset for a peer with data in flight).
    pub cut_at_close: u64,
    /// Messages sent to this loop through its [`LoopHandle`](crate::LoopHandle).
    pub messages: u64,
    /// Times the imbalance warning named this loop.
    pub imbalance_warnings: u64,
    /// Hand-off mode: the widest gap between the serving loops' live connection counts right
    /// after this loop placed a connection (1 or 0 while closes leave the loops even; wider when
    /// connections closed unevenly, since a placed connection never moves).
    pub widest_gap_at_hand_off: usize,
    /// The CPU time of the loop's thread, once the loop has ended (where the system measures
    /// a thread's CPU time).
    pub busy: Option<Duration>,
}

/// When the imbalance warning fires: at least this many live connections per loop on
/// average...
const IMBALANCE_MIN_PER_LOOP: usize = 8;
/// ...and one loop holding at least this many times its fair share (percent)...
const IMBALANCE_RATIO_PERCENT: usize = 150;
/// ...seen at accepts at least this long apart (a burst of connects is uneven for a moment by
/// chance; an imbalance that lasts is not)...
const IMBALANCE_LASTING: Duration = Duration::from_secs(1);
/// ...and at most once in this time for each loop.
const IMBALANCE_QUIET: Duration = Duration::from_secs(10);

/// The imbalance warning's memory of one loop.
#[derive(Clone, Copy, Debug, Default)]
struct Skew {
    /// Since when the loop has held too many, as seen at every accept since.
    since: Option<Instant>,
    /// When the warning last named it.
    warned: Option<Instant>,
}

/// The loops' shared state.
#[derive(Debug)]
pub(super) struct Group {
    pub(super) stop: Stop,
    counters: Box<[Counters]>,
    /// The imbalance warning's memory, by loop.
    skew: Mutex<Vec<Skew>>,
    /// Whether some loop's `Skew::since` is set (so a balanced accept can skip the lock).
    skew_seen: AtomicBool,
}

impl Group {
    pub(super) fn new(loops: usize) -> Group {
        Group {
            stop: Stop::default(),
            counters: (0..loops).map(|_| Counters::default()).collect(),
            skew: Mutex::new(vec![Skew::default(); loops]),
            skew_seen: AtomicBool::new(false),
        }
    }

    pub(super) fn loops(&self) -> usize {
        self.counters.len()
    }

    /// Loop `index`'s live connections.
    pub(super) fn live(&self, index: usize) -> usize {
        self.counters[index].live.load(Ordering::SeqCst)
    }

    /// A connection placed on loop `index` (counted live from now).
    pub(super) fn placed(&self, index: usize) {
        let c = &self.counters[index];
        c.accepted.fetch_add(1, Ordering::Relaxed);
        c.live.fetch_add(1, Ordering::SeqCst);
    }

    /// A placed connection that never started on `index` and is gone (no live loop to take it).
    pub(super) fn unplaced(&self, index: usize) {
        let c = &self.counters[index];
        c.accepted.fetch_sub(1, Ordering::Relaxed);
        c.live.fetch_sub(1, Ordering::SeqCst);
    }

    /// A connection handed to loop `index`, which died before starting it, found no other
    /// loop to serve it.
    pub(super) fn lost_queued(&self, index: usize) {
        self.counters[index].lost.fetch_add(1, Ordering::Relaxed);
    }

    /// Loop `index` accepted a connection and handed it to another.
    pub(super) fn handed_off(&self, index: usize) {
        self.counters[index]
            .handed_off
            .fetch_add(1, Ordering::Relaxed);
    }

    /// A connection of loop `index` closed: lost if its loop died, cut if the drain timeout
    /// passed.
    pub(super) fn closed(&self, index: usize) {
        let c = &self.counters[index];
        c.live.fetch_sub(1, Ordering::SeqCst);
        match c.state.load(Ordering::SeqCst) {
            DIED => c.lost.fetch_add(1, Ordering::Relaxed),
            CUT => c.cut.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// Loop `index` placed a connection, after which the serving loops' live counts were
    /// `gap` apart.
    pub(super) fn gap_after_placing(&self, index: usize, gap: usize) {
        self.counters[index]
            .widest_gap
            .fetch_max(gap, Ordering::Relaxed);
    }

    /// Loop `index` received a message.
    pub(super) fn message(&self, index: usize) {
        self.counters[index]
            .messages
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Loop `index` is about to drop its tasks because its setup panicked.
    pub(super) fn died(&self, index: usize) {
        self.counters[index].state.store(DIED, Ordering::SeqCst);
    }

    /// Loop `index` is about to cancel the tasks still alive (its setup returned, or the drain
    /// timeout passed).
    pub(super) fn cutting(&self, index: usize) {
        self.counters[index].state.store(CUT, Ordering::SeqCst);
    }

    /// Loop `index` (re)starts.
    pub(super) fn running(&self, index: usize) {
        self.counters[index].state.store(RUNNING, Ordering::SeqCst);
    }

    /// Loop `index`'s stats now.
    pub(super) fn stats(&self, index: usize) -> LoopStats {
        let c = &self.counters[index];
        LoopStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            handed_off: c.handed_off.load(Ordering::Relaxed),
            live: c.live.load(Ordering::SeqCst),
            lost: c.lost.load(Ordering::Relaxed),
            cut_at_close: c.cut.load(Ordering::Relaxed),
            messages: c.messages.load(Ordering::Relaxed),
            imbalance_warnings: c.imbalance_warnings.load(Ordering::Relaxed),
            widest_gap_at_hand_off: c.widest_gap.load(Ordering::Relaxed),
            busy: None,
        }
    }

    /// Warns (on stderr, at most once in 10 s for each loop) when one loop holds at least 1.5
    /// times its fair share of the group's live connections, with at least 8 per loop on
    /// average (below that, chance alone makes such a gap), at accepts at least 1 s apart;
    /// `cause` says why the listener's mode let it happen.
    pub(super) fn check_balance(&self, cause: &str) {
        let loops = self.counters.len();
        if loops < 2 {
            return;
        }
        // Called at every accept: no allocation, and no lock while the group is balanced.
        let (mut total, mut most, mut busiest) = (0, 0, 0);
        for i in 0..loops {
            let n = self.live(i);
            total += n;
            if n > most {
                (most, busiest) = (n, i);
            }
        }
        let skewed = total >= IMBALANCE_MIN_PER_LOOP * loops
            && most * loops * 100 >= IMBALANCE_RATIO_PERCENT * total;
        if !skewed && !self.skew_seen.load(Ordering::Relaxed) {
            return;
        }
        let mut skew = self.skew.lock().unwrap_or_else(|e| e.into_inner());
        for (i, s) in skew.iter_mut().enumerate() {
            if !(skewed && i == busiest) {
                s.since = None;
            }
        }
        self.skew_seen.store(skewed, Ordering::Relaxed);
        if !skewed {
            return;
        }
        let now = Instant::now();
        let s = &mut skew[busiest];
        let since = *s.since.get_or_insert(now);
        if now.duration_since(since) < IMBALANCE_LASTING
            || s.warned
                .is_some_and(|t| now.duration_since(t) < IMBALANCE_QUIET)
        {
            return;
        }
        s.warned = Some(now);
        drop(skew);
        self.counters[busiest]
            .imbalance_warnings
            .fetch_add(1, Ordering::Relaxed);
        let live: Vec<usize> = (0..loops).map(|i| self.live(i)).collect();
        eprintln!(
            "evloop: per_core: loop {busiest} holds {most} of the group's {total} live \
             connections (a fair share is {}; counts by loop: {live:?}): {cause}",
            total.div_ceil(loops)
        );
    }
}

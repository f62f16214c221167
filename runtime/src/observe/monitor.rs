//! The monitor thread: finds the blocking call while it happens, from what the loop publishes
//! in its [`Probe`]. A loop has one of its own; the loops of a `per_core` group share one,
//! which samples each loop as below and sleeps only while all of them are idle.
//!
//! It samples the probe every `tick` (a twentieth of the threshold, between 1 and 50 ms) and so
//! notices, without disturbing the loop:
//!
//! - a **slow poll**: the same cycle and task, not parked, for at least the threshold. When the
//!   poll ends, it is reported once with its task and its duration (to within one tick);
//! - a **stall** (when the watchdog is on): no cycle completed for at least the threshold while
//!   the loop is not parked in the poller. It is reported while it lasts, naming the task that
//!   is running, and again when the loop recovers, with the total. An idle loop is parked, so it
//!   is never reported, and the monitor never wakes it.
//!
//! # Cost
//!
//! While the loop works, the monitor thread wakes every tick (200 times a second at the default
//! 100 ms threshold) and reads a few atomics: well under 1% of a core. Once it has found the
//! loop parked in the same cycle for a whole threshold, it sleeps without a timeout until the
//! loop leaves its wait ([`Probe::monitor_may_sleep`]), so an idle loop wakes no thread at all.
//! The loop pays one atomic load per wait for this, and one system call (waking the monitor)
//! only for the first wait that ends after a threshold of idleness: a loop that wakes more
//! often than that never pays it.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::observe::probe::Probe;
use crate::observe::report;
use crate::observe::sched::{self, Cause, SchedTimes, ThreadSched};

/// What the monitor thread reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MonitorConfig {
    /// A poll, or a time without a completed cycle, longer than this is reported.
    pub(crate) threshold: Duration,
    /// Report each slow poll once it returns.
    pub(crate) slow_polls: bool,
    /// Report stalls while they last, and when they end.
    pub(crate) watchdog: bool,
}

/// A monitor thread, watching one loop or (for a `per_core` group) several; dropping it stops
/// and joins the thread.
#[derive(Debug)]
pub(crate) struct MonitorThread {
    /// Registrations; dropped to tell the thread to stop.
    to: Option<mpsc::Sender<Message>>,
    /// Joined on drop, so no thread outlives its loops.
    thread: Option<thread::JoinHandle<()>>,
    /// The next registration's id.
    next: AtomicU64,
}

/// What a monitor thread is told.
enum Message {
    /// Watch a loop, under this id.
    Watch(u64, Box<Watcher>),
    /// Stop watching the loop of this id.
    Unwatch(u64),
}

impl MonitorThread {
    /// Starts a monitor thread that watches nothing yet.
    pub(crate) fn start() -> io::Result<MonitorThread> {
        let (to, from) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("evloop-monitor".into())
            .spawn(move || run(&from))?;
        Ok(MonitorThread {
            to: Some(to),
            thread: Some(thread),
            next: AtomicU64::new(0),
        })
    }

    /// Watches the loop that publishes into `probe`, which runs on the calling thread (its
    /// scheduler counts are opened here); its reports name it `name`, if it has one. Returns the
    /// registration's id.
    fn watch(&self, probe: Arc<Probe>, config: MonitorConfig, name: Option<&str>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(thread) = &self.thread else {
            return id;
        };
        probe.set_monitor(thread.thread().clone());
        let watcher = Watcher::new(probe, config, name, ThreadSched::current());
        self.send(Message::Watch(id, Box::new(watcher)));
        id
    }

    /// Sends `message` and wakes the thread, which may sleep until a loop wakes it. Never
    /// blocks.
    fn send(&self, message: Message) {
        if let (Some(to), Some(thread)) = (&self.to, &self.thread) {
            if to.send(message).is_ok() {
                thread.thread().unpark();
            }
        }
    }
}

impl Drop for MonitorThread {
    fn drop(&mut self) {
        drop(self.to.take());
        if let Some(thread) = self.thread.take() {
            // It may sleep until a loop unparks, which will not happen now.
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// One loop's watch: its own monitor thread, or its place in a group's.
#[derive(Debug)]
pub(crate) enum Monitor {
    /// A thread of its own, stopped and joined when the loop is dropped.
    Own {
        /// Held for its drop.
        _thread: MonitorThread,
    },
    /// A registration with a group's thread, withdrawn (without waiting) when the loop is
    /// dropped.
    InGroup(Arc<MonitorThread>, u64),
}

impl Monitor {
    /// Starts a monitor thread for the loop that publishes into `probe`, which runs on the
    /// calling thread. Its reports name the loop `name`, if it has one.
    pub(crate) fn start(
        probe: Arc<Probe>,
        config: MonitorConfig,
        name: Option<&str>,
    ) -> io::Result<Monitor> {
        let thread = MonitorThread::start()?;
        thread.watch(probe, config, name);
        Ok(Monitor::Own { _thread: thread })
    }

    /// Has a group's monitor thread watch the loop that publishes into `probe`, which runs on
    /// the calling thread.
    pub(crate) fn join(
        group: &Arc<MonitorThread>,
        probe: Arc<Probe>,
        config: MonitorConfig,
        name: Option<&str>,
    ) -> Monitor {
        let id = group.watch(probe, config, name);
        Monitor::InGroup(group.clone(), id)
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if let Monitor::InGroup(group, id) = self {
            group.send(Message::Unwatch(*id));
        }
    }
}

/// A monitor thread's loop: every tick, sample each watched loop's probe; sleep while every
/// loop is idle (or none is watched), until a loop or a message wakes it; end when the
/// registrations' sender is dropped.
fn run(from: &mpsc::Receiver<Message>) {
    let mut watchers: Vec<(u64, Box<Watcher>)> = Vec::new();
    loop {
        let tick = watchers
            .iter()
            .filter(|(_, w)| !w.asleep)
            .map(|(_, w)| w.tick)
            .min();
        let message = match tick {
            Some(tick) => match from.recv_timeout(tick) {
                Ok(message) => Some(message),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            },
            // Every loop idle, or none watched: nothing to sample until one of them wakes.
            None => match from.try_recv() {
                Ok(message) => Some(message),
                Err(mpsc::TryRecvError::Empty) => {
                    thread::park();
                    None
                }
                Err(mpsc::TryRecvError::Disconnected) => return,
            },
        };
        let mut next = message;
        while let Some(message) = next {
            match message {
                Message::Watch(id, watcher) => watchers.push((id, watcher)),
                Message::Unwatch(id) => watchers.retain(|(i, _)| *i != id),
            }
            next = match from.try_recv() {
                Ok(message) => Some(message),
                Err(mpsc::TryRecvError::Empty) => None,
                Err(mpsc::TryRecvError::Disconnected) => return,
            };
        }
        for (_, watcher) in &mut watchers {
            watcher.sample();
        }
    }
}

/// What the monitor knows of one loop between samples.
struct Watcher {
    probe: Arc<Probe>,
    config: MonitorConfig,
    /// The start of every report: the loop's name, if it has one.
    who: String,
    /// The loop thread's scheduler counts, if the OS keeps them.
    sched: Option<ThreadSched>,
    /// The time between samples: a twentieth of the threshold, between 1 and 50 ms.
    tick: Duration,
    /// The counts at the first sample that saw the current poll still running, and at the
    /// first that saw no cycle completed while not parked: read only during long polls.
    poll_base: Option<(Instant, SchedTimes)>,
    stall_base: Option<(Instant, SchedTimes)>,
    /// The poll seen at the last sample (its cycle and task; `None` when parked), and since
    /// when.
    poll: (Option<(u64, u64)>, Instant),
    /// The description of the task of a poll seen running for at least the threshold.
    slow_task: Option<String>,
    /// The cycle count at the last sample, and since when it has not changed.
    cycles: (u64, Instant),
    /// When the stall being reported began.
    stall: Option<Instant>,
    /// Since when the loop has been seen parked in the same cycle, at every sample.
    idle: Option<(u64, Instant)>,
    /// Whether the monitor sleeps for this loop until it leaves its wait.
    asleep: bool,
}

impl Watcher {
    fn new(
        probe: Arc<Probe>,
        config: MonitorConfig,
        name: Option<&str>,
        sched: Option<ThreadSched>,
    ) -> Watcher {
        let start = Instant::now();
        let cycles = (probe.sample().0, start);
        Watcher {
            probe,
            config,
            // Every report begins with the loop's name, so that one of several loops is told
            // apart.
            who: name.map_or_else(String::new, |name| format!("loop \"{name}\": ")),
            sched,
            tick: (config.threshold / 20)
                .clamp(Duration::from_millis(1), Duration::from_millis(50)),
            poll_base: None,
            stall_base: None,
            poll: (None, start),
            slow_task: None,
            cycles,
            stall: None,
            idle: None,
            asleep: false,
        }
    }

    /// The loop thread's scheduler counts now, if the OS keeps them.
    fn counts(&self) -> Option<SchedTimes> {
        self.sched.as_ref().and_then(ThreadSched::read)
    }

    /// One sample of the loop's probe: notes slow polls and stalls, reports them, and decides
    /// whether the monitor may sleep for this loop.
    fn sample(&mut self) {
        let probe = &self.probe;
        let config = self.config;
        if self.asleep {
            if probe.monitor_asleep() {
                return;
            }
            // The loop left its wait: the time asleep was idle, no poll or stall began in it.
            self.asleep = false;
            let now = Instant::now();
            probe.advance_clock(now);
            let (cycle, current) = probe.sample();
            self.poll = (current, now);
            self.cycles = (cycle, now);
            self.idle = None;
            return;
        }
        let now = Instant::now();
        probe.advance_clock(now);
        let (cycle, current) = probe.sample();
        self.idle = match (current, self.idle) {
            (None, Some((c, since))) if c == cycle => Some((c, since)),
            (None, _) => Some((cycle, now)),
            (Some(_), _) => None,
        };
        if let Some((c, since)) = self.idle {
            if now - since >= config.threshold
                && self.slow_task.is_none()
                && self.stall.is_none()
                && probe.monitor_may_sleep(c)
            {
                // Nothing to watch until the loop leaves its wait: it wakes the monitor then.
                self.asleep = true;
                return;
            }
        }
        let parked = current.is_none();
        if current != self.poll.0 {
            if let Some(task) = self.slow_task.take() {
                if config.slow_polls {
                    let cause = cause_since(self.poll_base, self.counts(), now, config.threshold);
                    report_slow_poll(&self.who, &task, now - self.poll.1, config.threshold, cause);
                }
            }
            self.poll = (current, now);
            self.poll_base = None;
        } else if current.is_some() {
            if self.poll_base.is_none() {
                self.poll_base = self.counts().map(|c| (now, c));
            }
            // The same poll is still running: it has run for at least `running_for`, and at
            // most one tick more.
            let running_for = now - self.poll.1;
            probe.saw_poll(running_for + self.tick);
            if self.slow_task.is_none() && running_for >= config.threshold {
                self.slow_task = Some(probe.running_task());
            }
        }

        if cycle != self.cycles.0 || parked {
            if let Some(began) = self.stall.take() {
                report::warn(format_args!(
                    "{}the event loop recovered after a stall of about {} ms",
                    self.who,
                    (now - began).as_millis()
                ));
            }
            self.cycles = (cycle, now);
            self.stall_base = None;
        } else {
            if self.stall_base.is_none() {
                self.stall_base = self.counts().map(|c| (now, c));
            }
            if config.watchdog && self.stall.is_none() && now - self.cycles.1 >= config.threshold {
                self.stall = Some(self.cycles.1);
                let cause = cause_since(self.stall_base, self.counts(), now, config.threshold);
                report_stall(&self.who, now - self.cycles.1, &probe.running_task(), cause);
            }
        }
    }
}

/// What the loop thread's time since `base` was mostly spent on, with the stretch's length.
fn cause_since(
    base: Option<(Instant, SchedTimes)>,
    now_counts: Option<SchedTimes>,
    now: Instant,
    threshold: Duration,
) -> Option<(Cause, Duration)> {
    let (since, before) = base?;
    let elapsed = now - since;
    Some((
        sched::classify(elapsed, before, now_counts?, threshold),
        elapsed,
    ))
}

/// ` (9 threads ready to run on 2 CPUs; load average 9.60)`, as far as the OS says.
fn load() -> String {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    let ready = evloop_bridge::process::runnable_threads().map(|r| {
        format!(
            "{r} threads ready to run on {cpus} CPU{}",
            if cpus == 1 { "" } else { "s" }
        )
    });
    let average = sched::load_average().map(|l| format!("load average {l:.2}"));
    match (ready, average) {
        (Some(r), Some(a)) => format!(" ({r}; {a})"),
        (Some(one), None) | (None, Some(one)) => format!(" ({one})"),
        (None, None) => String::new(),
    }
}

/// The advice for code that blocks the loop, by what it was doing.
const MOVE_BLOCKING: &str = "move blocking calls to evloop::run_in_executor / evloop::to_thread";
const YIELD_OR_MOVE: &str = "await evloop::yield_now() every few milliseconds in long \
     computations, or move them to evloop::run_in_executor / evloop::run_in_process";

fn report_stall(who: &str, stalled: Duration, task: &str, cause: Option<(Cause, Duration)>) {
    let ms = stalled.as_millis();
    match cause {
        Some((Cause::Starved { waited }, window)) => report::warn(format_args!(
            "{who}the event loop has been stalled for {ms} ms so far (no cycle completed), but its \
             thread waited {} of the last {} ms for a CPU: the machine is overloaded{}; {task} \
             is not blocking it",
            waited.as_millis(),
            window.as_millis(),
            load()
        )),
        Some((Cause::Computing { on_cpu }, window)) => report::warn(format_args!(
            "{who}the event loop has been stalled for {ms} ms so far (no cycle completed); running \
             now: {task}, computing (on a CPU for {} of the last {} ms). Every other task is \
             waiting: {YIELD_OR_MOVE}",
            on_cpu.as_millis(),
            window.as_millis()
        )),
        Some((Cause::Blocked { asleep }, window)) => report::warn(format_args!(
            "{who}the event loop has been stalled for {ms} ms so far (no cycle completed); running \
             now: {task}, blocked in a system call (asleep for {} of the last {} ms). Every \
             other task is waiting: {MOVE_BLOCKING}",
            asleep.as_millis(),
            window.as_millis()
        )),
        Some((Cause::Mixed, _)) | None => report::warn(format_args!(
            "{who}the event loop has been stalled for {ms} ms so far (no cycle completed); running \
             now: {task}. Every other task is waiting: {MOVE_BLOCKING}, and await \
             evloop::yield_now() every few milliseconds in long computations"
        )),
    }
}

fn report_slow_poll(
    who: &str,
    task: &str,
    took: Duration,
    threshold: Duration,
    cause: Option<(Cause, Duration)>,
) {
    let (ms, limit) = (took.as_millis(), threshold.as_millis());
    match cause {
        Some((Cause::Starved { waited }, window)) => report::warn(format_args!(
            "{who}{task} held the event loop for about {ms} ms in one poll (threshold {limit} ms), \
             but the loop's thread waited {} of the last {} ms of it for a CPU: the machine is \
             overloaded{}; the task itself is not blocking the loop",
            waited.as_millis(),
            window.as_millis(),
            load()
        )),
        Some((Cause::Computing { on_cpu }, window)) => report::warn(format_args!(
            "{who}{task} blocked the event loop for about {ms} ms in one poll (threshold {limit} \
             ms), computing (on a CPU for {} of the last {} ms of it); every other task waited \
             meanwhile. {YIELD_OR_MOVE}",
            on_cpu.as_millis(),
            window.as_millis()
        )),
        Some((Cause::Blocked { asleep }, window)) => report::warn(format_args!(
            "{who}{task} blocked the event loop for about {ms} ms in one poll (threshold {limit} \
             ms), in a blocking call (asleep for {} of the last {} ms of it); every other task \
             waited meanwhile. Move blocking calls to evloop::run_in_executor / \
             evloop::to_thread",
            asleep.as_millis(),
            window.as_millis()
        )),
        Some((Cause::Mixed, _)) | None => report::warn(format_args!(
            "{who}{task} blocked the event loop for about {ms} ms in one poll (threshold {limit} \
             ms); every other task waited meanwhile. Move blocking calls to \
             evloop::run_in_executor / evloop::to_thread, and await evloop::yield_now() every \
             few milliseconds in long computations"
        )),
    }
}

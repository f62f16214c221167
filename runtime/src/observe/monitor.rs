//! The monitor thread: finds the blocking call while it happens, from what the loop publishes
//! in its [`Probe`].
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

/// The running monitor thread; dropping it stops and joins the thread.
#[derive(Debug)]
pub(crate) struct Monitor {
    /// Dropped to tell the thread to stop.
    stop: Option<mpsc::Sender<()>>,
    /// Joined on drop, so no thread outlives the loop.
    thread: Option<thread::JoinHandle<()>>,
}

impl Monitor {
    /// Starts the monitor thread for the loop that publishes into `probe`, which runs on the
    /// calling thread.
    /// Its reports name the loop `name`, if it has one.
    pub(crate) fn start(
        probe: Arc<Probe>,
        config: MonitorConfig,
        name: Option<&str>,
    ) -> io::Result<Monitor> {
        let (stop, stopped) = mpsc::channel();
        // Every report begins with the loop's name, so that one of several loops is told apart.
        let who = name.map_or_else(String::new, |name| format!("loop \"{name}\": "));
        // The loop thread's scheduler counts, opened here, on the loop thread.
        let sched = ThreadSched::current();
        let thread = thread::Builder::new()
            .name("evloop-monitor".into())
            .spawn(move || watch(&probe, config, &who, sched.as_ref(), &stopped))?;
        Ok(Monitor {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // It may sleep until the loop unparks, which will not happen now.
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// The monitor thread's loop: sample the probe every tick until told to stop.
fn watch(
    probe: &Probe,
    config: MonitorConfig,
    who: &str,
    sched: Option<&ThreadSched>,
    stopped: &mpsc::Receiver<()>,
) {
    // The loop thread's scheduler counts now, if the OS keeps them.
    let counts = || sched.and_then(ThreadSched::read);
    // The counts at the first sample that saw the current poll still running, and at the first
    // that saw no cycle completed while not parked: read only during long polls.
    let mut poll_base: Option<(Instant, SchedTimes)> = None;
    let mut stall_base: Option<(Instant, SchedTimes)> = None;
    let tick = (config.threshold / 20).clamp(Duration::from_millis(1), Duration::from_millis(50));
    let start = Instant::now();
    // The poll seen at the last sample (its cycle and task; `None` when parked), and since when.
    let mut poll: (Option<(u64, u64)>, Instant) = (None, start);
    // The description of the task of a poll seen running for at least the threshold.
    let mut slow_task: Option<String> = None;
    // The cycle count at the last sample, and since when it has not changed.
    let mut cycles = (probe.sample().0, start);
    // When the stall being reported began.
    let mut stall: Option<Instant> = None;

    probe.set_monitor(thread::current());
    // Since when the loop has been seen parked in the same cycle, at every sample.
    let mut idle: Option<(u64, Instant)> = None;

    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
        let mut now = Instant::now();
        probe.advance_clock(now);
        let (mut cycle, mut current) = probe.sample();
        idle = match (current, idle) {
            (None, Some((c, since))) if c == cycle => Some((c, since)),
            (None, _) => Some((cycle, now)),
            (Some(_), _) => None,
        };
        if let Some((c, since)) = idle {
            if now - since >= config.threshold && slow_task.is_none() && stall.is_none() {
                // Nothing to watch until the loop leaves its wait: sleep until it wakes us.
                if probe.monitor_may_sleep(c) {
                    while probe.monitor_asleep() {
                        thread::park();
                        if let Err(mpsc::TryRecvError::Disconnected) = stopped.try_recv() {
                            return;
                        }
                    }
                    now = Instant::now();
                    probe.advance_clock(now);
                    (cycle, current) = probe.sample();
                    // The time asleep was idle: no poll or stall began in it.
                    poll = (current, now);
                    cycles = (cycle, now);
                    idle = None;
                    continue;
                }
            }
        }
        let parked = current.is_none();
        if current != poll.0 {
            if let Some(task) = slow_task.take() {
                if config.slow_polls {
                    let cause = cause_since(poll_base, counts(), now, config.threshold);
                    report_slow_poll(who, &task, now - poll.1, config.threshold, cause);
                }
            }
            poll = (current, now);
            poll_base = None;
        } else if current.is_some() {
            if poll_base.is_none() {
                poll_base = counts().map(|c| (now, c));
            }
            // The same poll is still running: it has run for at least `running_for`, and at
            // most one tick more.
            let running_for = now - poll.1;
            probe.saw_poll(running_for + tick);
            if slow_task.is_none() && running_for >= config.threshold {
                slow_task = Some(probe.running_task());
            }
        }

        if cycle != cycles.0 || parked {
            if let Some(began) = stall.take() {
                report::warn(format_args!(
                    "{who}the event loop recovered after a stall of about {} ms",
                    (now - began).as_millis()
                ));
            }
            cycles = (cycle, now);
            stall_base = None;
        } else {
            if stall_base.is_none() {
                stall_base = counts().map(|c| (now, c));
            }
            if config.watchdog && stall.is_none() && now - cycles.1 >= config.threshold {
                stall = Some(cycles.1);
                let cause = cause_since(stall_base, counts(), now, config.threshold);
                report_stall(who, now - cycles.1, &probe.running_task(), cause);
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

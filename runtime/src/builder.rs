//! [`Builder`]: a loop's settings, from code or from `EVLOOP_*` environment variables.

use std::ffi::OsString;
use std::io;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use crate::io::poller::{Backend, Poller};
use crate::observe::monitor::{Monitor, MonitorConfig, MonitorThread};
use crate::observe::observer::Instruments;
use crate::observe::probe::Probe;
use crate::observe::report;
use crate::runtime::Runtime;
use crate::scheduler::default_pool::GroupPools;
use crate::scheduler::{Core, LoopConfig};

/// Configures and creates a [`Runtime`].
///
/// # Examples
///
/// ```
/// let rt = evloop::Builder::new().name("api-server").build()?;
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    /// Name of the loop, shown in reports.
    name: Option<String>,
    /// How many OS events one call to the poller can return.
    event_capacity: NonZeroUsize,
    /// Set by [`Builder::slow_poll_threshold`]; otherwise `EVLOOP_SLOW_POLL_MS`, or 100 ms.
    slow_poll_threshold: Option<Duration>,
    /// Set by [`Builder::slow_poll_reports`]; on by default.
    slow_poll_reports: bool,
    /// Set by [`Builder::stall_watchdog`]; otherwise as `EVLOOP_WATCHDOG` says, or on.
    stall_watchdog: Option<bool>,
    /// Set by [`Builder::poll_timing`]; otherwise `EVLOOP_POLL_TIMING`, or on in debug builds.
    poll_timing: Option<bool>,
    /// Set by [`Builder::trace_cycles`]; otherwise as `EVLOOP_TRACE_CYCLES` says, or off.
    trace_cycles: Option<bool>,
    /// Operations a task may complete in one poll without waiting ([`Builder::coop_budget`]).
    coop_budget: u32,
    /// How late a timer may fire so that it fires with others ([`Builder::timer_slack`]).
    timer_slack: Duration,
    /// How long the loop may spin for a wake from another thread before it sleeps
    /// ([`Builder::idle_spin`]).
    idle_spin: Duration,
    /// How long closing the loop waits for its default pool's jobs ([`Builder::shutdown_timeout`]).
    shutdown_timeout: Duration,
    /// Set by [`Builder::poller`]; otherwise as `EVLOOP_POLLER` says, or this OS's default.
    poller: Option<Backend>,
    /// A `per_core` group's pools, used instead of the loop's own.
    group_pools: Option<Arc<GroupPools>>,
    /// A `per_core` group's monitor thread, used instead of one of the loop's own.
    group_monitor: Option<Arc<MonitorThread>>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with the defaults: no name, 1024 events per poll.
    pub fn new() -> Self {
        Builder {
            name: None,
            event_capacity: NonZeroUsize::new(1024).unwrap(),
            slow_poll_threshold: None,
            slow_poll_reports: true,
            stall_watchdog: None,
            poll_timing: None,
            trace_cycles: None,
            coop_budget: DEFAULT_COOP_BUDGET,
            timer_slack: Duration::ZERO,
            idle_spin: default_idle_spin(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            poller: None,
            group_pools: None,
            group_monitor: None,
        }
    }

    /// Names the loop; the name appears in reports and in [`Runtime`]'s `Debug` output.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Makes the loop use a `per_core` group's default and I/O pools and its monitor thread (if
    /// it has one) instead of its own.
    pub(crate) fn in_group(
        mut self,
        pools: Arc<GroupPools>,
        monitor: Option<Arc<MonitorThread>>,
    ) -> Self {
        self.group_pools = Some(pools);
        self.group_monitor = monitor;
        self
    }

    /// Names the loop `name` unless it was named already (`per_core` names its loops).
    pub(crate) fn name_if_unset(mut self, name: String) -> Self {
        self.name.get_or_insert(name);
        self
    }

    /// Sets how many OS events a single poll can return (default 1024). More events than this
    /// are simply returned by the next poll.
    pub fn event_capacity(mut self, capacity: NonZeroUsize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// Sets how long one poll of a task may take before it is reported as blocking the loop
    /// (default 100 ms, asyncio's `slow_callback_duration`, or the `EVLOOP_SLOW_POLL_MS`
    /// environment variable). The same threshold tells the stall watchdog when to speak.
    ///
    /// A zero threshold, or one over an hour, makes [`build`](Self::build) fail.
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Self {
        self.slow_poll_threshold = Some(threshold);
        self
    }

    /// Whether polls longer than the threshold are reported (default: on).
    ///
    /// Reports name the task (id, name, spawn location) and how long its poll took. They come
    /// from a monitor thread that watches what the loop publishes with a few relaxed atomic
    /// stores per poll, so the loop itself never reads a clock for them; see
    /// [`stall_watchdog`](Self::stall_watchdog). With reports and watchdog both off, no monitor
    /// thread runs.
    pub fn slow_poll_reports(mut self, on: bool) -> Self {
        self.slow_poll_reports = on;
        self
    }

    /// Whether the monitor thread also reports stalls while they last (default: on, or as the
    /// `EVLOOP_WATCHDOG` environment variable says).
    ///
    /// A stall is a time longer than the threshold in which no cycle of the loop completes
    /// although the loop is not idle in the poller: a task blocked in a synchronous call, such
    /// as `futures_lite::future::block_on` or a lock, inside the loop. The watchdog reports it
    /// while the loop is still stuck, naming the task that is running, and again when the loop
    /// recovers, with the total. An idle loop is never reported and never woken. It costs the
    /// loop thread nothing: the monitor thread reads what the loop publishes for slow-poll
    /// reports anyway.
    pub fn stall_watchdog(mut self, on: bool) -> Self {
        self.stall_watchdog = Some(on);
        self
    }

    /// Whether every task poll is timed, for
    /// [`Stats::poll_durations`](crate::Stats::poll_durations),
    /// [`Stats::scheduling_delays`](crate::Stats::scheduling_delays) and an exact
    /// [`Stats::longest_poll`](crate::Stats::longest_poll) (default: on in debug builds, off in
    /// release builds, or as the `EVLOOP_POLL_TIMING` environment variable says).
    ///
    /// It reads the clock once per poll, which costs more than half of a `yield_now` here; the
    /// slow-poll reports and the watchdog do not need it.
    pub fn poll_timing(mut self, on: bool) -> Self {
        self.poll_timing = Some(on);
        self
    }

    /// Whether the loop reports each step of each cycle, to watch Run → Poll → Resume happen
    /// (default: off, or as the `EVLOOP_TRACE_CYCLES` environment variable says).
    ///
    /// Three lines per cycle, through `tracing` (target `evloop::cycle`, level `INFO`) or on
    /// stderr: the tasks polled in step 1, the poller's timeout, wait and events in step 2, and
    /// what woke the tasks resumed in step 3. When off, it costs one branch per cycle.
    pub fn trace_cycles(mut self, on: bool) -> Self {
        self.trace_cycles = Some(on);
        self
    }

    /// Sets how many operations a task may complete in one poll without waiting before the loop
    /// makes it yield (default 128, as tokio's).
    ///
    /// Every evloop operation that completes at once (a socket read, write or accept, an
    /// `Async` readiness check, a timer already due, a `JoinHandle` already done) spends one
    /// unit; when the budget is spent, the next such operation wakes the task and returns
    /// `Pending`, so the task goes to the back of the ready queue and the cycle, with its I/O
    /// poll, goes on. Without it, a loop around an operation that never waits, such as an
    /// accept loop that logs "too many open files" and tries again, would freeze every other
    /// task for ever. A forced yield costs a trip through the ready queue; they are counted in
    /// [`Stats::forced_yields`](crate::Stats::forced_yields). A budget of zero makes
    /// [`build`](Self::build) fail; `u32::MAX` turns the budget off in practice.
    pub fn coop_budget(mut self, units: u32) -> Self {
        self.coop_budget = units;
        self
    }

    /// Lets timers fire up to `slack` late so that timers with nearby deadlines fire together
    /// (default: zero, every timer at its own deadline).
    ///
    /// The loop then sleeps until the nearest deadline plus `slack` and fires every timer due
    /// by then in one wake-up, like Linux's timer slack. With many timers spread over short
    /// intervals this trades precision for CPU: 1,000 tasks sleeping 1 to 1,000 µs wake the
    /// loop a few times instead of once per timer or two. tokio rounds every deadline up to the
    /// next millisecond; a slack of 1 ms gives the same batching with a lateness bounded by
    /// the slack, never more. Timers never fire early.
    ///
    /// A slack over one second makes [`build`](Self::build) fail.
    pub fn timer_slack(mut self, slack: Duration) -> Self {
        self.timer_slack = slack;
        self
    }

    /// Sets how long a loop with nothing to do may spin, waiting for a wake from another thread,
    /// before it goes to sleep in the OS poller (default: 50 µs where the machine's load can be
    /// read, that is on Linux; zero, no spinning, elsewhere; zero turns spinning off).
    ///
    /// A loop that offloads short jobs (`run_in_executor`, `to_thread`) or answers another
    /// thread is woken from other threads, again and again, shortly after it goes to sleep.
    /// Each such wake-up costs the waking thread a system call and the loop the kernel's
    /// wake-up path, on an idle core the core's exit from its sleep state: tens of
    /// microseconds on a virtual machine. So the loop learns: after two sleeps in a row that
    /// another thread ended within `spin`, it spins for up to `spin` before its next sleep,
    /// watching for such a wake (and yielding its core to any thread waiting for it); once a
    /// spin ends without one, or a sleep ends otherwise (I/O, a timer, a longer wait), it stops
    /// spinning until the pattern comes back. It also compares: while spinning gets the wake
    /// later than sleeping did (the spin keeps a core that the waking thread needs), it sleeps,
    /// and tries a spin once every 64 waits. And it spins only while the machine has a core to
    /// spare: once every 64 waits it reads how many threads are ready to run (Linux's
    /// `/proc/loadavg`, an in-memory file: a few microseconds), and while they outnumber the
    /// cores it sleeps, because a spin would take CPU time from other programs and make the
    /// loop's own wake-ups wait longer for a core. Where the OS does not say (macOS, the BSDs:
    /// they have no cheap count of the threads ready to run), a loop does not spin unless told
    /// to with this setting, and then spins whatever the load. A loop woken by its sockets
    /// never spins. While it spins the loop does not
    /// poll for I/O, so readiness is seen at most `spin` late, and it never spins past its
    /// next timer. The cost is up to `spin` of CPU per wait while the pattern holds (a loop
    /// that another thread wakes every 30 µs keeps its core busy instead of sleeping between
    /// wakes): where CPU time matters more than latency (a battery, a machine shared by many
    /// loops), set zero. [`Stats::wakes_while_spinning`] counts the wake-ups it caught.
    ///
    /// Measured in the report's rows on this project's 2-core virtual machine: when idle, the
    /// cross-thread wake round trip takes 3.0–3.8 µs with the default against 16–21 µs with
    /// the spin off, and a 10 µs thread-pool job 15.8–16.9 µs against 31–33 µs (28 µs of CPU
    /// per round trip against 36–38 µs, the job's 10 µs included); a process-pool round trip
    /// awaited with `run_in_process` wakes the loop through its poller (the reply arrives on
    /// the worker's channel), so the loop does not spin for it. With both cores kept busy by
    /// other programs, the loop does not spin.
    ///
    /// A spin over one millisecond makes [`build`](Self::build) fail.
    ///
    /// [`Stats::wakes_while_spinning`]: crate::Stats::wakes_while_spinning
    pub fn idle_spin(mut self, spin: Duration) -> Self {
        self.idle_spin = spin;
        self
    }

    /// Sets how long closing the loop (the end of [`run`](crate::run), dropping a
    /// [`Runtime`]) waits for the jobs of its default pool (`run_in_executor(None, ..)`,
    /// `to_thread`, `fs`, name resolution) to finish (default: 5 s).
    ///
    /// Jobs already submitted, even those whose handle was dropped, are waited for: a dropped
    /// `fs::File` writes its last buffered data in one. A job still running when the time is up
    /// is reported on stderr (or through `tracing`) with where it was submitted, and left to
    /// finish in the background, so a job that never returns cannot keep a finished program
    /// from exiting. Five seconds is far longer than a file write or a name lookup takes, and
    /// short enough that a stuck job is noticed; asyncio waits up to 300 s and warns.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Which OS poller the loop waits in (default: evloop's own epoll backend on Linux, the
    /// `polling` crate's kqueue elsewhere; or as the `EVLOOP_POLLER` environment variable says,
    /// `epoll` or `polling`).
    ///
    /// On Linux both work: the epoll backend makes fewer system calls (one per wait, where
    /// `polling` re-arms a timerfd and its notifier around it) and reports a peer's
    /// half-close, which saves the read that would only return `WouldBlock` after a short
    /// read; `polling` is kept selectable there to compare them. [`Backend::Epoll`] elsewhere
    /// makes [`build`](Self::build) fail with `Unsupported`.
    pub fn poller(mut self, backend: Backend) -> Self {
        self.poller = Some(backend);
        self
    }

    /// Creates the runtime: the OS poller, the ready queue, the timers and the I/O registry,
    /// and the monitor thread when slow-poll reports or the watchdog are on.
    ///
    /// # Errors
    ///
    /// Returns the OS error if the poller or the monitor thread cannot be created (for example
    /// when the process is out of file descriptors), [`io::ErrorKind::Unsupported`] on platforms
    /// whose poller has no edge-triggered mode, and [`io::ErrorKind::InvalidInput`] for a
    /// slow-poll threshold of zero or over an hour set with
    /// [`slow_poll_threshold`](Self::slow_poll_threshold), a cooperative budget of zero, or a
    /// timer slack over one second.
    ///
    /// An `EVLOOP_*` environment variable that cannot be read is no error: it is reported once
    /// (naming the variable and its value) and the default is used. Boolean variables accept
    /// `1`/`0`, `true`/`false`, `yes`/`no` and `on`/`off`, in any case.
    pub fn build(self) -> io::Result<Runtime> {
        if self.coop_budget == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "evloop: the cooperative budget must be at least 1 operation per poll",
            ));
        }
        at_most("timer slack", self.timer_slack, Duration::from_secs(1))?;
        at_most("idle spin", self.idle_spin, Duration::from_millis(1))?;
        let settings = Settings::resolve(
            &self,
            |name| std::env::var_os(name),
            |message| report::warn(format_args!("{message}")),
        )?;
        let (poller, events) = Poller::new(settings.poller, self.event_capacity)?;
        let probe = Arc::new(Probe::new());
        let monitor = if self.slow_poll_reports || settings.watchdog {
            let config = MonitorConfig {
                threshold: settings.threshold,
                slow_polls: self.slow_poll_reports,
                watchdog: settings.watchdog,
            };
            Some(match &self.group_monitor {
                Some(group) => Monitor::join(group, probe.clone(), config, self.name.as_deref()),
                None => Monitor::start(probe.clone(), config, self.name.as_deref())?,
            })
        } else {
            None
        };
        let instruments = Instruments {
            publish: monitor.is_some(),
            poll_timing: settings.poll_timing,
            trace: settings.trace,
        };
        let config = LoopConfig {
            name: self.name,
            instruments,
            coop_budget: self.coop_budget,
            timer_slack: self.timer_slack,
            shutdown_timeout: self.shutdown_timeout,
            idle_spin: self.idle_spin,
            group_pools: self.group_pools,
        };
        let core = Core::new(config, Arc::new(poller), events, probe);
        Ok(Runtime::new(core, monitor))
    }
}

/// The settings that may come from the environment, resolved: the builder's value where it set
/// one, otherwise the environment variable's, otherwise the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Settings {
    /// Slow-poll threshold (`EVLOOP_SLOW_POLL_MS`; 100 ms).
    threshold: Duration,
    /// Stall watchdog (`EVLOOP_WATCHDOG`; on).
    watchdog: bool,
    /// Cycle trace (`EVLOOP_TRACE_CYCLES`; off).
    trace: bool,
    /// Poll timing (`EVLOOP_POLL_TIMING`; on in debug builds).
    poll_timing: bool,
    /// The OS poller (`EVLOOP_POLLER`; epoll on Linux, `polling` elsewhere).
    poller: Backend,
}

/// The default cooperative budget: tokio's, which lets a task do a good deal of work per poll
/// while a forced yield stays rare.
const DEFAULT_COOP_BUDGET: u32 = 128;

/// How long closing a loop waits for its default pool's jobs, by default.
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// `Ok` if the setting `what` is at most `max`, else an `InvalidInput` error saying so.
fn at_most(what: &str, value: Duration, max: Duration) -> io::Result<()> {
    if value <= max {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("evloop: the {what} must be at most {max:?}, got {value:?}"),
    ))
}

/// How long an idle loop spins for a wake from another thread before it sleeps, once such
/// wakes keep coming quickly and the machine has a core to spare; see [`Builder::idle_spin`].
const DEFAULT_IDLE_SPIN: Duration = Duration::from_micros(50);

/// The idle spin of a new builder: [`DEFAULT_IDLE_SPIN`] where the machine's load can be read
/// (the spin is then taken off whenever the machine has no core to spare), none elsewhere: a
/// spin that cannot see a crowded machine would take CPU time from its other programs.
fn default_idle_spin() -> Duration {
    static LOAD_READABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let readable =
        *LOAD_READABLE.get_or_init(|| crate::scheduler::spin::runnable_threads().is_some());
    if readable {
        DEFAULT_IDLE_SPIN
    } else {
        Duration::ZERO
    }
}

/// The default slow-poll threshold, asyncio's `slow_callback_duration`.
const DEFAULT_THRESHOLD: Duration = Duration::from_millis(100);

/// The largest slow-poll threshold accepted.
const MAX_THRESHOLD: Duration = Duration::from_secs(3600);

impl Settings {
    /// Resolves the settings of `builder`, reading environment variables through `env`. An
    /// environment variable that cannot be read is passed to `warn` (naming the variable and
    /// its value) and the default is used: a typo in the environment never stops a program.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for a threshold set on the builder that is zero or over
    /// an hour.
    fn resolve(
        builder: &Builder,
        env: impl Fn(&str) -> Option<OsString>,
        mut warn: impl FnMut(String),
    ) -> io::Result<Settings> {
        let threshold = match builder.slow_poll_threshold {
            Some(threshold) if threshold.is_zero() || threshold > MAX_THRESHOLD => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "evloop: slow-poll threshold must be between 1 ms and 1 hour, got \
                         {threshold:?}"
                    ),
                ));
            }
            Some(threshold) => threshold,
            None => match env_threshold(env("EVLOOP_SLOW_POLL_MS")) {
                Ok(threshold) => threshold.unwrap_or(DEFAULT_THRESHOLD),
                Err(message) => {
                    warn(message);
                    DEFAULT_THRESHOLD
                }
            },
        };
        let poller = match builder.poller {
            Some(backend) => backend,
            None => match env("EVLOOP_POLLER") {
                None => Backend::default_for_this_os(),
                Some(value) => match Backend::from_name(&value.to_string_lossy()) {
                    Some(backend) => backend,
                    None => {
                        let default = Backend::default_for_this_os();
                        warn(format!(
                            "EVLOOP_POLLER={:?} is not a poller evloop has (use epoll or \
                             polling); using the default, {default:?}",
                            value.to_string_lossy()
                        ));
                        default
                    }
                },
            },
        };
        let mut flag = |set: Option<bool>, name: &str, default: bool| {
            if let Some(on) = set {
                return on;
            }
            let Some(value) = env(name) else {
                return default;
            };
            parse_flag(&value).map_or_else(
                || {
                    warn(format!(
                    "{name}={:?} is not a setting evloop can read (use 1/0, true/false, yes/no \
                     or on/off); using the default, {}",
                        value.to_string_lossy(),
                        if default { "on" } else { "off" }
                    ));
                    default
                },
                |on| on.unwrap_or(default),
            )
        };
        Ok(Settings {
            threshold,
            poller,
            watchdog: flag(builder.stall_watchdog, "EVLOOP_WATCHDOG", true),
            trace: flag(builder.trace_cycles, "EVLOOP_TRACE_CYCLES", false),
            poll_timing: flag(
                builder.poll_timing,
                "EVLOOP_POLL_TIMING",
                cfg!(debug_assertions),
            ),
        })
    }
}

/// The value of `EVLOOP_SLOW_POLL_MS`, if set; a message naming it if it cannot be used.
fn env_threshold(value: Option<OsString>) -> Result<Option<Duration>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    let text = value.to_string_lossy();
    if text.trim().is_empty() {
        return Ok(None);
    }
    match text.trim().parse::<u64>().map(Duration::from_millis) {
        Ok(ms) if !ms.is_zero() && ms <= MAX_THRESHOLD => Ok(Some(ms)),
        _ => Err(format!(
            "EVLOOP_SLOW_POLL_MS={text:?} is not a whole number of milliseconds from 1 to \
             3600000; using the default, {} ms",
            DEFAULT_THRESHOLD.as_millis()
        )),
    }
}

/// A boolean setting's value: `1/0`, `true/false`, `yes/no`, `on/off` in any case (an empty
/// value means the default); `None` if it is none of these.
fn parse_flag(value: &OsString) -> Option<Option<bool>> {
    let value = value.to_str()?.trim().to_ascii_lowercase();
    match value.as_str() {
        "" => Some(None),
        "1" | "true" | "yes" | "on" => Some(Some(true)),
        "0" | "false" | "no" | "off" => Some(Some(false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::ffi::OsString;
    use std::io;
    use std::time::Duration;

    use super::{Builder, Settings};

    /// Resolves `builder` against an environment holding exactly `vars`; returns the settings
    /// and the warnings.
    fn resolve(builder: Builder, vars: &[(&str, &str)]) -> io::Result<(Settings, Vec<String>)> {
        let env: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        let mut warnings = Vec::new();
        let settings = Settings::resolve(
            &builder,
            |name| env.get(name).cloned(),
            |w| warnings.push(w),
        )?;
        Ok((settings, warnings))
    }

    #[test]
    fn defaults_without_environment() {
        let (s, warnings) = resolve(Builder::new(), &[]).unwrap();
        assert_eq!(s.threshold, Duration::from_millis(100));
        assert!(s.watchdog, "the watchdog is on by default");
        assert!(!s.trace);
        assert_eq!(s.poll_timing, cfg!(debug_assertions));
        assert!(warnings.is_empty());
    }

    #[test]
    fn environment_variables_set_what_the_builder_left_open() {
        let (s, warnings) = resolve(
            Builder::new(),
            &[
                ("EVLOOP_SLOW_POLL_MS", " 250 "),
                ("EVLOOP_WATCHDOG", "0"),
                ("EVLOOP_TRACE_CYCLES", "1"),
                ("EVLOOP_POLL_TIMING", "0"),
            ],
        )
        .unwrap();
        assert_eq!(s.threshold, Duration::from_millis(250));
        assert!(!s.watchdog && s.trace && !s.poll_timing);
        assert!(warnings.is_empty());
        // An empty variable means the default.
        let (s, _) = resolve(
            Builder::new(),
            &[("EVLOOP_WATCHDOG", ""), ("EVLOOP_SLOW_POLL_MS", "")],
        )
        .unwrap();
        assert!(s.watchdog);
        assert_eq!(s.threshold, Duration::from_millis(100));
    }

    #[test]
    fn the_usual_spellings_of_yes_and_no_are_read_in_any_case() {
        for (value, on) in [
            ("1", true),
            ("true", true),
            ("TRUE", true),
            ("Yes", true),
            ("on", true),
            (" On ", true),
            ("0", false),
            ("false", false),
            ("no", false),
            ("OFF", false),
        ] {
            let (s, warnings) = resolve(Builder::new(), &[("EVLOOP_TRACE_CYCLES", value)]).unwrap();
            assert_eq!(s.trace, on, "{value:?}");
            assert!(warnings.is_empty(), "{value:?}: {warnings:?}");
        }
    }

    #[test]
    fn the_builder_wins_over_the_environment() {
        let builder = Builder::new()
            .slow_poll_threshold(Duration::from_millis(5))
            .stall_watchdog(false)
            .trace_cycles(false)
            .poll_timing(true);
        let vars = [
            ("EVLOOP_SLOW_POLL_MS", "abc"),
            ("EVLOOP_WATCHDOG", "1"),
            ("EVLOOP_TRACE_CYCLES", "maybe"),
            ("EVLOOP_POLL_TIMING", "0"),
        ];
        let (s, warnings) = resolve(builder, &vars).unwrap();
        assert_eq!(s.threshold, Duration::from_millis(5));
        assert!(!s.watchdog && !s.trace && s.poll_timing);
        assert!(
            warnings.is_empty(),
            "variables the builder overrides are not read: {warnings:?}"
        );
    }

    #[test]
    fn thresholds_out_of_range_set_in_code_are_refused() {
        for threshold in [Duration::ZERO, Duration::from_secs(3601)] {
            let builder = Builder::new().slow_poll_threshold(threshold);
            let err = resolve(builder, &[]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert!(err.to_string().contains("between 1 ms and 1 hour"), "{err}");
        }
    }

    #[test]
    fn unreadable_variables_give_one_warning_each_and_the_default() {
        let (s, warnings) = resolve(
            Builder::new(),
            &[
                ("EVLOOP_SLOW_POLL_MS", "abc"),
                ("EVLOOP_WATCHDOG", "maybe"),
                ("EVLOOP_TRACE_CYCLES", "2"),
            ],
        )
        .unwrap();
        assert_eq!(s.threshold, Duration::from_millis(100));
        assert!(s.watchdog && !s.trace);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].contains("EVLOOP_SLOW_POLL_MS=\"abc\""),
            "{}",
            warnings[0]
        );
        assert!(
            warnings[1].contains("EVLOOP_WATCHDOG=\"maybe\""),
            "{}",
            warnings[1]
        );
        assert!(
            warnings[2].contains("EVLOOP_TRACE_CYCLES=\"2\""),
            "{}",
            warnings[2]
        );
        for threshold in ["0", "3600001", "-5"] {
            let (s, warnings) =
                resolve(Builder::new(), &[("EVLOOP_SLOW_POLL_MS", threshold)]).unwrap();
            assert_eq!(s.threshold, Duration::from_millis(100));
            assert_eq!(warnings.len(), 1, "{threshold}");
        }
    }
}

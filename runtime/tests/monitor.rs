//! Finding the blocking call: slow-poll reports, the stall watchdog, and their configuration.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

mod util;

/// The reports the loop emitted through `tracing`, with when they arrived.
fn reports() -> &'static Mutex<Vec<(Instant, String)>> {
    static REPORTS: OnceLock<Mutex<Vec<(Instant, String)>>> = OnceLock::new();
    REPORTS.get_or_init(|| {
        tracing::subscriber::set_global_default(Capture).expect("one subscriber per test binary");
        Mutex::new(Vec::new())
    })
}

/// The reports so far that mention `needle`.
fn reports_with(needle: &str) -> Vec<(Instant, String)> {
    let reports = reports().lock().unwrap();
    reports
        .iter()
        .filter(|(_, m)| m.contains(needle))
        .cloned()
        .collect()
}

/// A `tracing` subscriber that records the message of every event.
struct Capture;

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        reports().lock().unwrap().push((Instant::now(), message.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Whether a stall report names one of the tasks of this file that block the loop on purpose
/// (reports from every test of this binary land in the same list).
fn deliberate_stall((_, message): &(Instant, String)) -> bool {
    [
        "\"stalling-task\"",
        "\"sleepy-handler\"",
        "\"after-idle\"",
        "\"spinner\"",
        "\"stalling-in-a-group\"",
    ]
    .iter()
    .any(|name| message.contains(name))
}

#[test]
fn a_blocking_poll_is_reported_once_with_the_task_name_and_spawn_line() {
    reports();
    let line = line!() + 5;
    let rt = evloop::Builder::new().build().unwrap();
    rt.block_on(async {
        let blocker = evloop::task::Builder::new()
            .name("sleepy-handler")
            .spawn(async { std::thread::sleep(Duration::from_millis(250)) });
        // Other tasks poll quickly: they must not be reported.
        for _ in 0..20 {
            evloop::sleep(Duration::from_millis(5)).await;
        }
        blocker.await.unwrap();
        // Give the monitor time to see the poll end.
        evloop::sleep(Duration::from_millis(100)).await;
    });
    drop(rt);
    let found: Vec<_> = reports_with("\"sleepy-handler\"")
        .into_iter()
        .filter(|(_, m)| m.contains("blocked the event loop"))
        .collect();
    assert_eq!(found.len(), 1, "reported once: {found:?}");
    // The stall watchdog is on by default: it spoke while the poll was still blocking.
    let stalls = reports_with("stalled for");
    assert!(
        stalls.iter().any(|(_, m)| m.contains("\"sleepy-handler\"")),
        "the default watchdog reported the stall: {stalls:?}"
    );
    let message = &found[0].1;
    assert!(message.contains(&format!("monitor.rs:{line}")), "{message}");
    assert!(message.contains("blocked the event loop"), "{message}");
    assert!(message.contains("run_in_executor"), "{message}");
    // Linux: the loop thread's scheduler counts say it slept (observe/sched.rs); elsewhere the
    // report cannot tell and gives both pieces of advice.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    assert!(
        message.contains("in a blocking call (asleep for") && !message.contains("yield_now"),
        "a sleeping poll is named a blocking call: {message}"
    );
    // Elsewhere: no scheduler counts, so the report gives both pieces of advice.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    assert!(message.contains("yield_now"), "{message}");
    let ms: u64 = message
        .split("about ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the report says how long the poll took");
    assert!((200..=1000).contains(&ms), "took {ms} ms: {message}");
}

#[test]
fn the_watchdog_reports_a_stall_while_it_lasts_and_when_it_ends() {
    reports();
    let rt = evloop::Builder::new()
        .slow_poll_threshold(Duration::from_millis(200))
        .stall_watchdog(true)
        .build()
        .unwrap();
    let stall_end = rt.block_on(async {
        let staller = evloop::task::Builder::new()
            .name("stalling-task")
            .spawn(async {
                std::thread::sleep(Duration::from_secs(1));
                Instant::now()
            });
        staller.await.unwrap()
    });
    // Let the monitor see the recovery before stopping it.
    rt.block_on(evloop::sleep(Duration::from_millis(100)));
    drop(rt);
    let stalls = reports_with("stalled for");
    let stall = stalls
        .iter()
        .find(|(_, m)| m.contains("\"stalling-task\""))
        .unwrap_or_else(|| panic!("no stall report naming the task: {stalls:?}"));
    assert!(
        stall.0 < stall_end,
        "reported while the loop was still stuck"
    );
    // Linux: the scheduler counts say the thread slept; elsewhere the generic advice stays.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    assert!(
        stall.1.contains("blocked in a system call (asleep for"),
        "a sleeping task's stall is named a blocking call: {}",
        stall.1
    );
    // Elsewhere: no scheduler counts, so the generic advice stays.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    assert!(stall.1.contains("move blocking calls"), "{}", stall.1);
    assert!(
        reports_with("recovered after a stall")
            .iter()
            .any(|(t, _)| *t >= stall_end),
        "and again once it recovered"
    );
}

#[test]
fn in_a_group_of_loops_a_stall_report_names_the_loop() {
    reports();
    let results = evloop::PerCore::new()
        .loops(2)
        .signals(false)
        .builder(|_| {
            evloop::Builder::new()
                .slow_poll_threshold(Duration::from_millis(100))
                .stall_watchdog(true)
        })
        .run(|core| async move {
            if core.index() == 1 {
                let staller = evloop::task::Builder::new()
                    .name("stalling-in-a-group")
                    .spawn(async { std::thread::sleep(Duration::from_millis(600)) });
                staller.await.unwrap();
                // Let the monitor see the recovery.
                evloop::sleep(Duration::from_millis(100)).await;
            } else {
                core.stopping().await;
            }
        });
    assert!(results.iter().all(|r| r.outcome.is_ok() || r.core == 0));
    let stalls = reports_with("\"stalling-in-a-group\"");
    assert!(
        stalls
            .iter()
            .any(|(_, m)| m.starts_with("loop \"loop-1\": ") && m.contains("stalled for")),
        "no stall report naming loop 1: {stalls:?}"
    );
}

#[test]
fn after_an_idle_spell_the_monitor_wakes_with_the_loop_and_reports_a_blocking_poll() {
    reports();
    // Idle for eight thresholds first: the monitor sleeps until the loop leaves its wait.
    one_long_poll("after-idle", Duration::from_millis(400), || {
        std::thread::sleep(Duration::from_millis(250))
    });
    let reports = reports_with("\"after-idle\"");
    assert!(
        reports
            .iter()
            .any(|(_, m)| m.contains("blocked the event loop")),
        "no slow-poll report after the idle spell: {reports:?}"
    );
    assert!(
        reports.iter().any(|(_, m)| m.contains("stalled for")),
        "no stall report after the idle spell: {reports:?}"
    );
}

#[test]
fn an_idle_loop_is_not_a_stall() {
    reports();
    let rt = evloop::Builder::new()
        .slow_poll_threshold(Duration::from_millis(50))
        .stall_watchdog(true)
        .build()
        .unwrap();
    let start = Instant::now();
    rt.block_on(async {
        evloop::task::Builder::new()
            .name("idle-sleeper")
            .spawn(evloop::sleep(Duration::from_secs(1)))
            .await
            .unwrap()
    });
    assert!(start.elapsed() >= Duration::from_secs(1));
    drop(rt);
    assert!(reports_with("idle-sleeper").is_empty());
    let stalls = reports_with("stalled for");
    assert!(
        stalls.iter().all(deliberate_stall),
        "an idle loop was reported as stalled: {stalls:?}"
    );
}

#[test]
fn absurd_thresholds_are_refused_with_a_clear_error() {
    for bad in [Duration::ZERO, Duration::from_secs(7200)] {
        let err = evloop::Builder::new()
            .slow_poll_threshold(bad)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("slow-poll threshold"), "{err}");
    }
}

/// Runs this test binary again with only `test` selected and `env` set; returns its output.
fn child(test: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut env = env.to_vec();
    env.push(("EVLOOP_MONITOR_CHILD", "1"));
    util::run_child(test, &env, Duration::from_secs(60))
}

#[test]
fn environment_variables_configure_the_monitor_and_bad_values_are_reported() {
    if std::env::var_os("EVLOOP_MONITOR_CHILD").is_some() {
        match evloop::Builder::new().build() {
            Ok(_) => println!("built"),
            Err(e) => println!("error: {e}"),
        }
        return;
    }
    let name = "environment_variables_configure_the_monitor_and_bad_values_are_reported";
    // A value that cannot be read is reported on stderr, and the program goes on.
    for (var, value) in [
        ("EVLOOP_SLOW_POLL_MS", "soon"),
        ("EVLOOP_WATCHDOG", "yes please"),
        ("EVLOOP_TRACE_CYCLES", "sometimes"),
        ("EVLOOP_POLLER", "kqueue-please"),
    ] {
        let out = child(name, &[(var, value)]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stdout.contains("built"), "{var}={value}: {stdout}");
        assert!(
            stderr.contains(&format!("evloop: {var}={value:?}")) && stderr.contains("default"),
            "{var}={value}: {stderr}"
        );
    }
    let out = child(
        name,
        &[("EVLOOP_SLOW_POLL_MS", "250"), ("EVLOOP_WATCHDOG", "Yes")],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("built"));
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
}

#[test]
fn a_slow_poll_is_reported_on_stderr_without_a_subscriber_and_the_monitor_thread_exits() {
    if std::env::var_os("EVLOOP_MONITOR_CHILD").is_some() {
        // No subscriber in this process: reports go to stderr.
        evloop::run(async {
            evloop::spawn(async { std::thread::sleep(Duration::from_millis(150)) })
                .await
                .unwrap();
            evloop::sleep(Duration::from_millis(50)).await;
        });
        // Linux only: other threads' names are listed nowhere else (testing/os.rs).
        #[cfg(target_os = "linux")]
        println!(
            "monitor threads after run: {}",
            util::os::threads_named("evloop-monitor")
        );
        return;
    }
    let out = child(
        "a_slow_poll_is_reported_on_stderr_without_a_subscriber_and_the_monitor_thread_exits",
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("evloop: task"))
            .count(),
        1,
        "{stderr}"
    );
    // Linux only: as above.
    #[cfg(target_os = "linux")]
    assert!(stdout.contains("monitor threads after run: 0"), "{stdout}");
    let _ = &stdout;
}

#[test]
fn the_cycle_trace_shows_run_poll_resume_in_order() {
    reports();
    let rt = evloop::Builder::new()
        .name("traced")
        .trace_cycles(true)
        .slow_poll_reports(false)
        .build()
        .unwrap();
    rt.block_on(async {
        evloop::spawn(evloop::sleep(Duration::from_millis(5)))
            .await
            .unwrap();
    });
    drop(rt);
    // Lines of this loop only: other tests trace their loops at the same time.
    let trace: Vec<String> = reports_with("traced: cycle ")
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert!(trace.len() >= 6, "{trace:#?}");
    for step in trace.chunks(3) {
        assert!(step[0].contains(" run: "), "{step:#?}");
        assert!(step[1].contains(" poll: "), "{step:#?}");
        assert!(step[2].contains(" resume: "), "{step:#?}");
    }
    assert!(
        trace.iter().any(|l| l.contains("(next timer)")),
        "{trace:#?}"
    );
    assert!(
        trace.iter().any(|l| l.contains("1 by timers")),
        "{trace:#?}"
    );
}

#[test]
fn a_runtime_nobody_drives_is_not_stalled() {
    reports();
    let rt = evloop::Builder::new()
        .name("undriven")
        .slow_poll_threshold(Duration::from_millis(50))
        .stall_watchdog(true)
        .build()
        .unwrap();
    let _task = rt.spawn(async {
        evloop::task::Builder::new()
            .name("between-block-ons")
            .spawn(evloop::sleep(Duration::from_secs(60)))
            .await
    });
    rt.block_on(evloop::yield_now());
    // The runtime is not driven now: the loop is not stuck, nobody runs it.
    std::thread::sleep(Duration::from_millis(400));
    rt.block_on(evloop::yield_now());
    drop(rt);
    let stalls = reports_with("stalled for");
    assert!(
        stalls.iter().all(deliberate_stall),
        "a runtime outside block_on was reported: {stalls:?}"
    );
    assert!(reports_with("between-block-ons").is_empty());
}

#[test]
fn the_cycle_trace_says_why_a_poll_was_skipped() {
    reports();
    let rt = evloop::Builder::new()
        .name("skipping")
        .trace_cycles(true)
        .slow_poll_reports(false)
        .stall_watchdog(false)
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..3 {
            evloop::yield_now().await; // no source: nothing to poll
        }
        let _listener = evloop::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        for _ in 0..50 {
            evloop::yield_now().await; // a source, polled at most every 100 µs
        }
    });
    drop(rt);
    let polls: Vec<String> = reports_with("skipping: cycle ")
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| m.contains(" poll: "))
        .collect();
    assert!(
        polls
            .iter()
            .any(|l| l.contains("skipped (tasks ready, no I/O source registered)")),
        "{polls:#?}"
    );
    assert!(
        polls
            .iter()
            .any(|l| l.contains("skipped (tasks ready, last I/O poll ")),
        "{polls:#?}"
    );
}

/// An idle loop (a task sleeping for longer than the test, nothing else) with the monitor on:
/// over 10 s, no thread of the process is switched in and out, the monitor's included.
// Linux only: other threads' context switches are counted nowhere else (testing/os.rs).
#[cfg(target_os = "linux")]
#[test]
fn an_idle_loop_wakes_no_thread() {
    const WINDOW: Duration = Duration::from_secs(10);
    if std::env::var_os("EVLOOP_MONITOR_CHILD").is_some() {
        let loop_thread = std::thread::Builder::new()
            .name("idle-loop".into())
            .spawn(|| {
                let rt = evloop::Builder::new().stall_watchdog(true).build().unwrap();
                rt.block_on(evloop::sleep(WINDOW + Duration::from_secs(3)));
            })
            .unwrap();
        // The monitor sleeps once the loop has been parked for a threshold (100 ms).
        std::thread::sleep(Duration::from_secs(1));
        let measurer = std::thread::Builder::new()
            .name("measurer".into())
            .spawn(|| {
                // The thread that starts this one goes to sleep in `join` just after: let it
                // get there before counting, or its going to sleep counts as a switch.
                std::thread::sleep(Duration::from_millis(200));
                let before = util::os::switches_per_thread();
                std::thread::sleep(WINDOW);
                let after = util::os::switches_per_thread();
                for (tid, name, n) in after {
                    if name == "measurer" {
                        continue;
                    }
                    if let Some((_, _, m)) = before.iter().find(|(t, _, _)| *t == tid) {
                        println!("thread {name:?} ({tid}): {} switches", n - m);
                    }
                }
            })
            .unwrap();
        measurer.join().unwrap();
        loop_thread.join().unwrap();
        return;
    }
    let out = child("an_idle_loop_wakes_no_thread", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let threads: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("thread "))
        .collect();
    assert!(
        threads
            .iter()
            .any(|l| l.starts_with("thread \"evloop-monitor\""))
            && threads
                .iter()
                .any(|l| l.starts_with("thread \"idle-loop\"")),
        "the loop or its monitor thread was not found: {stdout}"
    );
    let woken: Vec<&&str> = threads
        .iter()
        .filter(|l| !l.ends_with(": 0 switches"))
        .collect();
    assert!(
        woken.is_empty(),
        "threads were switched in and out during {WINDOW:?} of an idle loop (context \
         switches counted from /proc/self/task/*/status): {woken:#?}"
    );
}

/// On a loop with a 50 ms threshold and the watchdog on: idles for `idle_first`, then runs one
/// task named `name` whose one poll calls `work`, and lets the monitor see the poll end.
fn one_long_poll(name: &str, idle_first: Duration, work: fn()) {
    let rt = evloop::Builder::new()
        .slow_poll_threshold(Duration::from_millis(50))
        .stall_watchdog(true)
        .build()
        .unwrap();
    rt.block_on(async {
        evloop::sleep(idle_first).await;
        evloop::task::Builder::new()
            .name(name)
            .spawn(async move { work() })
            .await
            .unwrap();
        evloop::sleep(Duration::from_millis(100)).await;
    });
}

/// Spins on the calling thread until it has used `cpu` of CPU time.
fn compute_for(cpu: Duration) {
    let start = util::thread_cpu_time();
    while util::thread_cpu_time() - start < cpu {
        std::hint::spin_loop();
    }
}

#[test]
fn a_poll_that_computes_is_reported_as_computing() {
    reports();
    one_long_poll("spinner", Duration::ZERO, || {
        compute_for(Duration::from_millis(250))
    });
    let reports = reports_with("\"spinner\"");
    let slow = reports
        .iter()
        .find(|(_, m)| m.contains("in one poll"))
        .unwrap_or_else(|| panic!("no slow-poll report: {reports:?}"));
    let stall = reports
        .iter()
        .find(|(_, m)| m.contains("stalled for"))
        .unwrap_or_else(|| panic!("no stall report: {reports:?}"));
    // Linux: the scheduler counts say the thread was on a CPU (observe/sched.rs), for longer
    // than the threshold over the whole poll: a computation, even on a loaded machine where it
    // also waited. The stall is reported after a threshold of it, when a loaded machine may
    // have kept the thread waiting for half of that or more: computing, overloaded, or (split
    // evenly) the report with both remedies are fair answers there, a blocking call is not.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        assert!(
            slow.1.contains("computing (on a CPU for"),
            "a spinning poll is named a computation: {}",
            slow.1
        );
        assert!(
            !stall.1.contains("blocked in a system call"),
            "a spinning poll's stall is not named a blocking call: {}",
            stall.1
        );
    }
    // Elsewhere: no scheduler counts, so both reports keep the generic advice.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    for (_, message) in [slow, stall] {
        assert!(message.contains("yield_now"), "{message}");
    }
}

/// A loop thread and four busy threads pinned to one CPU: the loop's long poll (40 ms of CPU
/// time, several times that of wall time) is reported as the machine starving the loop, with
/// no advice to move code off it.
// Linux only: thread pinning and other threads' run-queue waits (testing/os.rs, observe/sched.rs).
#[cfg(target_os = "linux")]
#[test]
fn a_loop_starved_of_cpu_is_reported_as_starved_without_advice() {
    if std::env::var_os("EVLOOP_MONITOR_CHILD").is_some() {
        let cpu = util::os::pin_to_one_cpu();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hogs: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    util::os::pin_to(cpu);
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        one_long_poll("innocent", Duration::ZERO, || {
            compute_for(Duration::from_millis(40))
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for hog in hogs {
            hog.join().unwrap();
        }
        return;
    }
    let out = child(
        "a_loop_starved_of_cpu_is_reported_as_starved_without_advice",
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("\"innocent\""))
        .collect();
    assert!(!reports.is_empty(), "no report at all: {stderr}");
    for report in reports {
        assert!(
            report.contains("for a CPU: the machine is overloaded")
                && report.contains("not blocking"),
            "a starved loop is reported as starved: {report}"
        );
        assert!(
            !report.contains("run_in_executor") && !report.contains("yield_now"),
            "no advice to move code off the loop: {report}"
        );
    }
}

/// 500 loops in a row, each with its monitor thread, and 50 more that also start their default
/// and I/O pools: within a few seconds the process has as many threads as before.
// Linux only: other threads are listed nowhere else (testing/os.rs).
#[cfg(target_os = "linux")]
#[test]
fn five_hundred_loops_in_a_row_leave_no_thread_behind() {
    if std::env::var_os("EVLOOP_MONITOR_CHILD").is_some() {
        let before = util::os::thread_names().len();
        for _ in 0..500 {
            evloop::run(evloop::sleep(Duration::from_micros(10)));
        }
        let dir = std::env::temp_dir();
        for _ in 0..50 {
            let dir = dir.clone();
            evloop::run(async move {
                assert_eq!(evloop::to_thread(|| 7).await, Ok(7));
                assert!(evloop::fs::metadata(dir).await.unwrap().is_dir());
            });
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut after = util::os::thread_names().len();
        while after > before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            after = util::os::thread_names().len();
        }
        println!("threads before: {before}; after: {after}");
        return;
    }
    let out = child("five_hundred_loops_in_a_row_leave_no_thread_behind", &[]);
    util::assert_threads_back(
        &out,
        "threads left behind 10 s after 550 loops ran and ended",
    );
}

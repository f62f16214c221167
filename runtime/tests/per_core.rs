//! `evloop::per_core` / `PerCore`: loops on threads of their own, the setup on each, results
//! in order, the stop-all and restart policies, pinning, and no thread left behind.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use evloop::{LoopError, OnExit, PerCore};

mod util;

#[test]
fn every_loop_runs_the_setup_on_a_thread_of_its_own_and_results_come_in_order() {
    let results = PerCore::new()
        .signals(false)
        .loops(3)
        .on_exit(OnExit::StopOnPanic)
        .run(|core| async move {
            // Each loop is a working event loop: tasks, timers.
            let task = evloop::spawn(async { evloop::sleep(Duration::from_millis(5)).await });
            task.await.expect("the task completes");
            (core.index(), core.loops(), std::thread::current().id())
        });
    assert_eq!(results.len(), 3);
    let mut threads = HashSet::new();
    for (i, r) in results.iter().enumerate() {
        let (index, loops, thread) = *r.outcome.as_ref().expect("every setup returns");
        assert_eq!((r.core, index, loops), (i, i, 3), "loop {i}: {r:?}");
        assert_ne!(
            thread,
            std::thread::current().id(),
            "loop {i} ran on the caller's thread"
        );
        threads.insert(thread);
        let stats = r.stats.as_ref().expect("stats of a loop that ran");
        assert!(stats.tasks_spawned >= 1, "loop {i}: {stats:?}");
        assert_eq!(r.restarts, 0);
    }
    assert_eq!(threads.len(), 3, "three loops, three threads");
}

#[test]
fn a_panicking_loop_stops_the_others_by_default() {
    let results = PerCore::new()
        .signals(false)
        .loops(3)
        .run(|core| async move {
            if core.index() == 1 {
                evloop::sleep(Duration::from_millis(20)).await;
                panic!("loop 1 gives up");
            }
            // The others would wait for a long time: the stop ends them.
            let stopping = core.stopping();
            evloop::sleep(Duration::from_secs(600)).await;
            stopping.await;
            core.index()
        });
    match &results[1].outcome {
        Err(LoopError::Panicked(msg)) => assert!(msg.contains("loop 1 gives up"), "{msg}"),
        other => panic!("loop 1 should have panicked: {other:?}"),
    }
    for i in [0, 2] {
        assert!(
            matches!(results[i].outcome, Err(LoopError::Stopped)),
            "loop {i} should have been stopped: {:?}",
            results[i]
        );
    }
}

#[test]
fn a_task_can_await_the_stop_and_run_before_its_loop_closes() {
    let saw_stop = Arc::new(AtomicU32::new(0));
    let seen = saw_stop.clone();
    let results = PerCore::new().signals(false).loops(2).run(move |core| {
        let seen = seen.clone();
        async move {
            if core.index() == 0 {
                evloop::sleep(Duration::from_millis(10)).await;
                return "done";
            }
            let stopping = core.stopping();
            evloop::spawn(async move {
                stopping.await;
                seen.fetch_add(1, Ordering::SeqCst);
            })
            .await
            .expect("the watcher completes");
            "watched"
        }
    });
    assert_eq!(results[0].outcome.as_ref().ok(), Some(&"done"));
    // Loop 1's own setup future and the stop race: either way its watcher saw the stop.
    assert_eq!(saw_stop.load(Ordering::SeqCst), 1, "{results:?}");
}

#[test]
fn restart_runs_a_panicking_setup_again_up_to_its_cap() {
    let tries = Arc::new(AtomicU32::new(0));
    let count = tries.clone();
    let results = PerCore::new()
        .signals(false)
        .loops(2)
        .on_exit(OnExit::Restart {
            max: 3,
            per: Duration::from_secs(60),
        })
        .run(move |core| {
            let count = count.clone();
            async move {
                if core.index() == 0 && count.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("loop 0 fails on try {}", count.load(Ordering::SeqCst));
                }
                core.index()
            }
        });
    assert_eq!(results[0].outcome.as_ref().ok(), Some(&0), "{results:?}");
    assert_eq!(results[0].restarts, 2);
    assert_eq!(results[1].outcome.as_ref().ok(), Some(&1), "{results:?}");

    // A setup that always panics: restarted 3 times, then the group stops.
    let results = PerCore::new()
        .signals(false)
        .loops(2)
        .on_exit(OnExit::Restart {
            max: 3,
            per: Duration::from_secs(60),
        })
        .run(|core| async move {
            if core.index() == 0 {
                panic!("always");
            }
            evloop::sleep(Duration::from_secs(600)).await;
        });
    assert_eq!(results[0].restarts, 3, "{results:?}");
    match &results[0].outcome {
        Err(LoopError::Panicked(msg)) => {
            assert!(msg.contains("always") && msg.contains("cap is 3"), "{msg}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(results[1].outcome, Err(LoopError::Stopped)),
        "{results:?}"
    );
}

// Linux only: the one system where evloop pins threads (sched_setaffinity); elsewhere `pin`
// says on stderr that the loops run unpinned, and `pinned_to` is None.
#[cfg(target_os = "linux")]
#[test]
fn pinned_loops_run_on_the_cpus_they_were_given() {
    let results = PerCore::new()
        .signals(false)
        .loops(2)
        .pin(true)
        .run(|_| async {
            let set = rustix::thread::sched_getaffinity(None).expect("read the affinity");
            (0..rustix::thread::CpuSet::MAX_CPU)
                .filter(|&c| set.is_set(c))
                .collect::<Vec<_>>()
        });
    for r in &results {
        let cpu = r.pinned_to.expect("pinned on Linux");
        assert_eq!(
            r.outcome.as_ref().unwrap(),
            &vec![cpu],
            "loop {}: {r:?}",
            r.core
        );
    }
}

/// Five groups of four loops, each loop with its monitor thread and its default pool in use:
/// when `per_core` returns, the process has as many threads as before (counted in a child
/// process, where no other test starts threads meanwhile).
// Linux only: no other system lists a process's threads (see testing/os.rs).
#[cfg(target_os = "linux")]
#[test]
fn no_thread_outlives_per_core() {
    const TEST: &str = "no_thread_outlives_per_core";
    if std::env::var_os("EVLOOP_PER_CORE_CHILD").is_some() {
        let before = util::os::thread_names().len();
        for _ in 0..5 {
            let results = PerCore::new()
                .signals(false)
                .loops(4)
                .on_exit(OnExit::StopOnPanic)
                .run(|core| async move { evloop::to_thread(move || core.index()).await.unwrap() });
            assert_eq!(results.len(), 4);
        }
        // The default pools' threads end within a few seconds of their loop.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut after = util::os::thread_names().len();
        while after > before && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            after = util::os::thread_names().len();
        }
        println!("threads before: {before}; after: {after}");
        return;
    }
    let out = util::run_child(
        TEST,
        &[("EVLOOP_PER_CORE_CHILD", "1")],
        Duration::from_secs(60),
    );
    util::assert_threads_back(&out, "threads before and 10 s after");
}

// Linux only: no other system lists the names of a process's threads.
#[cfg(target_os = "linux")]
#[test]
fn the_loops_share_one_monitor_thread() {
    const TEST: &str = "the_loops_share_one_monitor_thread";
    if std::env::var_os("EVLOOP_PER_CORE_CHILD").is_some() {
        let results = PerCore::new()
            .signals(false)
            .loops(4)
            .builder(|_| evloop::Builder::new().stall_watchdog(true))
            .run(|core| async move {
                if core.index() != 0 {
                    return core.stopping().await;
                }
                // Every loop is built once each has run a message.
                for i in 1..core.loops() {
                    core.handle(i).run(|| async {}).await.unwrap();
                }
                // A thread takes its name when it first runs: on a busy machine the monitor
                // may not have run yet. Wait for one, then let any others name themselves.
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while util::os::threads_named("evloop-monitor") == 0
                    && std::time::Instant::now() < deadline
                {
                    evloop::sleep(Duration::from_millis(5)).await;
                }
                evloop::sleep(Duration::from_millis(100)).await;
                println!(
                    "monitor threads: {}",
                    util::os::threads_named("evloop-monitor")
                );
            });
        assert!(results[0].outcome.is_ok());
        return;
    }
    let out = util::run_child(
        TEST,
        &[("EVLOOP_PER_CORE_CHILD", "1")],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("monitor threads: 1\n"),
        "4 loops, one monitor thread: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_loops_share_one_default_pool() {
    // Loop 0 runs a job on the default pool, then asks loop 1 to run one: with one pool for
    // the group, loop 1's job reuses the idle thread of loop 0's (with a pool per loop, loop 1
    // would start a thread of its own).
    let results = PerCore::new()
        .signals(false)
        .loops(2)
        .run(|core| async move {
            if core.index() != 0 {
                std::future::pending::<()>().await;
                return (None, None);
            }
            let here = evloop::to_thread(|| std::thread::current().id())
                .await
                .unwrap();
            let there = core
                .handle(1)
                .run(|| async { evloop::to_thread(|| std::thread::current().id()).await })
                .await
                .unwrap()
                .unwrap();
            (Some(here), Some(there))
        });
    let (here, there) = results[0].outcome.as_ref().unwrap();
    assert!(here.is_some());
    assert_eq!(here, there, "both loops' jobs ran on the same pool thread");
}

#[test]
fn a_stopped_loop_gives_its_tasks_the_drain_timeout_then_cancels_the_rest() {
    let start = std::time::Instant::now();
    let results = PerCore::new()
        .signals(false)
        .loops(2)
        .drain_timeout(Duration::from_millis(200))
        .run(|core| async move {
            if core.index() == 0 {
                evloop::sleep(Duration::from_millis(10)).await;
                return;
            }
            // One task finishes within the drain, one never does.
            drop(evloop::spawn(async {
                evloop::sleep(Duration::from_millis(50)).await;
            }));
            drop(evloop::spawn(async {
                evloop::sleep(Duration::from_secs(600)).await;
            }));
            evloop::sleep(Duration::from_secs(600)).await;
        });
    let took = start.elapsed();
    assert!(
        matches!(results[1].outcome, Err(LoopError::Stopped)),
        "{results:?}"
    );
    assert_eq!(
        results[1].cancelled_at_close, 1,
        "the task that outlived the drain is cancelled; the other finished: {results:?}"
    );
    assert!(
        took < Duration::from_secs(60),
        "per_core took {took:?}: the drain timeout of 200 ms did not end the loop"
    );
}

#[test]
fn a_message_runs_a_non_send_future_on_the_other_loop_and_returns_its_result() {
    let results = PerCore::new()
        .signals(false)
        .loops(2)
        .run(|core| async move {
            if core.index() == 1 {
                // Loop 1 lives until loop 0 returns, which stops the group.
                core.stopping().await;
                return None;
            }
            let there = core
                .handle(1)
                .run(|| async {
                    // Not Send: it stays on loop 1.
                    let local = std::rc::Rc::new(std::thread::current().name().map(str::to_owned));
                    evloop::yield_now().await;
                    (*local).clone()
                })
                .await;
            let panicked = core.handle(1).run(|| async { panic!("a bad job") }).await;
            Some((there, panicked.map_err(|e| e.to_string())))
        });
    let (there, panicked) = results
        .into_iter()
        .next()
        .unwrap()
        .outcome
        .expect("loop 0 returns")
        .expect("loop 0's answer");
    assert_eq!(there.unwrap().as_deref(), Some("evloop-core-1"));
    let err = panicked.unwrap_err();
    assert!(err.contains("a bad job"), "{err}");
}

#[test]
fn ten_thousand_messages_each_way_under_load_arrive_once_each() {
    const EACH: u64 = 10_000;
    let finished = Arc::new(AtomicU32::new(0));
    let results = PerCore::new()
        .signals(false)
        .loops(2)
        .on_exit(OnExit::StopOnPanic)
        .run(move |core| {
            let finished = finished.clone();
            async move {
                let other = core.handle(1 - core.index()).clone();
                // 100 senders at once, 100 messages each: the inbox (1,024) fills and senders wait.
                let senders: Vec<_> = (0..100u64)
                    .map(|s| {
                        let other = other.clone();
                        evloop::spawn(async move {
                            let mut sum = 0;
                            for i in 0..EACH / 100 {
                                let n = s * (EACH / 100) + i;
                                sum += other
                                    .run(move || async move { n })
                                    .await
                                    .expect("delivered");
                            }
                            sum
                        })
                    })
                    .collect();
                let mut total = 0;
                for s in senders {
                    total += s.await.expect("a sender task completes");
                }
                // The other loop may still be sending: stay until both are done.
                finished.fetch_add(1, Ordering::SeqCst);
                while finished.load(Ordering::SeqCst) < 2 {
                    evloop::sleep(Duration::from_millis(1)).await;
                }
                total
            }
        });
    for r in &results {
        assert_eq!(
            r.outcome.as_ref().ok(),
            Some(&(EACH * (EACH - 1) / 2)),
            "loop {}: every message answered once: {r:?}",
            r.core
        );
        assert_eq!(r.loop_stats.messages, EACH, "loop {}'s stats", r.core);
    }
}

#[test]
fn a_handle_to_a_group_that_ended_says_so() {
    let results = PerCore::new()
        .signals(false)
        .loops(1)
        .run(|core| async move { core.handle(0).clone() });
    let handle = results.into_iter().next().unwrap().outcome.unwrap();
    let sent = futures_lite::future::block_on(handle.run(|| async { 1 }));
    assert!(matches!(sent, Err(LoopError::Stopped)), "{sent:?}");
}

/// Serves `listener`'s connections on a group of 2 loops, each echoing one byte per
/// connection, until `CONNS` connections from a client thread have been answered; returns how
/// many each loop accepted and the address each loop's listener had.
fn serve_group(listener: evloop::GroupListener) -> Vec<(usize, std::net::SocketAddr)> {
    const CONNS: usize = 200;
    let addr = listener.local_addr();
    let client = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for i in 0..CONNS {
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            s.write_all(&[i as u8]).unwrap();
            let mut b = [0u8];
            s.read_exact(&mut b).unwrap();
            assert_eq!(b[0], i as u8);
        }
    });
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let results = PerCore::new()
        .signals(false)
        .loops(2)
        .on_exit(OnExit::StopOnPanic)
        .run(move |core| {
            let (listener, served) = (listener.clone(), served.clone());
            async move {
                use futures_lite::{AsyncReadExt, AsyncWriteExt};
                let l = listener.for_loop(&core).expect("the loop's listener");
                let local = l.local_addr().unwrap();
                let accepted = std::rc::Rc::new(std::cell::Cell::new(0));
                let count = accepted.clone();
                let on_serve = served.clone();
                let accept = async move {
                    while let Ok((mut s, _)) = l.accept().await {
                        count.set(count.get() + 1);
                        let served = on_serve.clone();
                        drop(evloop::spawn(async move {
                            let mut b = [0u8];
                            if s.read_exact(&mut b).await.is_ok() && s.write_all(&b).await.is_ok() {
                                served.fetch_add(1, Ordering::SeqCst);
                            }
                        }));
                    }
                };
                // Every loop ends once every connection was served.
                let watch = async {
                    while served.load(Ordering::SeqCst) < CONNS {
                        evloop::sleep(Duration::from_millis(5)).await;
                    }
                };
                futures_lite::future::or(accept, watch).await;
                (accepted.get(), local)
            }
        });
    client.join().expect("the client got every answer");
    let loops: Vec<_> = results
        .into_iter()
        .map(|r| r.outcome.unwrap_or_else(|e| panic!("loop {}: {e}", r.core)))
        .collect();
    assert_eq!(
        loops.iter().map(|l| l.0).sum::<usize>(),
        CONNS,
        "every connection accepted once: {loops:?}"
    );
    loops
}

#[test]
fn a_shared_listener_serves_every_connection_on_one_port() {
    let listener =
        evloop::GroupListener::bind("127.0.0.1:0".parse().unwrap(), evloop::ListenMode::Shared)
            .unwrap();
    let addr = listener.local_addr();
    assert_ne!(addr.port(), 0);
    let loops = serve_group(listener);
    assert!(loops.iter().all(|l| l.1 == addr), "{loops:?}");
}

// Linux only: the one system where evloop forms SO_REUSEPORT groups (elsewhere `bind` in this
// mode is refused, checked below).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn a_reuseport_group_spreads_connections_over_the_loops_on_one_port() {
    let listener =
        evloop::GroupListener::bind("127.0.0.1:0".parse().unwrap(), evloop::ListenMode::Auto)
            .unwrap();
    assert_eq!(listener.mode(), evloop::ListenMode::ReusePort);
    let addr = listener.local_addr();
    // A plain bind of the group's port is refused: only the group's sockets share it.
    let plain = std::net::TcpListener::bind(addr);
    assert!(plain.is_err(), "a plain bind joined the group: {plain:?}");
    let loops = serve_group(listener.clone());
    // 200 connections from random source ports: each loop got some (all on one loop would
    // have a chance of 2 in 2^200).
    assert!(
        loops.iter().all(|l| l.0 > 0 && l.1 == addr),
        "each loop accepts on the group's port: {loops:?}"
    );
    // The group's sockets outlive the loops: the port is still the group's.
    assert!(std::net::TcpListener::bind(addr).is_err());
}

// Not Linux: a ReusePort group would not balance, so it is refused with a reason.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[test]
fn a_reuseport_group_is_refused_where_it_would_not_balance() {
    let err = evloop::GroupListener::bind(
        "127.0.0.1:0".parse().unwrap(),
        evloop::ListenMode::ReusePort,
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported, "{err}");
    let auto =
        evloop::GroupListener::bind("127.0.0.1:0".parse().unwrap(), evloop::ListenMode::Auto)
            .unwrap();
    assert_eq!(auto.mode(), evloop::ListenMode::HandOff);
}

#[test]
fn a_plain_bind_never_sets_so_reuseport() {
    evloop::run(async {
        let l = evloop::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        // A second plain bind of the same port fails: the first did not open it to sharing.
        let second = evloop::net::TcpListener::bind(addr).await;
        assert!(second.is_err(), "two plain binds share a port: {second:?}");
    });
}

/// Runs test `name` again in a child process (which sees `EVLOOP_PER_CORE_CHILD`), its
/// stdout piped.
fn child_test(name: &str) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("EVLOOP_PER_CORE_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the test's child process")
}

/// Reads the child's stdout until `count` lines contain `ready`; returns every line read.
fn wait_ready(
    child: &mut std::process::Child,
    count: usize,
) -> std::io::Lines<std::io::BufReader<std::process::ChildStdout>> {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut ready = 0;
    while ready < count {
        let line = lines
            .next()
            .expect("the child ended before it was ready")
            .unwrap();
        ready += usize::from(line.contains("ready"));
    }
    lines
}

/// Waits up to `limit` for the child to exit; kills it and fails if it does not.
fn exit_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the child did not exit within {limit:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &std::process::Child, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, signal).expect("signal the child");
}

/// Runs `test` in a child process, sends it SIGTERM once its 2 loops are ready, and waits up
/// to `limit` for its exit: its exit status, the lines it printed after the loops were ready,
/// and the child (whose stderr is still unread).
fn terminate_when_ready(
    test: &str,
    limit: Duration,
) -> (std::process::ExitStatus, Vec<String>, std::process::Child) {
    let mut child = child_test(test);
    let lines = wait_ready(&mut child, 2);
    signal(&child, rustix::process::Signal::TERM);
    let status = exit_within(&mut child, limit);
    (status, lines.map_while(Result::ok).collect(), child)
}

#[test]
fn sigterm_stops_the_loops_and_lets_their_tasks_finish() {
    const TEST: &str = "sigterm_stops_the_loops_and_lets_their_tasks_finish";
    if std::env::var_os("EVLOOP_PER_CORE_CHILD").is_some() {
        let results = PerCore::new()
            .loops(2)
            .drain_timeout(Duration::from_secs(20))
            .run(|core| async move {
                let i = core.index();
                let stopping = core.stopping();
                drop(evloop::spawn(async move {
                    stopping.await;
                    // Work that finishes within the drain timeout.
                    evloop::sleep(Duration::from_millis(50)).await;
                    println!("loop {i} drained");
                }));
                println!("loop {i} ready");
                evloop::sleep(Duration::from_secs(600)).await;
            });
        for r in results {
            println!(
                "loop {}: {:?}, cancelled {}",
                r.core, r.outcome, r.cancelled_at_close
            );
        }
        return;
    }
    let (status, out, mut child) = terminate_when_ready(TEST, Duration::from_secs(30));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{status:?}\n{out:?}\n{err}");
    for i in 0..2 {
        assert!(out.contains(&format!("loop {i} drained")), "{out:?}\n{err}");
        assert!(
            out.contains(&format!("loop {i}: Err(Stopped), cancelled 0")),
            "{out:?}\n{err}"
        );
    }
    assert!(err.contains("stopping the loops"), "{err}");
}

#[test]
fn a_second_signal_exits_at_once() {
    const TEST: &str = "a_second_signal_exits_at_once";
    if std::env::var_os("EVLOOP_PER_CORE_CHILD").is_some() {
        PerCore::new()
            .loops(2)
            .drain_timeout(Duration::from_secs(600))
            .run(|core| async move {
                // A task that ignores the stop: the drain would take 10 minutes.
                drop(evloop::spawn(evloop::sleep(Duration::from_secs(600))));
                println!("loop {} ready", core.index());
                evloop::sleep(Duration::from_secs(600)).await;
            });
        return;
    }
    let mut child = child_test(TEST);
    let _lines = wait_ready(&mut child, 2);
    signal(&child, rustix::process::Signal::TERM);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, rustix::process::Signal::TERM);
    let status = exit_within(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(143), "128 + SIGTERM: {status:?}");
}

#[test]
fn without_signals_the_group_leaves_sigterm_to_the_program() {
    const TEST: &str = "without_signals_the_group_leaves_sigterm_to_the_program";
    if std::env::var_os("EVLOOP_PER_CORE_CHILD").is_some() {
        PerCore::new()
            .loops(2)
            .signals(false)
            .run(|core| async move {
                println!("loop {} ready", core.index());
                evloop::sleep(Duration::from_secs(600)).await;
            });
        println!("the group stopped");
        return;
    }
    let (status, out, _) = terminate_when_ready(TEST, Duration::from_secs(10));
    // Nothing caught the signal: its default action ended the process, no stop, no drain.
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(15), "{status:?} {out:?}");
    assert!(!out.iter().any(|l| l.contains("stopped")), "{out:?}");
}

//! Process pool faults: a dead worker fails only its own job and is replaced; cancelling or
//! timing out a running job kills its worker; protocol errors and start-up failures are typed
//! errors; workers retire after `max_tasks_per_child`; no zombie survives the pool.

mod util;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use evloop_bridge::{ExecError, ProcessPool};
use util::os::process_exists;
use util::procs::{
    kill_a_worker_mid_job, pid_file, pool, read_pid, registry, submit_sleeper, CORRUPT, EXIT,
    HANG_UP, PANIC, PID, PID_FILE_THEN_SLEEP, RAISE, SEED, SEEDED, SLEEP, SQUARE, WORKER_TEST,
};
use util::{eventually, finish, within};

#[test]
fn a_worker_killed_mid_job_fails_only_that_job_while_100_others_complete() {
    let pool = pool().max_workers(2).build().unwrap();
    kill_a_worker_mid_job(&pool, "sigkill", 100);
}

#[test]
fn a_worker_that_exits_mid_job_reports_its_status_and_is_replaced() {
    let pool = pool().max_workers(1).build().unwrap();
    let error = finish(pool.submit(&EXIT, 7)).unwrap_err();
    assert!(
        matches!(error, ExecError::WorkerDied { code: Some(7), .. }),
        "{error:?}"
    );
    assert_eq!(finish(pool.submit(&SQUARE, 5)), Ok(25));
}

#[test]
fn a_worker_killed_by_sigbus_reports_sigbus_by_this_systems_number() {
    let bus = rustix::process::Signal::BUS.as_raw(); // 7 on Linux, 10 on macOS and the BSDs
    let pool = pool().max_workers(1).build().unwrap();
    let error = finish(pool.submit(&RAISE, bus)).unwrap_err();
    assert!(
        matches!(error, ExecError::WorkerDied { signal: Some(s), .. } if s == bus),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains(&format!("signal {bus} (SIGBUS)")),
        "{error}"
    );
    assert_eq!(finish(pool.submit(&SQUARE, 3)), Ok(9));
}

#[test]
fn cancelling_a_running_ten_second_job_returns_at_once_and_the_pool_runs_new_jobs() {
    let pool = pool().max_workers(1).build().unwrap();
    let (long, path) = submit_sleeper(&pool, "cancel", 10_000);
    let pid = read_pid(&path);
    let start = Instant::now();
    assert!(long.cancel(), "a running job could not be cancelled");
    assert_eq!(finish(long), Err(ExecError::Cancelled));
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "cancel took {took:?}");
    assert_eq!(finish(pool.submit(&SQUARE, 4)), Ok(16));
    // The worker was killed and reaped, not left running its job.
    assert!(eventually(|| !process_exists(pid)), "worker {pid} survived");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_job_over_its_timeout_resolves_to_timed_out_and_its_worker_is_replaced() {
    let pool = pool().max_workers(1).build().unwrap();
    let timeout = Duration::from_millis(200);
    let start = Instant::now();
    let slow = pool.submit_with_timeout(&SLEEP, 10_000, Some(timeout));
    assert_eq!(finish(slow), Err(ExecError::TimedOut { after: timeout }));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(finish(pool.submit(&SQUARE, 6)), Ok(36));
}

#[test]
fn dropping_a_handle_cancels_its_running_job_when_so_configured() {
    let pool = pool().max_workers(1).cancel_on_drop(true).build().unwrap();
    let path = pid_file("dropcancel");
    let _ = std::fs::remove_file(&path);
    let handle = pool.submit(
        &PID_FILE_THEN_SLEEP,
        (path.to_string_lossy().into_owned(), 10_000),
    );
    let pid = read_pid(&path); // it runs
    drop(handle);
    assert!(
        eventually(|| !process_exists(pid)),
        "the dropped job's worker kept running"
    );
    assert_eq!(finish(pool.submit(&SQUARE, 2)), Ok(4));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_corrupted_frame_is_a_protocol_error_and_the_worker_is_replaced() {
    let pool = pool().max_workers(1).build().unwrap();
    let error = finish(pool.submit(&CORRUPT, ())).unwrap_err();
    assert!(
        matches!(&error, ExecError::Protocol(m) if m.contains("maximum frame size")),
        "{error:?}"
    );
    assert_eq!(finish(pool.submit(&SQUARE, 7)), Ok(49));
}

#[test]
fn a_worker_that_hangs_up_mid_job_is_killed_after_a_grace_period_and_replaced() {
    let pool = pool().max_workers(1).build().unwrap();
    let start = Instant::now();
    let error = finish(pool.submit(&HANG_UP, ())).unwrap_err();
    assert!(
        matches!(&error, ExecError::WorkerDied { signal: Some(9), reason, .. }
            if reason.contains("did not exit after its channel closed")),
        "{error:?}"
    );
    // The grace period (2 s), not the function's minute.
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(finish(pool.submit(&SQUARE, 8)), Ok(64));
}

#[test]
fn workers_retire_after_max_tasks_per_child_without_losing_jobs() {
    let pool = pool()
        .max_workers(1)
        .max_tasks_per_child(Some(2))
        .build()
        .unwrap();
    let pids: Vec<u32> = (0..6)
        .map(|_| finish(pool.submit(&PID, ())).unwrap())
        .collect();
    assert_eq!(pids[0], pids[1]);
    assert_eq!(pids[2], pids[3]);
    assert_eq!(pids[4], pids[5]);
    let distinct: HashSet<_> = pids.iter().collect();
    assert_eq!(distinct.len(), 3, "{pids:?}");
    assert!(eventually(
        || !process_exists(pids[0]) && !process_exists(pids[2])
    ));
    // Many jobs in flight through retirements: none lost.
    let many: Vec<_> = (0..50u64).map(|x| pool.submit(&SQUARE, x)).collect();
    for (x, handle) in (0..50u64).zip(many) {
        assert_eq!(finish(handle), Ok(x * x));
    }
}

#[test]
fn the_initializer_runs_in_every_worker_before_its_first_job() {
    let pool = pool()
        .max_workers(2)
        .initializer(SEED, 1234)
        .prestart(true)
        .build()
        .unwrap();
    for _ in 0..4 {
        assert_eq!(finish(pool.submit(&SEEDED, ())), Ok(1234));
    }
}

#[test]
fn a_worker_program_that_cannot_start_fails_jobs_with_start_failed_instead_of_looping() {
    let pool = pool()
        .program("/nonexistent/evloop-worker")
        .max_start_failures(3)
        .build()
        .unwrap();
    let error = finish(pool.submit(&SQUARE, 1)).unwrap_err();
    assert!(
        matches!(&error, ExecError::StartFailed(m) if m.contains("3 workers in a row") && m.contains("/nonexistent/evloop-worker")),
        "{error}"
    );
    // Further submissions fail at once with the same error.
    assert!(matches!(
        finish(pool.submit(&SQUARE, 2)),
        Err(ExecError::StartFailed(_))
    ));
}

#[test]
fn a_worker_that_exits_before_its_handshake_is_a_failed_start_with_its_status() {
    let pool = ProcessPool::builder(registry())
        .test_worker("no_such_test")
        .max_start_failures(2)
        .build()
        .unwrap();
    let error = finish(pool.submit(&SQUARE, 1)).unwrap_err();
    assert!(
        matches!(&error, ExecError::StartFailed(m) if m.contains("exited during start-up")),
        "{error}"
    );
}

#[test]
fn a_program_that_forgot_init_gets_one_error_that_says_what_to_do_at_its_first_worker() {
    let pool = ProcessPool::builder(registry())
        .test_worker("util::procs::forgetful_worker")
        .forward_stderr(false)
        .build()
        .unwrap();
    let error = finish(pool.submit(&SQUARE, 1)).unwrap_err();
    // What `unwrap` and a `main` returning the error print.
    let shown = format!("{error:?}");
    assert!(
        shown.starts_with("StartFailed: ") && shown.contains("call it first thing in main"),
        "{shown}"
    );
    assert!(shown.contains("evloop::process::init"), "{shown}");
    assert!(
        !shown.contains("in a row"),
        "the pool retried although every worker runs the same main: {shown}"
    );
    assert!(matches!(
        finish(pool.submit(&SQUARE, 2)),
        Err(ExecError::StartFailed(_))
    ));
}

#[test]
fn a_worker_whose_initializer_panics_is_a_failed_start() {
    let pool = pool()
        .initializer(PANIC, "the model file is missing".to_owned())
        .max_start_failures(2)
        .forward_stderr(false)
        .build()
        .unwrap();
    let error = finish(pool.submit(&SQUARE, 1)).unwrap_err();
    assert!(
        matches!(&error, ExecError::StartFailed(m)
            if m.contains("initializer failed") && m.contains("the model file is missing")),
        "{error}"
    );
}

#[test]
fn a_worker_that_never_completes_its_start_up_is_killed_at_the_start_timeout() {
    let pool = ProcessPool::builder(registry())
        .test_worker("util::procs::slow_worker")
        .start_timeout(Duration::from_millis(300))
        .max_start_failures(1)
        .build()
        .unwrap();
    let start = Instant::now();
    let error = finish(pool.submit(&SQUARE, 1)).unwrap_err();
    assert!(
        matches!(&error, ExecError::StartFailed(m) if m.contains("did not complete its start-up")),
        "{error}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_worker_whose_registry_differs_fails_the_pool_start_with_a_clear_error() {
    const EXTRA: evloop_bridge::process::ProcessFn<u8, u8> =
        evloop_bridge::process::ProcessFn::new("only_in_the_parent", |x| x);
    let pool = ProcessPool::builder(registry().register(EXTRA))
        .test_worker(WORKER_TEST)
        .build()
        .unwrap();
    let error = finish(pool.submit(&SQUARE, 1)).unwrap_err();
    assert!(
        matches!(&error, ExecError::StartFailed(m) if m.contains("registry")),
        "{error}"
    );
}

#[test]
fn a_bound_on_jobs_in_flight_rejects_the_excess_at_once() {
    let pool = pool()
        .max_workers(1)
        .max_in_flight(Some(2))
        .build()
        .unwrap();
    let a = pool.submit(&SLEEP, 300);
    let b = pool.submit(&SLEEP, 0);
    assert_eq!(
        finish(pool.submit(&SQUARE, 1)),
        Err(ExecError::QueueFull { capacity: 2 })
    );
    assert!(finish(a).is_ok() && finish(b).is_ok());
    assert_eq!(finish(pool.submit(&SQUARE, 3)), Ok(9));
}

#[test]
fn dropping_the_pool_returns_at_once_runs_queued_jobs_and_reaps_every_worker() {
    let pool = pool().max_workers(2).build().unwrap();
    let mut pids: HashSet<u32> = [pool.submit(&SLEEP, 200), pool.submit(&SLEEP, 200)]
        .map(|h| finish(h).unwrap())
        .into_iter()
        .collect();
    // Six 300 ms jobs on two workers: a drop that waited for them would take 900 ms.
    let queued: Vec<_> = (0..6).map(|_| pool.submit(&SLEEP, 300)).collect();
    let finished = pool.finished();
    let start = Instant::now();
    drop(pool);
    assert!(
        start.elapsed() < Duration::from_millis(300),
        "dropping the pool blocked for {:?}",
        start.elapsed()
    );
    for handle in queued {
        pids.insert(finish(handle).expect("a queued job was lost"));
    }
    within("awaiting Finished", move || {
        futures_lite::future::block_on(finished)
    });
    // Reaped: not even a zombie is left, and no orphan either.
    for pid in pids {
        assert!(!process_exists(pid), "worker {pid} survives the pool");
    }
}

#[test]
fn shutdown_with_cancel_pending_drops_queued_jobs_and_waits_for_workers() {
    let pool = pool().max_workers(1).build().unwrap();
    let path = pid_file("shutdown");
    let _ = std::fs::remove_file(&path);
    let running = pool.submit(
        &PID_FILE_THEN_SLEEP,
        (path.to_string_lossy().into_owned(), 300),
    );
    let queued: Vec<_> = (0..5).map(|_| pool.submit(&SQUARE, 2)).collect();
    let pid = read_pid(&path); // it runs; the others wait behind it
    let shut = pool.clone();
    within("shutdown(true, true)", move || shut.shutdown(true, true));
    assert_eq!(
        finish(running),
        Ok(()),
        "a running job was cancelled by shutdown"
    );
    let _ = std::fs::remove_file(&path);
    assert!(
        !process_exists(pid),
        "shutdown(wait) returned before the worker was reaped"
    );
    for handle in queued {
        assert_eq!(finish(handle), Err(ExecError::ShutDown));
    }
    assert_eq!(finish(pool.submit(&SQUARE, 2)), Err(ExecError::ShutDown));
}

#[test]
fn an_idle_worker_exits_after_the_idle_timeout_and_a_later_job_starts_another() {
    let pool = pool()
        .max_workers(1)
        .idle_timeout(Some(Duration::from_millis(100)))
        .build()
        .unwrap();
    let first = finish(pool.submit(&PID, ())).unwrap();
    assert!(
        eventually(|| !process_exists(first)),
        "the idle worker {first} did not exit"
    );
    let second = finish(pool.submit(&PID, ())).unwrap();
    assert_ne!(first, second);
}

#[test]
fn a_blocking_bound_makes_a_submitting_thread_wait_for_room() {
    let pool = pool()
        .max_workers(1)
        .max_in_flight(Some(1))
        .full_policy(evloop_bridge::FullQueuePolicy::Block)
        .build()
        .unwrap();
    let path = pid_file("block");
    let _ = std::fs::remove_file(&path);
    let first = pool.submit(
        &PID_FILE_THEN_SLEEP,
        (path.to_string_lossy().into_owned(), 300),
    );
    read_pid(&path);
    let submitter = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let handle = pool.submit(&SQUARE, 3); // blocks until the first job is done
            (start.elapsed(), handle)
        })
    };
    let (waited, second) = within("the blocked submit", move || submitter.join().unwrap());
    assert!(first.is_done(), "submit returned while the pool was full");
    assert!(
        waited >= Duration::from_millis(50),
        "submit did not wait: {waited:?}"
    );
    assert_eq!(finish(second), Ok(9));
    let _ = std::fs::remove_file(&path);
}

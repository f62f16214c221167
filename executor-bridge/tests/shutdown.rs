//! `ThreadPool::shutdown(wait, cancel_pending)`, with Python's semantics.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use evloop_bridge::{ExecError, ThreadPool};
use util::{block_on, eventually, finish, submit_gated, within, Gate, PATIENCE};

#[test]
fn submit_after_shutdown_resolves_to_shut_down_at_once() {
    let pool = ThreadPool::builder()
        .thread_name_prefix("xb-late")
        .build()
        .unwrap();
    pool.shutdown(false, false);
    let late = pool.submit(|| unreachable!("a job submitted after shutdown ran"));
    assert!(late.is_done(), "not resolved at once");
    assert_eq!(block_on(late), Err(ExecError::ShutDown));
    // Linux only: other threads' names are listed nowhere else (testing/os.rs).
    #[cfg(target_os = "linux")]
    assert_eq!(
        util::os::threads_named("xb-late"),
        0,
        "a worker started for it"
    );

    // Also after a shutdown that waited, through a clone.
    let pool = ThreadPool::new();
    let clone = pool.clone();
    within("shutdown", move || pool.shutdown(true, false));
    let late = clone.submit(|| 1);
    assert!(late.is_done());
    assert_eq!(finish(late), Err(ExecError::ShutDown));
}

#[test]
fn shutdown_with_wait_waits_for_running_and_queued_jobs() {
    let pool = ThreadPool::builder()
        .max_workers(1)
        .thread_name_prefix("xb-wait")
        .build()
        .unwrap();
    let finished = Arc::new(AtomicUsize::new(0));
    let (started_tx, started) = mpsc::channel();
    let running = pool.submit({
        let finished = finished.clone();
        move || {
            started_tx.send(()).unwrap();
            thread::sleep(Duration::from_millis(100));
            finished.fetch_add(1, Ordering::SeqCst);
        }
    });
    let queued: Vec<_> = (0..10)
        .map(|_| {
            let finished = finished.clone();
            pool.submit(move || {
                finished.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    started.recv_timeout(PATIENCE).unwrap();

    let pool = within("shutdown(wait = true)", move || {
        pool.shutdown(true, false);
        pool
    });
    assert_eq!(
        finished.load(Ordering::SeqCst),
        11,
        "shutdown returned early"
    );
    // Linux only: other threads' names are listed nowhere else (testing/os.rs).
    #[cfg(target_os = "linux")]
    assert_eq!(
        util::os::threads_named("xb-wait"),
        0,
        "a worker was not joined"
    );
    assert_eq!(pool.worker_count(), 0);
    assert!(running.is_done());
    for handle in queued {
        assert!(handle.is_done());
        assert_eq!(finish(handle), Ok(()));
    }
    assert_eq!(finish(running), Ok(()));
}

#[test]
fn shutdown_with_cancel_pending_cancels_the_queued_jobs() {
    let pool = ThreadPool::builder().max_workers(1).build().unwrap();
    let gate = Gate::new();
    let running = submit_gated(&pool, &gate, "running job finished");
    let ran = Arc::new(AtomicUsize::new(0));
    let queued: Vec<_> = (0..100)
        .map(|_| {
            let ran = ran.clone();
            pool.submit(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();

    pool.shutdown(false, true);
    for handle in &queued {
        assert!(handle.is_done(), "a queued job was not settled by shutdown");
    }
    gate.open();
    assert_eq!(finish(running), Ok("running job finished"));
    within("shutdown", move || pool.shutdown(true, true));
    for handle in queued {
        assert_eq!(finish(handle), Err(ExecError::ShutDown));
    }
    assert_eq!(ran.load(Ordering::SeqCst), 0, "a cancelled job ran");
}

#[test]
fn shutdown_without_wait_returns_while_jobs_run() {
    let pool = ThreadPool::builder()
        .thread_name_prefix("xb-nowait")
        .build()
        .unwrap();
    let gate = Gate::new();
    let running = pool.submit({
        let gate = gate.clone();
        move || {
            gate.pass();
            3
        }
    });
    let pool = within("shutdown(wait = false)", move || {
        pool.shutdown(false, false); // returns although the job is blocked
        pool
    });
    assert!(!running.is_done());
    gate.open();
    assert_eq!(finish(running), Ok(3));
    // Linux only: other threads' names are listed nowhere else (testing/os.rs).
    #[cfg(target_os = "linux")]
    assert!(eventually(|| util::os::threads_named("xb-nowait") == 0));
    assert_eq!(pool.worker_count(), 0);
}

#[test]
fn shutdown_from_inside_a_job_does_not_wait_for_itself() {
    let pool = ThreadPool::builder()
        .thread_name_prefix("xb-self")
        .build()
        .unwrap();
    let inner = pool.clone();
    let handle = pool.submit(move || {
        inner.shutdown(true, false);
        let late = inner.submit(|| ());
        late.is_done()
    });
    assert_eq!(
        finish(handle),
        Ok(true),
        "shutdown called from a job deadlocked"
    );
    // Linux only: other threads' names are listed nowhere else (testing/os.rs).
    #[cfg(target_os = "linux")]
    assert!(eventually(|| util::os::threads_named("xb-self") == 0));
}

#[test]
fn concurrent_waiting_shutdowns_both_wait() {
    let pool = ThreadPool::builder().max_workers(2).build().unwrap();
    let gate = Gate::new();
    let finished = Arc::new(AtomicUsize::new(0));
    let jobs: Vec<_> = (0..2)
        .map(|_| {
            let (gate, finished) = (gate.clone(), finished.clone());
            pool.submit(move || {
                gate.pass();
                finished.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    let shutdowns: Vec<_> = (0..2)
        .map(|_| {
            let (pool, finished) = (pool.clone(), finished.clone());
            thread::spawn(move || {
                pool.shutdown(true, false);
                finished.load(Ordering::SeqCst)
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(50));
    gate.open();
    for shutdown in shutdowns {
        assert!(eventually(|| shutdown.is_finished()), "a shutdown hung");
        assert_eq!(
            shutdown.join().unwrap(),
            2,
            "a shutdown returned before the jobs ended"
        );
    }
    for job in jobs {
        assert_eq!(finish(job), Ok(()));
    }
}

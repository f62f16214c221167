//! Workers start lazily, never exceed `max_workers`, poll the queue for `spin` after a job,
//! and exit after `keep_alive` idle.

// Four of these tests count the pool's threads by name, which only Linux lists: elsewhere what
// only they use goes unused.
#![cfg_attr(not(target_os = "linux"), allow(unused_imports, dead_code))]

mod util;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use evloop_bridge::ThreadPool;
use util::{eventually, finish, Rendezvous};

/// The name of the worker thread that runs a job.
fn worker_name(pool: &ThreadPool) -> String {
    finish(pool.submit(|| thread::current().name().unwrap().to_owned())).unwrap()
}

// Linux only: it counts the pool's threads by name, which only Linux lists (testing/os.rs).
#[cfg(target_os = "linux")]
#[test]
fn workers_start_lazily_and_are_reused() {
    let pool = ThreadPool::builder()
        .thread_name_prefix("xb-lazy")
        .build()
        .unwrap();
    assert_eq!(
        util::os::threads_named("xb-lazy"),
        0,
        "a thread started before any job"
    );
    assert_eq!(pool.worker_count(), 0);

    assert_eq!(finish(pool.submit(|| 1)), Ok(1));
    assert_eq!(util::os::threads_named("xb-lazy"), 1);

    // One job at a time: the worker is waiting whenever the next one arrives, so it takes
    // them all and no other worker starts.
    for i in 0..200 {
        assert_eq!(finish(pool.submit(move || i)), Ok(i));
    }
    let names: HashSet<_> = (0..20).map(|_| worker_name(&pool)).collect();
    assert_eq!(
        names.len(),
        1,
        "sequential jobs started extra workers: {names:?}"
    );
    assert_eq!(util::os::threads_named("xb-lazy"), 1);
    assert_eq!(pool.worker_count(), 1);
}

// Linux only: it counts the pool's threads by name, which only Linux lists (testing/os.rs).
#[cfg(target_os = "linux")]
#[test]
fn never_more_than_max_workers() {
    const MAX: usize = 3;
    let pool = ThreadPool::builder()
        .max_workers(MAX)
        .thread_name_prefix("xb-max")
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let meet = Rendezvous::new(MAX);
    let handles: Vec<_> = (0..200)
        .map(|i| {
            let (running, peak, meet) = (running.clone(), peak.clone(), meet.clone());
            pool.submit(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                if i < MAX {
                    assert!(meet.meet(), "max_workers jobs did not run at once");
                } else {
                    thread::sleep(Duration::from_micros(200));
                }
                let threads = util::os::threads_named("xb-max");
                running.fetch_sub(1, Ordering::SeqCst);
                threads
            })
        })
        .collect();
    for handle in handles {
        let threads = finish(handle).unwrap();
        assert!(threads <= MAX, "{threads} workers alive");
    }
    assert_eq!(peak.load(Ordering::SeqCst), MAX);
    assert_eq!(pool.worker_count(), MAX);
    assert_eq!(util::os::threads_named("xb-max"), MAX);
}

// Linux only: it counts the pool's threads by name, which only Linux lists (testing/os.rs).
#[cfg(target_os = "linux")]
#[test]
fn idle_workers_exit_after_keep_alive() {
    const WORKERS: usize = 3;
    let keep_alive = Duration::from_millis(300);
    let pool = ThreadPool::builder()
        .max_workers(WORKERS)
        .keep_alive(keep_alive)
        .thread_name_prefix("xb-idle")
        .build()
        .unwrap();
    let meet = Rendezvous::new(WORKERS);
    let handles: Vec<_> = (0..WORKERS)
        .map(|_| {
            let meet = meet.clone();
            pool.submit(move || {
                assert!(meet.meet());
                Instant::now()
            })
        })
        .collect();
    let last_job_end = handles
        .into_iter()
        .map(|h| finish(h).unwrap())
        .max()
        .unwrap();
    assert!(
        eventually(|| util::os::threads_named("xb-idle") == 0),
        "idle workers stayed"
    );
    // Not before their keep-alive: a worker exits no sooner than `keep_alive` after its job.
    assert!(last_job_end.elapsed() >= keep_alive);
    assert_eq!(pool.worker_count(), 0);

    // The pool still works: a new worker starts.
    assert_eq!(finish(pool.submit(|| 9)), Ok(9));
    assert_eq!(util::os::threads_named("xb-idle"), 1);
}

#[test]
fn a_worker_waits_out_its_keep_alive() {
    let pool = ThreadPool::builder()
        .max_workers(1)
        .keep_alive(Duration::from_secs(60))
        .build()
        .unwrap();
    let first = worker_name(&pool);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(
        worker_name(&pool),
        first,
        "the worker exited while within its keep-alive"
    );
}

// Linux only: it counts the pool's threads by name, which only Linux lists (testing/os.rs).
#[cfg(target_os = "linux")]
#[test]
fn a_worker_polls_the_queue_for_spin_after_a_job_then_sleeps() {
    let spinning = ThreadPool::builder()
        .max_workers(1)
        .thread_name_prefix("xb-spin")
        .spin(Duration::from_secs(30))
        .build()
        .unwrap();
    let parked = ThreadPool::builder()
        .max_workers(1)
        .thread_name_prefix("xb-nospin")
        .spin(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(finish(spinning.submit(|| 1)), Ok(1));
    assert_eq!(finish(parked.submit(|| 2)), Ok(2));
    // A spinning thread stays runnable (`R`), busy or waiting for a core; a parked one sleeps.
    assert!(
        eventually(|| util::os::thread_states("xb-nospin") == ['S']),
        "the worker with no spin never slept: {:?}",
        util::os::thread_states("xb-nospin")
    );
    thread::sleep(Duration::from_millis(100));
    assert_eq!(
        util::os::thread_states("xb-spin"),
        ['R'],
        "the spinning worker parked"
    );
    // The spinning worker takes the next job without being woken, and still answers.
    assert_eq!(finish(spinning.submit(|| 3)), Ok(3));
    assert_eq!(
        util::os::thread_states("xb-nospin"),
        ['S'],
        "the parked worker woke"
    );
    // Dropping the pool ends the spin: the worker sees the queue disconnected and exits.
    drop(spinning);
    assert!(
        eventually(|| util::os::threads_named("xb-spin") == 0),
        "the spinning worker outlived its pool"
    );
}

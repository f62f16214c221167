//! A panicking job resolves its handle to `Panicked` and costs the pool no worker.

mod util;

use std::collections::HashSet;
use std::thread;

use evloop_bridge::{ExecError, ThreadPool};
use util::{block_on, finish, Gate, Rendezvous};

#[test]
fn a_panic_resolves_to_panicked_with_its_message() {
    let pool = ThreadPool::new();
    let formatted = pool.submit(|| -> u8 { panic!("bad input: {}", 7) });
    assert_eq!(
        finish(formatted),
        Err(ExecError::Panicked("bad input: 7".to_owned()))
    );

    let literal = pool.submit(|| -> u8 { panic!("literal") });
    let error = block_on(literal).unwrap_err();
    assert!(error.is_panic());
    assert_eq!(error.panic_message(), Some("literal"));
    assert!(error.to_string().contains("literal"), "{error}");

    let other = pool.submit(|| -> u8 { std::panic::panic_any(42_u32) });
    assert!(finish(other).unwrap_err().is_panic());
}

/// Runs `count` jobs that must all run at the same time; returns the names of their threads.
fn run_at_once(pool: &ThreadPool, count: usize) -> HashSet<String> {
    let meet = Rendezvous::new(count);
    let handles: Vec<_> = (0..count)
        .map(|_| {
            let meet = meet.clone();
            pool.submit(move || {
                assert!(meet.meet(), "the jobs did not all run at once");
                thread::current().name().unwrap().to_owned()
            })
        })
        .collect();
    handles.into_iter().map(|h| finish(h).unwrap()).collect()
}

#[test]
fn the_pool_keeps_its_capacity_after_panics() {
    const WORKERS: usize = 4;
    let pool = ThreadPool::builder()
        .max_workers(WORKERS)
        .thread_name_prefix("xb-panic")
        .build()
        .unwrap();
    let before = run_at_once(&pool, WORKERS);
    assert_eq!(before.len(), WORKERS);

    let panics: Vec<_> = (0..WORKERS * 25)
        .map(|i| pool.submit(move || -> u8 { panic!("job {i} failed") }))
        .collect();
    for (i, handle) in panics.into_iter().enumerate() {
        assert_eq!(
            finish(handle),
            Err(ExecError::Panicked(format!("job {i} failed")))
        );
    }

    // `max_workers` jobs still run at the same time, on the very same threads: no worker died
    // (and none had to be replaced).
    let after = run_at_once(&pool, WORKERS);
    assert_eq!(after, before);
    // Linux only: other threads' names are listed nowhere else (testing/os.rs).
    #[cfg(target_os = "linux")]
    assert_eq!(util::os::threads_named("xb-panic"), WORKERS);
    assert_eq!(pool.worker_count(), WORKERS);
}

#[test]
fn a_result_whose_destructor_panics_does_not_kill_the_worker() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("a destructor panicked");
        }
    }
    let pool = ThreadPool::builder()
        .max_workers(1)
        .thread_name_prefix("xb-bomb")
        .build()
        .unwrap();
    // The handle is dropped before the job runs, so the result is dropped on the worker.
    let gate = Gate::new();
    drop(pool.submit({
        let gate = gate.clone();
        move || {
            gate.pass();
            Bomb
        }
    }));
    gate.open();
    let name = pool.submit(|| thread::current().name().unwrap().to_owned());
    assert_eq!(finish(name).unwrap(), "xb-bomb-0");
}

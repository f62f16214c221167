//! `run_in_process` on the loop reads each job's reply from its worker's channel in the loop's
//! own poller: awaiting jobs one after another wakes no supervisor thread; a job given up
//! (a timeout), or awaited outside any loop, still resolves and frees its worker. (Its own test
//! binary: on Linux it counts the context switches of the one pool's supervisor thread.)

use std::time::Duration;

use evloop_bridge::process::{self, ProcessFn, Registry};

mod util;
use evloop_bridge::{ExecError, ProcessPool};

const SQUARE: ProcessFn<u64, u64> = ProcessFn::new("square", |x| x * x);

/// Sleeps for the given milliseconds, returns them.
const SLEEP: ProcessFn<u64, u64> = ProcessFn::new("sleep", |ms| {
    std::thread::sleep(Duration::from_millis(ms));
    ms
});

fn functions() -> Registry {
    Registry::new().register(SQUARE).register(SLEEP)
}

/// The workers' entry point: this test binary, filtered to this test, is the worker program.
#[test]
fn worker() {
    process::init(functions);
}

#[test]
fn a_loop_awaiting_process_jobs_reads_their_replies_itself_and_frees_workers_it_gives_up() {
    let pool = ProcessPool::builder(functions())
        .test_worker("worker")
        .max_workers(1)
        .prestart(true)
        .build()
        .unwrap();
    const ROUNDS: u64 = 500;
    evloop::run(async {
        for x in 0..10u64 {
            assert_eq!(evloop::run_in_process(&pool, &SQUARE, x).await, Ok(x * x));
        }
        // Linux only: no other system counts another thread's context switches.
        #[cfg(target_os = "linux")]
        let before = util::os::thread_switches("evloop-procpool");
        for x in 0..ROUNDS {
            assert_eq!(evloop::run_in_process(&pool, &SQUARE, x).await, Ok(x * x));
        }
        // Linux only: as above.
        #[cfg(target_os = "linux")]
        let woken = util::os::thread_switches("evloop-procpool") - before;

        // Given up while its worker runs it: the reply is the supervisor's to read, and the
        // only worker is free again for the next job.
        let slow = evloop::run_in_process(&pool, &SLEEP, 200);
        let gave_up = evloop::timeout(Duration::from_millis(20), slow).await;
        assert!(gave_up.is_err(), "a 200 ms job finished within 20 ms");
        assert_eq!(evloop::run_in_process(&pool, &SQUARE, 3).await, Ok(9));

        // Cancelled through the future: its worker is killed, the next job runs on another.
        let long = evloop::run_in_process(&pool, &SLEEP, 10_000);
        assert!(long.cancel());
        assert_eq!(long.await, Err(ExecError::Cancelled));
        assert_eq!(evloop::run_in_process(&pool, &SQUARE, 4).await, Ok(16));
        // Linux only: as above.
        #[cfg(target_os = "linux")]
        assert!(
            woken < ROUNDS / 10,
            "the supervisor was switched in and out {woken} times during {ROUNDS} round trips \
             awaited on the loop (expected next to none)"
        );
    });
    // Outside any loop, the future is the plain handle.
    let job = evloop::run_in_process(&pool, &SQUARE, 6);
    assert_eq!(futures_lite::future::block_on(job), Ok(36));
    assert_eq!(
        evloop::run_in_process(&pool, &SQUARE, 7)
            .into_handle()
            .wait(),
        Ok(49)
    );
}

//! The way back of a job sent straight to a lent worker: a caller blocked in `wait` reads the
//! reply from the worker's channel itself, so that a round trip wakes no supervisor thread; and
//! whoever does not wait that way (a detached handle, another executor, a caller that gives up)
//! leaves the reply to the supervisor, which frees the worker for the next job. (Its own test
//! binary: on Linux it counts the context switches of the one supervisor thread.)

mod util;

use std::time::{Duration, Instant};

use evloop_bridge::ExecError;
#[cfg(target_os = "linux")] // the one system that counts another thread's switches
use util::procs::supervisor_switches;
use util::procs::{pool, SLEEP, SQUARE};
use util::{finish, within};

#[test]
fn callers_that_wait_read_their_replies_and_the_pool_stays_usable_for_everyone_else() {
    let pool = pool().max_workers(1).prestart(true).build().unwrap();
    // The first jobs teach the supervisor that callers read their own replies.
    for x in 0..10u64 {
        assert_eq!(finish(pool.submit(&SQUARE, x)), Ok(x * x));
    }
    // Linux only: no other system counts another thread's context switches.
    #[cfg(target_os = "linux")]
    let before = supervisor_switches();
    const ROUNDS: u64 = 500;
    for x in 0..ROUNDS {
        assert_eq!(pool.submit(&SQUARE, x).wait(), Ok(x * x));
    }
    // Linux only: as above.
    #[cfg(target_os = "linux")]
    {
        let woken = supervisor_switches() - before;
        assert!(
            woken < ROUNDS / 10,
            "the supervisor was switched in and out {woken} times during {ROUNDS} round trips \
             read by their callers (expected next to none)"
        );
    }

    // A detached job: nobody reads its reply on the channel, so the supervisor must, or the
    // only worker would stay taken and the next job would never run.
    drop(pool.submit(&SLEEP, 20));
    assert!(finish(pool.submit(&SQUARE, 3)).is_ok());

    // A future polled by another executor (no descriptor to wait for) hands the reply to the
    // supervisor, which wakes it.
    let job = pool.submit(&SLEEP, 20);
    let pid = within("block_on of a handle", move || {
        futures_lite::future::block_on(job)
    })
    .expect("the job runs");
    assert!(pid > 0);

    // A caller that gives up waiting (a timeout) and drops its handle frees the worker too.
    let mut slow = pool.submit(&SLEEP, 300);
    assert_eq!(slow.wait_timeout(Duration::from_millis(10)), None);
    drop(slow);
    assert_eq!(finish(pool.submit(&SQUARE, 4)), Ok(16));
}

#[test]
fn a_caller_blocked_reading_its_worker_channel_sees_its_jobs_timeout_at_once() {
    let pool = pool().max_workers(1).prestart(true).build().unwrap();
    assert_eq!(finish(pool.submit(&SQUARE, 2)), Ok(4));
    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    // Sent straight to the lent worker; `wait` then blocks reading its channel.
    let job = pool.submit_with_timeout(&SLEEP, 10_000, Some(timeout));
    let outcome = within("wait", move || job.wait());
    let took = start.elapsed();
    assert_eq!(outcome, Err(ExecError::TimedOut { after: timeout }));
    assert!(
        took < Duration::from_secs(5),
        "a 300 ms timeout reached the caller waiting on the worker's channel after {took:?}"
    );
    assert_eq!(finish(pool.submit(&SQUARE, 5)), Ok(25));
}

//! Many threads submitting, cancelling and timing out jobs on one process pool at once: every
//! handle resolves, each to its own outcome, and the pool keeps working.

mod util;

use std::time::Duration;

use evloop_bridge::ExecError;
use util::procs::{pool, SLEEP, SQUARE};
use util::{finish, within};

#[test]
fn concurrent_submits_cancels_and_timeouts_all_resolve_to_their_own_outcome() {
    let pool = pool()
        .max_workers(2)
        .max_tasks_per_child(Some(50))
        .build()
        .unwrap();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for i in 0..150u64 {
                    let x = t * 1000 + i;
                    match i % 10 {
                        // Cancelled at some point of its life: queued, sent or running.
                        3 => {
                            let handle = pool.submit(&SLEEP, 5);
                            if i % 20 == 3 {
                                std::thread::sleep(Duration::from_micros(200));
                            }
                            let cancelled = handle.cancel();
                            match finish(handle) {
                                Err(ExecError::Cancelled) => assert!(cancelled),
                                Ok(_) => assert!(!cancelled),
                                other => panic!("job {x}: {other:?}"),
                            }
                        }
                        // Timed out while running.
                        7 => {
                            let handle = pool.submit_with_timeout(
                                &SLEEP,
                                2_000,
                                Some(Duration::from_millis(20)),
                            );
                            assert_eq!(
                                finish(handle),
                                Err(ExecError::TimedOut {
                                    after: Duration::from_millis(20)
                                })
                            );
                        }
                        _ => assert_eq!(finish(pool.submit(&SQUARE, x)), Ok(x * x), "job {x}"),
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        within("a submitting thread", move || thread.join().unwrap());
    }
    assert_eq!(finish(pool.submit(&SQUARE, 12)), Ok(144));
    let done = pool.finished();
    drop(pool);
    within("the pool's end", move || {
        futures_lite::future::block_on(done)
    });
}

#[test]
fn submitters_racing_idle_expiry_and_retirement_lose_no_job() {
    // Workers lent to submitters are taken back constantly: they expire after 2 ms idle and
    // retire after 7 jobs, while four threads submit with pauses that let them go idle.
    let pool = pool()
        .max_workers(2)
        .idle_timeout(Some(Duration::from_millis(2)))
        .max_tasks_per_child(Some(7))
        .build()
        .unwrap();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for i in 0..60u64 {
                    let x = t * 1000 + i;
                    assert_eq!(finish(pool.submit(&SQUARE, x)), Ok(x * x), "job {x}");
                    if i % 3 == 0 {
                        std::thread::sleep(Duration::from_millis(i % 4));
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        within("a submitting thread", move || thread.join().unwrap());
    }
}

//! Blocking waits: `wait`, `wait_timeout` and `is_done`.

mod util;

use std::time::{Duration, Instant};

use evloop_bridge::ThreadPool;
use util::{block_on, within, Gate, PATIENCE};

#[test]
fn wait_returns_the_result() {
    let pool = ThreadPool::new();
    let handle = pool.submit(|| vec![1, 2, 3]);
    assert_eq!(within("wait", move || handle.wait()), Ok(vec![1, 2, 3]));
}

#[test]
fn wait_timeout_times_out_without_losing_the_result() {
    let pool = ThreadPool::new();
    let gate = Gate::new();
    let mut handle = pool.submit({
        let gate = gate.clone();
        move || {
            gate.pass();
            String::from("kept")
        }
    });
    let start = Instant::now();
    assert_eq!(handle.wait_timeout(Duration::from_millis(50)), None);
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "returned before its timeout"
    );
    assert_eq!(handle.wait_timeout(Duration::ZERO), None);
    assert!(!handle.is_done());

    gate.open();
    assert_eq!(
        handle.wait_timeout(PATIENCE),
        Some(Ok(String::from("kept")))
    );
    assert!(handle.is_done());
}

#[test]
fn a_handle_that_timed_out_can_still_be_awaited_or_waited() {
    let pool = ThreadPool::new();
    for awaited in [true, false] {
        let gate = Gate::new();
        let mut handle = pool.submit({
            let gate = gate.clone();
            move || {
                gate.pass();
                7
            }
        });
        assert_eq!(handle.wait_timeout(Duration::from_millis(10)), None);
        gate.open();
        let result = if awaited {
            block_on(handle)
        } else {
            within("wait", move || handle.wait())
        };
        assert_eq!(result, Ok(7));
    }
}

#[test]
fn wait_timeout_with_a_huge_timeout_still_returns() {
    let pool = ThreadPool::new();
    let mut handle = pool.submit(|| 1);
    let result = within("wait_timeout(Duration::MAX)", move || {
        handle.wait_timeout(Duration::MAX)
    });
    assert_eq!(result, Some(Ok(1)));
}

#[test]
#[should_panic(expected = "after it returned the job's result")]
fn using_a_spent_handle_panics_with_an_explanation() {
    let pool = ThreadPool::new();
    let mut handle = pool.submit(|| 1);
    assert_eq!(handle.wait_timeout(PATIENCE), Some(Ok(1)));
    let _ = handle.wait();
}

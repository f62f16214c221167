//! Slides 7 and 8 with real libraries: the `slow_upstream` example's three ways of calling a
//! slow HTTP service from an evloop server, compared by the latency concurrent clients see.
#![cfg(feature = "hyper")]

#[allow(dead_code)]
#[path = "../examples/slow_upstream.rs"]
mod example;

use std::time::Duration;

use example::{measure, Load, Mode};

#[test]
fn a_blocking_client_in_the_loop_serialises_every_request_and_the_cures_do_not() {
    let load = Load {
        clients: 8,
        requests: 2,
        upstream: Duration::from_millis(40),
    };
    let in_loop = measure(Mode::BlockingInLoop, load);
    let on_pool = measure(Mode::BlockingOnPool, load);
    let async_client = measure(Mode::Async, load);
    // 16 calls of 40 ms one after another: the last client waits for most of them. Through the
    // pool or asynchronously, calls overlap. Ratios, not microseconds: a loaded machine slows
    // every mode.
    assert!(
        in_loop.max >= Duration::from_millis(16 * 40 / 2),
        "in the loop: {in_loop:?}"
    );
    assert!(
        in_loop.p99 > async_client.p99 * 3,
        "in the loop {in_loop:?}, async {async_client:?}"
    );
    assert!(
        in_loop.p99 > on_pool.p99,
        "in the loop {in_loop:?}, on the pool {on_pool:?}"
    );
    assert!(
        async_client.p50 >= Duration::from_millis(40),
        "{async_client:?}"
    );
}

//! `ThreadPoolBuilder`: defaults and refused configurations.

mod util;

use std::time::Duration;

use evloop_bridge::{BuildError, FullQueuePolicy, ThreadPool};
use util::finish;

#[test]
fn the_default_size_is_pythons() {
    let pool = ThreadPool::new();
    assert_eq!(pool.max_workers(), (num_cpus::get() + 4).min(32));
    assert_eq!(pool.worker_count(), 0);
    assert_eq!(ThreadPool::default().max_workers(), pool.max_workers());
}

#[test]
fn invalid_settings_are_refused_with_a_clear_message() {
    let zero = ThreadPool::builder().max_workers(0).build().unwrap_err();
    assert_eq!(zero, BuildError::ZeroWorkers);
    assert!(zero.to_string().contains("max_workers"), "{zero}");

    let bound = ThreadPool::builder()
        .queue_bound(Some(0))
        .build()
        .unwrap_err();
    assert_eq!(bound, BuildError::ZeroQueueBound);
    assert!(bound.to_string().contains("queue_bound"), "{bound}");

    let name = ThreadPool::builder()
        .thread_name_prefix("a\0b")
        .build()
        .unwrap_err();
    assert_eq!(name, BuildError::NulInThreadName);
    assert!(name.to_string().contains("thread_name_prefix"), "{name}");
}

#[test]
fn every_setting_is_applied() {
    let pool = ThreadPool::builder()
        .max_workers(2)
        .thread_name_prefix("xb-built")
        .keep_alive(Duration::from_millis(5))
        .queue_bound(Some(1))
        .full_queue_policy(FullQueuePolicy::Block)
        .build()
        .unwrap();
    assert_eq!(pool.max_workers(), 2);
    let name = pool.submit(|| std::thread::current().name().unwrap().to_owned());
    assert_eq!(finish(name).unwrap(), "xb-built-0");
    let debug = format!("{pool:?}");
    assert!(debug.contains("max_workers: 2"), "{debug}");
    assert!(debug.contains("queue_bound: Some(1)"), "{debug}");
}

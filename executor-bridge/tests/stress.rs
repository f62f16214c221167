//! Many threads submitting while workers start and exit: no job is ever stranded in the queue.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use evloop_bridge::ThreadPool;
use util::{finish, within};

#[test]
fn no_job_is_stranded_while_workers_come_and_go() {
    const MAX: usize = 3;
    const PRODUCERS: u64 = 4;
    const JOBS: u64 = 1_500;
    // A zero keep-alive makes workers exit as soon as they find the queue empty, so exits race
    // with submissions all the time.
    let pool = ThreadPool::builder()
        .max_workers(MAX)
        .keep_alive(Duration::ZERO)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0)); // highest worker number seen
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (pool, running, peak, started) =
                (pool.clone(), running.clone(), peak.clone(), started.clone());
            thread::spawn(move || {
                let mut sum = 0;
                for i in 0..JOBS {
                    let (running, peak, started) = (running.clone(), peak.clone(), started.clone());
                    let handle = pool.submit(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        let name = thread::current().name().unwrap().to_owned();
                        let number = name.rsplit('-').next().unwrap().parse().unwrap();
                        started.fetch_max(number, Ordering::SeqCst);
                        running.fetch_sub(1, Ordering::SeqCst);
                        p * JOBS + i
                    });
                    // Vary the rhythm: sometimes wait for the job, sometimes pause first, so the
                    // workers alternate between busy, spinning, parked and exiting.
                    match i % 4 {
                        0 => thread::sleep(Duration::from_micros(50 + (i % 7) * 30)),
                        1 => thread::yield_now(),
                        _ => {}
                    }
                    sum += finish(handle).unwrap();
                }
                sum
            })
        })
        .collect();
    let total: u64 = within("the producers", move || {
        producers.into_iter().map(|p| p.join().unwrap()).sum()
    });
    let n = PRODUCERS * JOBS;
    assert_eq!(total, n * (n - 1) / 2);
    assert!(peak.load(Ordering::SeqCst) <= MAX);
    assert!(pool.worker_count() <= MAX);
    // Workers did come and go (numbers are never reused), so exits raced with submissions.
    let started = started.load(Ordering::SeqCst);
    eprintln!("workers started: {}", started + 1);
    assert!(started >= MAX, "only {} workers ever started", started + 1);
}

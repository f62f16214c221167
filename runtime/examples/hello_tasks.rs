//! Tasks on one thread: spawn, the round-robin order of `yield_now`, shared `Rc` state, and what
//! one blocking call does to everybody else.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

fn main() {
    evloop::run(async {
        // Three tasks take turns: each `yield_now` sends a task to the back of the ready queue.
        let log = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = ["A", "B", "C"]
            .into_iter()
            .map(|name| {
                let log = log.clone(); // no Arc, no Mutex: one thread
                evloop::spawn(async move {
                    for step in 1..=3 {
                        log.borrow_mut().push(format!("{name}{step}"));
                        evloop::yield_now().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        println!("yield_now interleaving: {}", log.borrow().join(" "));

        // A heartbeat every 10 ms, next to a task that sleeps properly, then one that blocks.
        for (label, blocking) in [
            ("await sleep(200ms)", false),
            ("std::thread::sleep(200ms)", true),
        ] {
            let heartbeat = evloop::spawn(async {
                let mut worst = Duration::ZERO;
                let mut ticks = evloop::interval(Duration::from_millis(10));
                for _ in 0..30 {
                    let due = ticks.tick().await;
                    worst = worst.max(due.elapsed());
                }
                worst
            });
            evloop::sleep(Duration::from_millis(20)).await;
            let start = Instant::now();
            if blocking {
                std::thread::sleep(Duration::from_millis(200)); // freezes the whole loop
            } else {
                evloop::sleep(Duration::from_millis(200)).await; // suspends only this task
            }
            let took = start.elapsed();
            let worst = heartbeat.await.unwrap();
            println!("{label:<28} took {took:>6.1?}; heartbeat worst lateness {worst:>8.1?}");
        }

        // A panicking task does not bring the loop down.
        let err = evloop::spawn(async { panic!("task failed") })
            .await
            .unwrap_err();
        println!("a panicking task: {err}");
        println!("{:?}", evloop::stats());
    });
}

//! `yield_now` and the order the cycle defines.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::AsyncReadExt;

mod util;

#[test]
fn ten_thousand_tasks_interleave_in_exact_round_robin_order() {
    const TASKS: usize = 10_000;
    const ROUNDS: usize = 5;
    let log = evloop::run(async {
        let log = Rc::new(RefCell::new(Vec::with_capacity(TASKS * ROUNDS)));
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let log = log.clone();
                evloop::spawn(async move {
                    for round in 0..ROUNDS {
                        log.borrow_mut().push((round, i));
                        evloop::yield_now().await;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        Rc::try_unwrap(log).unwrap().into_inner()
    });
    let expected: Vec<_> = (0..ROUNDS)
        .flat_map(|round| (0..TASKS).map(move |i| (round, i)))
        .collect();
    assert_eq!(log.len(), expected.len());
    assert!(log == expected, "tasks did not run in round-robin order");
}

#[test]
fn a_yielding_task_resumes_after_every_other_ready_task_ran_once() {
    let log = evloop::run(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let yielder = evloop::spawn(async move {
            l.borrow_mut().push("yielder before");
            evloop::yield_now().await;
            l.borrow_mut().push("yielder after");
        });
        let others: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|name| {
                let l = log.clone();
                evloop::spawn(async move { l.borrow_mut().push(name) })
            })
            .collect();
        yielder.await.unwrap();
        for o in others {
            o.await.unwrap();
        }
        Rc::try_unwrap(log).unwrap().into_inner()
    });
    assert_eq!(log, ["yielder before", "a", "b", "c", "yielder after"]);
}

#[test]
fn sleep_zero_yields_like_yield_now() {
    let log = evloop::run(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let sleeper = evloop::spawn(async move {
            evloop::sleep(Duration::ZERO).await;
            l.borrow_mut().push("sleeper");
        });
        let l = log.clone();
        let other = evloop::spawn(async move { l.borrow_mut().push("other") });
        sleeper.await.unwrap();
        other.await.unwrap();
        Rc::try_unwrap(log).unwrap().into_inner()
    });
    assert_eq!(log, ["other", "sleeper"]);
}

#[test]
fn a_self_waking_task_does_not_starve_a_socket_read() {
    let (reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
    let result = util::within(Duration::from_secs(20), move || {
        evloop::run(async move {
            let stop = Rc::new(std::cell::Cell::new(false));
            let s = stop.clone();
            // Never waits for anything: wakes itself forever until told to stop.
            let spinner = evloop::spawn(async move {
                let mut spins = 0u64;
                while !s.get() {
                    spins += 1;
                    evloop::yield_now().await;
                }
                spins
            });
            let writer_thread = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                writer.write_all(b"hello").unwrap();
                Instant::now()
            });
            let mut reader = evloop::net::UnixStream::from_std(reader).unwrap();
            let mut buf = [0; 5];
            reader.read_exact(&mut buf).await.unwrap();
            let read_at = Instant::now();
            stop.set(true);
            let spins = spinner.await.unwrap();
            let written_at = writer_thread.join().unwrap();
            (buf, spins, read_at.saturating_duration_since(written_at))
        })
    });
    assert_eq!(&result.0, b"hello");
    assert!(result.1 > 0, "the spinner ran while the read waited");
    // The loop polls the OS at least every 100 µs while tasks are ready (plus the cycle in
    // progress); the bound here only allows for a loaded machine.
    assert!(
        result.2 < Duration::from_millis(500),
        "read {:?} after the write",
        result.2
    );
}

#[test]
fn a_busy_loop_with_sockets_polls_the_os_far_less_than_once_per_cycle() {
    let stats = evloop::run(async {
        // A registered source: without it no cycle would poll the OS at all.
        let _listener = evloop::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let before = evloop::stats();
        for _ in 0..20_000 {
            evloop::yield_now().await;
        }
        let after = evloop::stats();
        (
            after.cycles - before.cycles,
            after.io_polls - before.io_polls,
        )
    });
    let (cycles, io_polls) = stats;
    assert!(cycles >= 20_000);
    assert!(io_polls >= 1, "the OS was still polled");
    assert!(io_polls * 4 < cycles, "{io_polls} polls in {cycles} cycles");
}

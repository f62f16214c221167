//! Wakers from other threads, and an idle loop that costs nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

mod util;

/// A one-shot signal set from another thread.
#[derive(Default)]
struct Signal(Mutex<(bool, Option<Waker>)>);

impl Signal {
    fn set(&self) {
        let waker = {
            let mut s = self.0.lock().unwrap();
            s.0 = true;
            s.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

struct Wait(Arc<Signal>);

impl Future for Wait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.0 .0.lock().unwrap();
        if s.0 {
            Poll::Ready(())
        } else {
            s.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[test]
fn a_wake_from_another_thread_wakes_a_loop_parked_in_the_poller() {
    let took = util::within(Duration::from_secs(20), || {
        evloop::run(async {
            let signal = Arc::new(Signal::default());
            let s = signal.clone();
            // A spawned task waits on the signal; nothing else is ready, no timer is pending,
            // so the loop parks in the poller with no timeout until the other thread wakes it.
            let waiter = evloop::spawn(Wait(signal));
            let start = Instant::now();
            let thread = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                s.set();
            });
            waiter.await.unwrap();
            thread.join().unwrap();
            let stats = evloop::stats();
            assert!(
                stats.cycles < 20,
                "the loop parked instead of spinning: {stats:?}"
            );
            start.elapsed()
        })
    });
    assert!(took >= Duration::from_millis(100));
}

#[test]
fn the_run_future_itself_is_woken_from_another_thread() {
    util::within(Duration::from_secs(20), || {
        evloop::run(async {
            let signal = Arc::new(Signal::default());
            let s = signal.clone();
            let thread = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                s.set();
            });
            Wait(signal).await;
            thread.join().unwrap();
        })
    });
}

#[test]
fn many_threads_waking_many_tasks_lose_no_wake() {
    const TASKS: usize = 2000;
    let done = util::within(Duration::from_secs(60), || {
        evloop::run(async {
            let signals: Vec<_> = (0..TASKS).map(|_| Arc::new(Signal::default())).collect();
            let handles: Vec<_> = signals
                .iter()
                .map(|s| evloop::spawn(Wait(s.clone())))
                .collect();
            evloop::yield_now().await; // let every task register its waker
            let threads: Vec<_> = signals
                .chunks(TASKS / 8)
                .map(|chunk| {
                    let chunk = chunk.to_vec();
                    std::thread::spawn(move || chunk.iter().for_each(|s| s.set()))
                })
                .collect();
            let mut done = 0;
            for h in handles {
                h.await.unwrap();
                done += 1;
            }
            for t in threads {
                t.join().unwrap();
            }
            done
        })
    });
    assert_eq!(done, TASKS);
}

#[test]
fn waking_a_task_after_its_loop_closed_is_harmless() {
    let signal = Arc::new(Signal::default());
    let s = signal.clone();
    evloop::run(async move {
        evloop::spawn(Wait(s));
        evloop::yield_now().await;
    });
    // The task was cancelled when `run` returned; its waker is still held here.
    std::thread::spawn(move || signal.set()).join().unwrap();
}

#[test]
fn an_idle_loop_uses_no_cpu() {
    let (cpu, wall) = evloop::run(async {
        let cpu = util::thread_cpu_time();
        let wall = Instant::now();
        evloop::sleep(Duration::from_millis(300)).await;
        (util::thread_cpu_time() - cpu, wall.elapsed())
    });
    assert!(wall >= Duration::from_millis(300));
    assert!(
        cpu < Duration::from_millis(10),
        "idle loop burned {cpu:?} of CPU"
    );
}

/// Runs `rounds` round trips on `rt`: a thread wakes the loop through a task's waker, the task
/// answers through a channel; returns the loop's stats afterwards.
fn ping_pong(rt: &evloop::Runtime, rounds: usize) -> evloop::Stats {
    let (answer_tx, answer_rx) = std::sync::mpsc::channel::<()>();
    let signal = Arc::new(Mutex::new(None::<Arc<Signal>>));
    let slot = signal.clone();
    let ringer = std::thread::spawn(move || {
        for _ in 0..rounds {
            // Wait until the task has armed its signal, then set it and wait for the answer.
            let armed = loop {
                if let Some(s) = slot.lock().unwrap().take() {
                    break s;
                }
                std::thread::yield_now();
            };
            armed.set();
            answer_rx.recv().unwrap();
        }
    });
    rt.block_on(async {
        for _ in 0..rounds {
            let s = Arc::new(Signal::default());
            *signal.lock().unwrap() = Some(s.clone());
            Wait(s).await;
            answer_tx.send(()).unwrap();
        }
    });
    ringer.join().unwrap();
    rt.stats()
}

/// A loop with a generous idle spin: on a loaded machine the other thread may take a while to
/// be scheduled.
fn spinning_loop() -> evloop::Runtime {
    evloop::Builder::new()
        .idle_spin(Duration::from_millis(1))
        .build()
        .unwrap()
}

/// The threads the machine has ready to run or running now (the caller included), where the
/// system says (`None` elsewhere): the same count the loop's idle spin looks at.
fn runnable_threads() -> Option<usize> {
    evloop_bridge::process::runnable_threads()
}

/// Runs `f` while another thread looks at the machine's load every 200 µs; returns what
/// `f` returned and the share of those looks that found more threads ready to run than cores
/// (not counting the looking thread).
fn crowded_during<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let cores = std::thread::available_parallelism().unwrap().get();
    let stop = Arc::new(AtomicBool::new(false));
    let looker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut looks, mut crowded) = (0u32, 0u32);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_micros(200));
                if let Some(n) = runnable_threads() {
                    looks += 1;
                    crowded += u32::from(n - 1 > cores);
                }
            }
            f64::from(crowded) / f64::from(looks.max(1))
        })
    };
    let out = f();
    stop.store(true, Ordering::Relaxed);
    (out, looker.join().unwrap())
}

/// Keeps the two tests that depend on the machine's load from running at the same time (one
/// of them crowds the machine on purpose).
static LOAD_TESTS: Mutex<()> = Mutex::new(());

#[test]
fn an_idle_spin_catches_quick_wakes_from_another_thread() {
    let _alone = LOAD_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    let mut crowded = Vec::new();
    for _ in 0..5 {
        let (stats, share) = crowded_during(|| {
            util::within(Duration::from_secs(60), || {
                ping_pong(&spinning_loop(), 2_000)
            })
        });
        if stats.wakes_while_spinning > 0 {
            return;
        }
        crowded.push(share);
    }
    // The loop spins only while the machine has a core to spare, and looks at that when it is
    // about to wait, when the thread about to wake it is running too: on a machine with other
    // work (a loaded machine), it rightly never spins. On an idle one (where fewer than one
    // look in ten finds it crowded, against a third or more with one other busy program on
    // two cores), it must.
    crowded.sort_by(f64::total_cmp);
    assert!(
        crowded[crowded.len() / 2] >= 0.15,
        "five runs of 2,000 quick wakes from another thread, no spin, on a machine with a core \
         to spare (crowded in {crowded:?} of the looks at it)"
    );
}

// Linux only: the one system whose count of threads ready to run the loop can read; the test
// below covers the others.
#[cfg(target_os = "linux")]
#[test]
fn a_crowded_machine_keeps_the_loop_from_spinning() {
    let _alone = LOAD_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    assert!(runnable_threads().is_some(), "Linux says how busy it is");
    // One more busy thread than cores: the machine stays crowded throughout.
    let hogs = Hogs::start(std::thread::available_parallelism().unwrap().get() + 1);
    let stats = util::within(Duration::from_secs(120), || {
        ping_pong(&spinning_loop(), 300)
    });
    drop(hogs);
    assert_eq!(stats.wakes_while_spinning, 0, "{stats:?}");
}

/// Threads that keep a core busy each until dropped (also when a test fails).
// Linux only: used by the one test that crowds the machine (see above).
#[cfg(target_os = "linux")]
struct Hogs {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

// Linux only: as above.
#[cfg(target_os = "linux")]
impl Hogs {
    fn start(n: usize) -> Hogs {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        Hogs { stop, threads }
    }
}

// Linux only: as above.
#[cfg(target_os = "linux")]
impl Drop for Hogs {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for hog in self.threads.drain(..) {
            let _ = hog.join();
        }
    }
}

#[test]
fn without_an_idle_spin_the_loop_never_spins() {
    let stats = util::within(Duration::from_secs(60), || {
        ping_pong(
            &evloop::Builder::new()
                .idle_spin(Duration::ZERO)
                .build()
                .unwrap(),
            500,
        )
    });
    assert_eq!(stats.wakes_while_spinning, 0, "{stats:?}");
}

#[test]
fn a_loop_woken_by_its_sockets_does_not_spin() {
    use std::io::{Read, Write};

    let stats = util::within(Duration::from_secs(60), || {
        let (stats, client) = spinning_loop().block_on(async {
            use futures_lite::{AsyncReadExt, AsyncWriteExt};
            let listener = evloop::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            // A client on another thread: it wakes the loop only through the socket.
            let client = std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                let mut buf = [0u8; 8];
                for _ in 0..300 {
                    s.write_all(&buf).unwrap();
                    s.read_exact(&mut buf).unwrap();
                }
            });
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 8];
            for _ in 0..300 {
                conn.read_exact(&mut buf).await.unwrap();
                conn.write_all(&buf).await.unwrap();
            }
            (evloop::stats(), client)
        });
        client.join().unwrap();
        stats
    });
    assert_eq!(stats.wakes_while_spinning, 0, "{stats:?}");
}

#[test]
fn an_idle_spin_over_a_millisecond_is_refused() {
    let err = evloop::Builder::new()
        .idle_spin(Duration::from_millis(2))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("idle spin"), "{err}");
}

// Elsewhere than Linux the loop cannot see a crowded machine: the test above cannot run, and
// this one checks what the loop does instead.
#[cfg(not(target_os = "linux"))]
#[test]
fn where_the_load_cannot_be_read_a_default_loop_does_not_spin() {
    let _alone = LOAD_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        runnable_threads().is_none(),
        "this system has a load count: test it as Linux"
    );
    let stats = util::within(Duration::from_secs(120), || {
        ping_pong(&evloop::Builder::new().build().unwrap(), 300)
    });
    assert_eq!(
        stats.wakes_while_spinning, 0,
        "a default loop spun although it cannot see how busy the machine is"
    );
}

//! The cooperative budget: a task whose operations never wait cannot freeze the loop.

mod util;

use std::cell::Cell;
use std::io::ErrorKind;
use std::rc::Rc;
use std::time::Duration;

use evloop::net::{TcpListener, TcpStream};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// A connected pair of TCP streams on loopback, the server side second.
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

#[test]
fn a_task_looping_on_an_always_ready_socket_does_not_stop_a_heartbeat() {
    let (ticks, forced) = util::within(Duration::from_secs(60), || {
        evloop::run(async {
            let (mut client, server) = tcp_pair().await;
            client.write_all(b"always readable").await.unwrap();
            let ticks = Rc::new(Cell::new(0));
            let t = ticks.clone();
            let heartbeat = evloop::spawn(async move {
                while t.get() < 5 {
                    evloop::sleep(Duration::from_millis(1)).await;
                    t.set(t.get() + 1);
                }
            });
            // Peeking never consumes the data, so the socket stays readable: this loop never
            // waits, and only the budget lets the heartbeat in.
            let t = ticks.clone();
            let peeker = evloop::spawn(async move {
                let mut buf = [0; 8];
                let mut peeks = 0u64;
                while t.get() < 5 {
                    server.peek(&mut buf).await.unwrap();
                    peeks += 1;
                }
                peeks
            });
            heartbeat.await.unwrap();
            let peeks = peeker.await.unwrap();
            assert!(peeks > 0);
            (ticks.get(), evloop::stats().forced_yields)
        })
    });
    assert_eq!(ticks, 5);
    assert!(forced > 0, "the peeking task was made to yield");
}

#[test]
fn the_future_given_to_block_on_has_a_budget_too() {
    let ticks = util::within(Duration::from_secs(60), || {
        evloop::run(async {
            let (mut client, server) = tcp_pair().await;
            client.write_all(b"x").await.unwrap();
            let ticks = Rc::new(Cell::new(0));
            let t = ticks.clone();
            evloop::spawn(async move {
                loop {
                    evloop::sleep(Duration::from_millis(1)).await;
                    t.set(t.get() + 1);
                }
            });
            let mut buf = [0; 1];
            while ticks.get() < 3 {
                server.peek(&mut buf).await.unwrap();
            }
            ticks.get()
        })
    });
    assert_eq!(ticks, 3);
}

#[test]
fn a_finished_join_handle_and_a_due_timer_spend_the_budget() {
    let rt = evloop::Builder::new().coop_budget(4).build().unwrap();
    let forced = rt.block_on(async {
        let done = evloop::spawn(async { 1 });
        evloop::yield_now().await; // the task completes
        let mut sleep = std::pin::pin!(evloop::sleep(Duration::ZERO));
        sleep.as_mut().await;
        let before = evloop::stats().forced_yields;
        // Polling a completed sleep again is ready at once: 4 of them spend the budget.
        for _ in 0..4 {
            sleep.as_mut().await;
        }
        assert_eq!(evloop::stats().forced_yields, before);
        sleep.as_mut().await; // the fifth makes the task yield, then completes
        assert_eq!(evloop::stats().forced_yields, before + 1);
        assert_eq!(done.await, Ok(1));
        evloop::stats().forced_yields
    });
    assert!(forced >= 1);
}

#[test]
fn a_budget_of_zero_is_refused() {
    let err = evloop::Builder::new().coop_budget(0).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("cooperative budget"), "{err}");
}

/// Set in the child process that runs the out-of-descriptors scenario.
const CHILD: &str = "EVLOOP_BUDGET_TEST_CHILD";

#[test]
fn an_accept_loop_that_logs_and_continues_recovers_when_descriptors_run_out() {
    if std::env::var_os(CHILD).is_some() {
        out_of_descriptors_scenario();
        return;
    }
    // The descriptor limit is per process: lower it in a child, not in this test binary. A
    // frozen loop shows as a child that does not exit.
    let out = util::run_child(
        "an_accept_loop_that_logs_and_continues_recovers_when_descriptors_run_out",
        &[(CHILD, "1")],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("served a new client after"), "{stdout}");
}

/// The usual server code, an accept loop that logs an error and tries again, while the
/// process is out of file descriptors; another task frees descriptors 50 ms later.
fn out_of_descriptors_scenario() {
    let open = util::os::open_descriptors();
    let limit = rustix::process::Rlimit {
        current: Some(open + 24),
        maximum: rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum,
    };
    rustix::process::setrlimit(rustix::process::Resource::Nofile, limit).unwrap();

    evloop::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let errors = Rc::new(Cell::new(0u64));
        let e = errors.clone();
        evloop::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((mut stream, _)) => {
                        evloop::spawn(async move {
                            let mut buf = [0; 4];
                            if stream.read_exact(&mut buf).await.is_ok() {
                                let _ = stream.write_all(&buf).await;
                            }
                        });
                    }
                    Err(err) => {
                        if e.get() == 0 {
                            eprintln!("accept failed: {err}; trying again");
                        }
                        e.set(e.get() + 1);
                    }
                }
            }
        });

        // Use up the descriptors with connections that are held open.
        let mut held = Vec::new();
        loop {
            match TcpStream::connect(addr).await {
                Ok(stream) => held.push(stream),
                Err(err) => {
                    assert_eq!(
                        err.raw_os_error(),
                        Some(rustix::io::Errno::MFILE.raw_os_error())
                    );
                    break;
                }
            }
        }
        // Free one descriptor for one more client: its connection waits in the backlog, and
        // accepting it fails with EMFILE again and again.
        held.pop();
        held.push(TcpStream::connect(addr).await.unwrap());
        while errors.get() == 0 {
            evloop::sleep(Duration::from_millis(1)).await;
        }

        // The tasks that close connections still run: a timer fires, descriptors are freed.
        evloop::sleep(Duration::from_millis(50)).await;
        let errors_meanwhile = errors.get();
        held.clear();

        let mut client = evloop::timeout(Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut reply = [0; 4];
        evloop::timeout(Duration::from_secs(10), client.read_exact(&mut reply))
            .await
            .expect("served in time")
            .unwrap();
        assert_eq!(&reply, b"ping");
        assert!(errors_meanwhile > 1);
        println!(
            "served a new client after {errors_meanwhile} failed accepts; {} forced yields",
            evloop::stats().forced_yields
        );
    });
}

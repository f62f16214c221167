//! Sockets: TCP echo under load, UDP, Unix sockets, closed peers and registration.

use std::io::ErrorKind;
use std::time::Duration;

use evloop::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use futures_lite::{AsyncReadExt, AsyncWriteExt, StreamExt};

mod util;

/// Lets the process open a few thousand sockets (the soft limit is often 1024).
fn raise_fd_limit(wanted: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if limit.current.is_some_and(|cur| cur < wanted) {
        limit.current = Some(wanted.min(hard));
        setrlimit(Resource::Nofile, limit).unwrap();
    }
}

#[test]
fn tcp_echo_with_1000_concurrent_connections() {
    const CONNECTIONS: usize = 1000;
    raise_fd_limit(4 * CONNECTIONS as u64 + 256);
    let echoed = util::within(Duration::from_secs(60), || {
        evloop::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = evloop::spawn(async move {
                let mut incoming = listener.incoming();
                for _ in 0..CONNECTIONS {
                    let stream = incoming.next().await.unwrap().unwrap();
                    evloop::spawn(async move {
                        let mut buf = [0u8; 1024];
                        loop {
                            match (&stream).read(&mut buf).await.unwrap() {
                                0 => break,
                                n => (&stream).write_all(&buf[..n]).await.unwrap(),
                            }
                        }
                    });
                }
            });
            let clients: Vec<_> = (0..CONNECTIONS)
                .map(|i| {
                    evloop::spawn(async move {
                        let mut stream = TcpStream::connect(addr).await.unwrap();
                        let message = format!("message {i} {}", "x".repeat(i % 500));
                        stream.write_all(message.as_bytes()).await.unwrap();
                        let mut reply = vec![0; message.len()];
                        stream.read_exact(&mut reply).await.unwrap();
                        assert_eq!(reply, message.as_bytes());
                        stream.close().await.unwrap();
                    })
                })
                .collect();
            // All connections are open at once: the clients only finish after every echo.
            let mut echoed = 0;
            for c in clients {
                c.await.unwrap();
                echoed += 1;
            }
            server.await.unwrap();
            echoed
        })
    });
    assert_eq!(echoed, CONNECTIONS);
}

#[test]
fn udp_round_trip() {
    evloop::run(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let echo = evloop::spawn(async move {
            let mut buf = [0u8; 64];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            server.send_to(&buf[..n], from).await.unwrap();
        });
        client.connect(server_addr).await.unwrap();
        client.send(b"ping over udp").await.unwrap();
        let mut buf = [0u8; 64];
        let n = evloop::timeout(Duration::from_secs(5), client.recv(&mut buf))
            .await
            .expect("the datagram came back")
            .unwrap();
        assert_eq!(&buf[..n], b"ping over udp");
        echo.await.unwrap();
    });
}

#[test]
fn unix_stream_round_trip_through_a_listener() {
    let dir = std::env::temp_dir().join(format!("evloop-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    let p = path.clone();
    evloop::run(async move {
        let listener = UnixListener::bind(&p).unwrap();
        let server = evloop::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            stream.read_exact(&mut buf).await.unwrap();
            stream.write_all(&buf).await.unwrap();
        });
        let mut client = UnixStream::connect(&p).await.unwrap();
        client.write_all(b"unix").await.unwrap();
        let mut buf = [0u8; 4];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"unix");
        server.await.unwrap();
    });
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_closed_peer_reads_as_end_of_stream_and_writes_fail_with_an_error() {
    evloop::run(async {
        let (mut a, b) = UnixStream::pair().unwrap();
        drop(b);
        let mut buf = [0u8; 8];
        assert_eq!(
            a.read(&mut buf).await.unwrap(),
            0,
            "end of stream, not a panic"
        );
        let mut err = None;
        // The first write after the peer left may still be buffered; a later one fails.
        for _ in 0..10 {
            if let Err(e) = a.write_all(&[0u8; 1024]).await {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("writing to a closed peer fails");
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "{err:?}"
        );
    });
}

#[test]
fn connecting_to_a_closed_port_is_refused_not_hung() {
    evloop::run(async {
        // Bind then drop to find a port with nobody listening.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let result = evloop::timeout(Duration::from_secs(10), TcpStream::connect(addr)).await;
        let err = result.expect("no hang").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err:?}");
    });
}

#[test]
fn host_names_are_resolved_without_blocking_the_loop() {
    evloop::run(async {
        let listener = TcpListener::bind("localhost:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let ticker = evloop::spawn(async {
            let mut ticks = 0;
            for _ in 0..3 {
                evloop::yield_now().await;
                ticks += 1;
            }
            ticks
        });
        let stream = TcpStream::connect(("localhost", port)).await.unwrap();
        assert!(stream.peer_addr().unwrap().ip().is_loopback());
        assert_eq!(ticker.await.unwrap(), 3);
        let err = evloop::net::resolve("no-such-host.invalid:80")
            .await
            .unwrap_err();
        assert!(!err.to_string().is_empty());
    });
}

#[test]
fn sources_are_deregistered_when_dropped() {
    evloop::run(async {
        let base = evloop::stats().io_sources;
        let (a, b) = UnixStream::pair().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(evloop::stats().io_sources, base + 3);
        drop((a, b, listener));
        assert_eq!(evloop::stats().io_sources, base);
    });
}

#[test]
fn registering_a_regular_file_or_a_directory_is_refused_with_a_pointer_to_evloop_fs() {
    let file = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
    let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
    evloop::run(async move {
        for (what, refused) in [
            ("a regular file", evloop::Async::new(file).map(drop)),
            ("a directory", evloop::Async::new(dir).map(drop)),
        ] {
            let err = refused.expect_err(what);
            assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{what}");
            assert!(err.to_string().contains("evloop::fs"), "{what}: {err}");
        }
        assert_eq!(evloop::stats().io_sources, 0, "nothing was left registered");
    });
}

#[test]
#[should_panic(expected = "registered with another event loop")]
fn an_io_object_used_on_another_loop_panics_with_an_explanation() {
    let rt1 = evloop::Builder::new().build().unwrap();
    let (a, _b) = rt1.block_on(async { UnixStream::pair().unwrap() });
    let rt2 = evloop::Builder::new().build().unwrap();
    rt2.block_on(async move {
        let mut a = a;
        let mut buf = [0u8; 1];
        let _ = a.read(&mut buf).await;
    });
}

#[test]
fn data_and_the_peers_close_that_arrive_together_are_both_read() {
    // One readiness edge reports both the last data and the end of stream: a read that comes
    // back short must not be taken to mean that nothing is left to read.
    let received = util::within(Duration::from_secs(30), || {
        evloop::run(async {
            let listener = evloop::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut client = evloop::net::TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            futures_lite::AsyncWriteExt::write_all(&mut server, b"last words")
                .await
                .unwrap();
            drop(server);
            evloop::sleep(Duration::from_millis(20)).await;
            let mut received = Vec::new();
            futures_lite::AsyncReadExt::read_to_end(&mut client, &mut received)
                .await
                .unwrap();
            received
        })
    });
    assert_eq!(received, b"last words");
}

/// Every poller this system has: on Linux evloop's epoll backend and `polling`'s; elsewhere
/// `polling`'s (kqueue).
fn backends() -> Vec<evloop::PollerBackend> {
    // Linux: the one system with two backends (epoll exists only there).
    if cfg!(any(target_os = "linux", target_os = "android")) {
        vec![evloop::PollerBackend::Epoll, evloop::PollerBackend::Polling]
    } else {
        vec![evloop::PollerBackend::Polling]
    }
}

/// A peer that sends `chunks` with `pause` between them and after the last, then closes its
/// writing half; runs on a thread of its own (blocking std sockets).
fn slow_writer(
    listener: std::net::TcpListener,
    chunks: &'static [&'static [u8]],
    pause: Duration,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        use std::io::Write;
        let (mut stream, _) = listener.accept().unwrap();
        for chunk in chunks {
            stream.write_all(chunk).unwrap();
            std::thread::sleep(pause);
        }
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        // Keep the socket open until the reader is done with it.
        let _ = std::io::Read::read(&mut stream, &mut [0; 1]);
    })
}

/// Reads until end of stream, in reads of up to 1 KiB (each of the peer's chunks is a short
/// read); fails instead of hanging if end of stream never comes.
async fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0; 1024];
    loop {
        let n = evloop::timeout(Duration::from_secs(20), stream.read(&mut buf))
            .await
            .expect("a read waited 20 s: a short read lost an edge")
            .unwrap();
        if n == 0 {
            return got;
        }
        got.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn short_reads_lose_neither_data_nor_the_end_of_stream_on_every_backend() {
    for backend in backends() {
        let rt = evloop::Builder::new().poller(backend).build().unwrap();
        rt.block_on(async {
            // Chunks that arrive one by one, each read short, then the peer's close.
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let peer = slow_writer(
                listener,
                &[b"hello ", b"event ", b"loop"],
                Duration::from_millis(30),
            );
            let mut stream = TcpStream::connect(addr).await.unwrap();
            assert_eq!(
                read_all(&mut stream).await,
                b"hello event loop",
                "{backend:?}"
            );
            drop(stream);
            peer.join().unwrap();

            // Data and the close already there at the first read: one short read, then end of
            // stream with no new edge to come.
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let peer = slow_writer(listener, &[b"all at once"], Duration::ZERO);
            let mut stream = TcpStream::connect(addr).await.unwrap();
            evloop::sleep(Duration::from_millis(100)).await;
            assert_eq!(read_all(&mut stream).await, b"all at once", "{backend:?}");
            drop(stream);
            peer.join().unwrap();
        });
    }
}

#[test]
fn the_epoll_backend_is_refused_with_a_clear_error_where_epoll_does_not_exist() {
    let built = evloop::Builder::new()
        .poller(evloop::PollerBackend::Epoll)
        .build();
    // Linux: epoll exists there; everywhere else the builder must refuse it.
    if cfg!(any(target_os = "linux", target_os = "android")) {
        assert!(built.is_ok(), "{:?}", built.err());
    } else {
        let Err(err) = built else {
            panic!("the epoll backend was accepted where epoll does not exist");
        };
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.to_string().contains("only on Linux"), "{err}");
    }
}

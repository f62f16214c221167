//! hyper 1.x on evloop: HTTP/1.1 and HTTP/2 end to end on loopback, hyper's timeouts on
//! evloop's timers, and the loop-thread check of the `Send + Sync` sleep handle.
#![cfg(feature = "hyper")]

mod util;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/hyper_shutdown.rs"]
mod hyper_shutdown;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use evloop::hyper::{EvloopExecutor, EvloopIo, EvloopSleep, EvloopTimer};
use evloop::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::rt::Timer;
use hyper::service::service_fn;
use hyper::{Request, Response};

type Error = Box<dyn std::error::Error>;

/// How long anything that should happen at once may take on a loaded machine.
const LIMIT: Duration = Duration::from_secs(30);

/// Answers with the method, the path, and the request body, and counts requests in `Rc` state
/// (not `Send`: services on evloop need not be).
fn echo_service(
    served: Rc<Cell<usize>>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<Full<Bytes>>,
    Error = hyper::Error,
    Future = impl Future<Output = Result<Response<Full<Bytes>>, hyper::Error>>,
> {
    service_fn(move |req: Request<Incoming>| {
        let served = served.clone();
        async move {
            served.set(served.get() + 1);
            let head = format!("{} {} {:?} ", req.method(), req.uri().path(), req.version());
            let body = req.into_body().collect().await?.to_bytes();
            let mut reply = head.into_bytes();
            reply.extend_from_slice(&body);
            Ok(Response::new(Full::new(Bytes::from(reply))))
        }
    })
}

fn request(method: &str, path: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "evloop.test")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

async fn body_text(response: Response<Incoming>) -> Result<String, Error> {
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8(bytes.to_vec())?)
}

#[test]
fn http1_server_and_client_end_to_end() {
    util::within(LIMIT, || {
        evloop::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let served = Rc::new(Cell::new(0));
            let service = echo_service(served.clone());
            let server = evloop::spawn(async move {
                let (stream, _) = listener.accept().await?;
                hyper::server::conn::http1::Builder::new()
                    .timer(EvloopTimer::new())
                    .serve_connection(EvloopIo::new(stream), service)
                    .await?;
                Ok::<_, Error>(())
            });

            let stream = TcpStream::connect(addr).await?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(EvloopIo::new(stream)).await?;
            let conn = evloop::spawn(conn);
            // A 1 MiB body: reads start small and double their way up (EvloopIo).
            let big: &'static str = Box::leak("0123456789abcdef".repeat(1 << 16).into_boxed_str());
            // Four requests on one kept-alive connection.
            for (method, path, body) in [
                ("GET", "/a", ""),
                ("POST", "/b", "some body"),
                ("PUT", "/c", "x"),
                ("POST", "/big", big),
            ] {
                sender.ready().await?;
                let response = sender.send_request(request(method, path, body)).await?;
                assert_eq!(response.status(), 200);
                assert_eq!(
                    body_text(response).await?,
                    format!("{method} {path} HTTP/1.1 {body}")
                );
            }
            assert_eq!(served.get(), 4);
            // Closing the client ends both connections cleanly.
            drop(sender);
            evloop::timeout(LIMIT, conn).await?.unwrap()?;
            evloop::timeout(LIMIT, server).await?.unwrap()
        })
        .unwrap();
    });
}

#[test]
fn http2_server_and_client_end_to_end_with_concurrent_streams() {
    util::within(LIMIT, || {
        evloop::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let served = Rc::new(Cell::new(0));
            let service = echo_service(served.clone());
            let server = evloop::spawn(async move {
                let (stream, _) = listener.accept().await?;
                hyper::server::conn::http2::Builder::new(EvloopExecutor::new())
                    .timer(EvloopTimer::new())
                    .keep_alive_interval(Duration::from_secs(10))
                    .serve_connection(EvloopIo::new(stream), service)
                    .await?;
                Ok::<_, Error>(())
            });

            let stream = TcpStream::connect(addr).await?;
            let (sender, conn) = hyper::client::conn::http2::Builder::new(EvloopExecutor::new())
                .timer(EvloopTimer::new())
                .handshake(EvloopIo::new(stream))
                .await?;
            let conn = evloop::spawn(conn);
            // Twenty requests in flight at once, multiplexed on the one connection.
            let requests: Vec<_> = (0..20)
                .map(|i| {
                    let mut sender = sender.clone();
                    evloop::spawn(async move {
                        let path = format!("/stream/{i}");
                        let response = sender
                            .send_request(request("POST", &path, "payload"))
                            .await?;
                        assert_eq!(response.version(), hyper::Version::HTTP_2);
                        let text = body_text(response).await?;
                        assert_eq!(text, format!("POST {path} HTTP/2.0 payload"));
                        Ok::<_, Error>(())
                    })
                })
                .collect();
            for request in requests {
                evloop::timeout(LIMIT, request).await?.unwrap()?;
            }
            assert_eq!(served.get(), 20);
            drop(sender);
            evloop::timeout(LIMIT, conn).await?.unwrap()?;
            evloop::timeout(LIMIT, server).await?.unwrap()
        })
        .unwrap();
    });
}

#[test]
fn a_client_that_never_finishes_its_headers_is_cut_off_by_header_read_timeout() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    util::within(LIMIT, || {
        evloop::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = evloop::spawn(async move {
                let (stream, _) = listener.accept().await?;
                let start = Instant::now();
                let result = hyper::server::conn::http1::Builder::new()
                    .timer(EvloopTimer::new())
                    .header_read_timeout(TIMEOUT)
                    .serve_connection(EvloopIo::new(stream), echo_service(Rc::default()))
                    .await;
                Ok::<_, Error>((result, start.elapsed()))
            });

            // Half a request head, then silence (the connection stays open).
            let mut client = TcpStream::connect(addr).await?;
            futures_lite::AsyncWriteExt::write_all(
                &mut client,
                b"GET / HTTP/1.1\r\nHost: evloop.test\r\n",
            )
            .await?;
            let (result, took) = evloop::timeout(LIMIT, server).await?.unwrap()?;
            let err = result.expect_err("the slow client was served");
            assert!(err.is_timeout(), "not a timeout: {err:?}");
            assert!(
                took >= TIMEOUT,
                "cut off after {took:?}, before the timeout"
            );
            // The server closed the connection: the client reads the end of the stream
            // (hyper may first send a `408 Request Timeout`).
            let mut rest = Vec::new();
            evloop::timeout(
                LIMIT,
                futures_lite::AsyncReadExt::read_to_end(&mut client, &mut rest),
            )
            .await??;
            assert!(
                rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
                "{rest:?}"
            );
            Ok::<_, Error>(())
        })
        .unwrap();
    });
}

#[test]
fn a_client_that_sends_its_headers_in_time_is_served() {
    util::within(LIMIT, || {
        evloop::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            evloop::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(EvloopTimer::new())
                    .header_read_timeout(Duration::from_secs(20))
                    .serve_connection(EvloopIo::new(stream), echo_service(Rc::default()))
                    .await;
            });
            // The head arrives in two parts, well within the timeout.
            let mut client = TcpStream::connect(addr).await?;
            futures_lite::AsyncWriteExt::write_all(&mut client, b"GET /slow HTTP/1.1\r\n").await?;
            evloop::sleep(Duration::from_millis(50)).await;
            futures_lite::AsyncWriteExt::write_all(
                &mut client,
                b"Host: evloop.test\r\nConnection: close\r\n\r\n",
            )
            .await?;
            let mut reply = String::new();
            evloop::timeout(
                LIMIT,
                futures_lite::AsyncReadExt::read_to_string(&mut client, &mut reply),
            )
            .await??;
            assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
            assert!(reply.ends_with("GET /slow HTTP/1.1 "), "{reply}");
            Ok::<_, Error>(())
        })
        .unwrap();
    });
}

#[test]
fn timer_sleeps_complete_at_their_deadline_and_reset_moves_it() {
    util::within(LIMIT, || {
        evloop::run(async {
            let timer = EvloopTimer::new();
            let start = Instant::now();
            timer.sleep(Duration::from_millis(30)).await;
            assert!(start.elapsed() >= Duration::from_millis(30));

            // Later: a sleep polled once, then moved back, waits for the new deadline.
            let mut sleep = timer.sleep(Duration::from_millis(10));
            assert!(futures_lite::future::poll_once(&mut sleep).await.is_none());
            let start = Instant::now();
            timer.reset(&mut sleep, start + Duration::from_millis(150));
            sleep.await;
            assert!(start.elapsed() >= Duration::from_millis(150));

            // Earlier: an hour-long sleep reset to now completes (within the test's limit).
            let mut sleep = timer.sleep(Duration::from_secs(3600));
            assert!(futures_lite::future::poll_once(&mut sleep).await.is_none());
            timer.reset(&mut sleep, Instant::now());
            sleep.await;

            // A sleep from another timer is replaced by one of ours.
            let mut foreign: Pin<Box<dyn hyper::rt::Sleep>> = Box::pin(Never);
            timer.reset(&mut foreign, Instant::now());
            foreign.await;
        });
    });
}

/// A `hyper::rt::Sleep` of another timer, which never completes.
struct Never;

impl Future for Never {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl hyper::rt::Sleep for Never {}

#[test]
fn a_sleep_polled_on_another_thread_panics_with_an_explanation() {
    let mut sleep = EvloopSleep::after(Duration::from_secs(60));
    evloop::run(async {
        assert!(futures_lite::future::poll_once(&mut sleep).await.is_none());
    });
    // `Send`: it may move, but its timer stays with the loop thread that registered it.
    let err = std::thread::spawn(move || {
        let mut sleep = sleep;
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let _ = Pin::new(&mut sleep).poll(&mut cx);
    })
    .join()
    .expect_err("polling on another thread must panic");
    let message = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or_default();
    assert!(
        message.contains("belongs to the event loop on thread")
            && message.contains("EvloopExecutor"),
        "{message}"
    );
}

#[test]
fn a_sleep_may_be_dropped_and_reset_on_any_thread() {
    evloop::run(async {
        let mut sleep = EvloopSleep::after(Duration::from_secs(60));
        assert!(futures_lite::future::poll_once(&mut sleep).await.is_none());
        let mut other = EvloopSleep::after(Duration::from_secs(60));
        assert!(futures_lite::future::poll_once(&mut other).await.is_none());
        // Reset on another thread detaches it; it registers afresh here.
        let mut sleep = std::thread::spawn(move || {
            sleep.reset(Instant::now());
            sleep
        })
        .join()
        .unwrap();
        std::thread::spawn(move || drop(other)).join().unwrap();
        evloop::timeout(LIMIT, &mut sleep).await.unwrap();
    });
}

/// The path rustc suggests for hyper's types when it finds evloop's module first works.
#[test]
fn hyper_types_are_reachable_through_evloop_hyper() {
    use evloop::hyper::{Method, Request, Response, StatusCode};
    let request: Request<()> = Request::builder().method(Method::POST).body(()).unwrap();
    assert_eq!(request.method(), ::hyper::Method::POST);
    let response = Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(())
        .unwrap();
    assert_eq!(response.status(), ::hyper::StatusCode::NO_CONTENT);
}

// ---- the hyper_shutdown example's server as a child process, stopped by real signals ----

/// The server of the `hyper_shutdown` example with the options in
/// `EVLOOP_HYPER_SHUTDOWN_ARGS`; run only as the child process of the tests below.
#[test]
#[ignore = "runs as a child process of the hyper shutdown tests"]
fn hyper_shutdown_server_child() {
    let args = std::env::var("EVLOOP_HYPER_SHUTDOWN_ARGS").expect("EVLOOP_HYPER_SHUTDOWN_ARGS");
    hyper_shutdown::main_with_args(args.split_whitespace().map(str::to_owned))
        .expect("hyper_shutdown server");
}

/// Starts the example's server with this grace period; returns it and its address.
fn start_hyper_shutdown(grace_secs: f64) -> (util::ChildServer, std::net::SocketAddr) {
    let args = format!("--addr 127.0.0.1:0 --grace {grace_secs}");
    let mut server = util::ChildServer::start(
        "hyper_shutdown_server_child",
        &[("EVLOOP_HYPER_SHUTDOWN_ARGS", &args)],
        LIMIT,
    );
    let addr = server.value_after("listening on http://", &['/']);
    (server, addr.parse().unwrap())
}

/// Sends `GET path` on a new keep-alive connection (a blocking client, outside any loop).
fn send_get(addr: std::net::SocketAddr, path: &str) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: evloop.test\r\n\r\n").unwrap();
    stream
}

/// Reads one response whose body is `body`, leaving the connection open.
fn read_response_with_body(stream: &mut std::net::TcpStream, body: &str) -> String {
    use std::io::Read;
    let mut got = Vec::new();
    let mut buf = [0; 1024];
    while !String::from_utf8_lossy(&got).ends_with(body) {
        let n = stream.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "the connection closed before the response ended with {body:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

/// Everything the server sends until it closes the connection.
fn read_to_close(stream: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    String::from_utf8(got).unwrap()
}

#[test]
fn hyper_shutdown_finishes_requests_in_flight_closes_idle_connections_and_refuses_new_ones() {
    let (mut server, addr) = start_hyper_shutdown(60.0);
    let mut idle = send_get(addr, "/");
    let hello = read_response_with_body(&mut idle, "hello from evloop\n");
    assert!(hello.starts_with("HTTP/1.1 200 OK"), "{hello}");
    let mut slow = send_get(addr, "/slow?ms=4000");
    server.wait_for("GET /slow?ms=4000");

    server.signal(rustix::process::Signal::TERM);
    let stopping = server.wait_for("stopped accepting");
    assert_eq!(
        stopping,
        "SIGTERM: stopped accepting; 2 connection(s) open, 1 request(s) in flight; waiting up to 60s",
        "the server stopped with other connections or requests than the test's idle one and \
         its 4 s request (a machine so loaded that the request ended before the signal?)"
    );
    let refused = std::net::TcpStream::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(
        read_to_close(&mut idle),
        "",
        "the idle keep-alive connection is closed without a response"
    );
    let response = read_to_close(&mut slow);
    assert!(
        response.starts_with("HTTP/1.1 200 OK") && response.ends_with("slept 4000 ms\n"),
        "the request in flight is answered in full: {response:?}"
    );
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response:?}"
    );

    server.finish_with(&[
        "all connections finished",
        "served 2 request(s); 0 cut off at shutdown",
    ]);
}

#[test]
fn hyper_shutdown_closes_requests_still_in_flight_at_the_deadline_after_ctrl_c() {
    let (mut server, addr) = start_hyper_shutdown(0.3);
    let mut slow = send_get(addr, "/slow?ms=60000");
    server.wait_for("GET /slow?ms=60000");
    server.signal(rustix::process::Signal::INT);
    assert_eq!(
        read_to_close(&mut slow),
        "",
        "a request cut off at the deadline gets no response"
    );
    server.finish_with(&[
        "SIGINT (Ctrl-C): stopped accepting; 1 connection(s) open, 1 request(s) in flight; waiting up to 300ms",
        "grace period over: closing 1 connection(s) still open",
        "served 1 request(s); 1 cut off at shutdown",
    ]);
}

#[test]
fn hyper_shutdown_closes_everything_at_a_second_signal() {
    let (mut server, addr) = start_hyper_shutdown(600.0);
    let mut slow = send_get(addr, "/slow?ms=60000");
    server.wait_for("GET /slow?ms=60000");
    server.signal(rustix::process::Signal::INT);
    server.wait_for("stopped accepting");
    server.signal(rustix::process::Signal::TERM);
    assert_eq!(read_to_close(&mut slow), "");
    server.finish_with(&["SIGTERM: closing 1 connection(s) now"]);
}

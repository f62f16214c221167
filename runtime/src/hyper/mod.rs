//! hyper 1.x on evloop (feature `hyper`): [`EvloopIo`], [`EvloopExecutor`], [`EvloopTimer`].
//!
//! hyper is runtime-agnostic through three traits in [`hyper::rt`]: I/O
//! ([`Read`](::hyper::rt::Read)/[`Write`](::hyper::rt::Write)), an
//! [`Executor`](::hyper::rt::Executor) for the tasks it starts (HTTP/2 streams and
//! connections), and a [`Timer`](::hyper::rt::Timer) for its timeouts. This module implements
//! them on evloop, as `hyper-util`'s `rt::tokio` does on tokio:
//!
//! - [`EvloopIo`] wraps an evloop socket (or any `futures-io` stream) for hyper;
//! - [`EvloopExecutor`] spawns hyper's tasks on the loop, without requiring `Send`;
//! - [`EvloopTimer`] hands hyper `Send + Sync` sleeps ([`EvloopSleep`]) backed by the loop's
//!   own timers, so `header_read_timeout` and HTTP/2 keep-alive work. Such a sleep checks
//!   that it is polled on the loop thread that registered it, and panics with an explanation
//!   otherwise.
//!
//! # Dependencies
//!
//! This module needs evloop's feature `hyper`, and a program using hyper needs hyper's own
//! features, which `cargo add hyper` does not turn on (it then fails with ``cannot find `server`
//! in `hyper` ``), and the usual body helpers:
//!
//! ```toml
//! [dependencies]
//! evloop = { version = "0.1", features = ["hyper"] }
//! hyper = { version = "1", features = ["server", "http1"] } # "http2", "client" as needed
//! http-body-util = "0.1"
//! bytes = "1"
//! ```
//!
//! The HTTP types ([`Request`], [`Response`], [`StatusCode`], [`Method`], [`Uri`],
//! [`Version`], [`HeaderMap`], [`header`], [`body`]) are re-exported here from hyper (the same
//! items), so that `use evloop::hyper::{Request, Response, StatusCode}`, which rustc suggests
//! when it finds this module before the `hyper` crate, works as well as `use hyper::{..}`.
//!
//! # Sockets stay `!Send`
//!
//! evloop's sockets are `!Send`, like those of glommio and monoio and unlike tokio's: each is
//! registered with the poller of the loop that created it and shares that loop's state without
//! locks. hyper does not need more: its HTTP/1 and HTTP/2 connections over an [`EvloopIo`]
//! run as ordinary evloop tasks, and services may hold `Rc` state.
//!
//! Crates whose API requires `Send` streams cannot take an evloop socket. `async-h1`'s
//! `server::accept`, for one, asks for `Read + Write + Clone + Send + Sync + Unpin + 'static`:
//! the request bodies it hands out read from the connection and are `http-types` bodies, which
//! must be `Send + Sync`. With evloop, serve HTTP through hyper, or run such a crate on its own
//! runtime and thread. A `Send` bound cannot be worked around by wrapping the socket: moving
//! it to another thread would detach it from the loop that reports its readiness.
//!
//! ```compile_fail
//! fn send<T: Send>(_: T) {}
//! evloop::run(async {
//!     let stream = evloop::net::TcpStream::connect("127.0.0.1:80").await.unwrap();
//!     send(stream); // error: `Rc<...>` cannot be sent between threads safely
//! });
//! ```
//!
//! # Examples
//!
//! An HTTP/1.1 server and a client on one loop:
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Empty, Full};
//! use hyper::{Request, Response};
//! use evloop::hyper::{EvloopIo, EvloopTimer};
//! use evloop::net::{TcpListener, TcpStream};
//!
//! async fn hello(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from(format!("hello from {}", req.uri().path())))))
//! }
//!
//! evloop::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     evloop::spawn(async move {
//!         loop {
//!             let Ok((stream, _)) = listener.accept().await else { continue };
//!             evloop::spawn(
//!                 hyper::server::conn::http1::Builder::new()
//!                     .timer(EvloopTimer::new())
//!                     .header_read_timeout(Duration::from_secs(10))
//!                     .serve_connection(EvloopIo::new(stream), hyper::service::service_fn(hello)),
//!             );
//!         }
//!     });
//!
//!     let stream = TcpStream::connect(addr).await?;
//!     let (mut sender, conn) = hyper::client::conn::http1::handshake(EvloopIo::new(stream)).await?;
//!     evloop::spawn(conn);
//!     let response = sender.send_request(Request::get("/evloop").body(Empty::<Bytes>::new())?).await?;
//!     let body = response.into_body().collect().await?.to_bytes();
//!     assert_eq!(body, "hello from /evloop");
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
//!
//! A server that shuts down gracefully on Ctrl-C or `SIGTERM` (stops accepting, lets requests
//! in flight finish within a grace period, then exits) is the `hyper_shutdown` example:
//! `cargo run --example hyper_shutdown --features hyper`. Its core is hyper's
//! `Connection::graceful_shutdown`, called on each connection when a channel closes:
//!
//! ```text
//! let mut connection = pin!(http1::Builder::new().serve_connection(EvloopIo::new(stream), service));
//! let served = future::or(async { Some(connection.as_mut().await) }, async {
//!     let _ = stop.recv().await; // returns when the server closes the channel
//!     None
//! })
//! .await;
//! let result = match served {
//!     Some(result) => result,
//!     None => {
//!         connection.as_mut().graceful_shutdown();
//!         connection.await
//!     }
//! };
//! ```
//!
//! `future::or` is futures-lite's and `stop` an async-channel `Receiver<()>`: a server written
//! this way also depends on `futures-lite = "2"` and `async-channel = "2"`.

mod executor;
mod io;
mod timer;

pub use executor::EvloopExecutor;
pub use io::EvloopIo;
pub use timer::{EvloopSleep, EvloopTimer};

/// hyper's HTTP types, the same items as `hyper::{..}` (see the module's documentation).
pub use ::hyper::{body, header, HeaderMap, Method, Request, Response, StatusCode, Uri, Version};

/// Compile-time checks of the auto traits hyper requires.
#[allow(dead_code)]
fn _assert_auto_traits() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<EvloopExecutor>();
    send_sync::<EvloopTimer>();
    send_sync::<EvloopSleep>();
    send_sync::<EvloopIo<std::net::TcpStream>>();
}

//! hyper 1.x on evloop: an HTTP/1.1 and HTTP/2 server and their clients on one thread, and a
//! slow client cut off by `header_read_timeout` on evloop's timers.
//!
//! `cargo run --example hyper_hello --features hyper`

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use evloop::hyper::{EvloopExecutor, EvloopIo, EvloopTimer};
use evloop::net::{TcpListener, TcpStream};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    evloop::run(async {
        // Requests served so far: `Rc` state, since nothing here leaves the loop thread.
        let served = Rc::new(Cell::new(0u32));
        let service = {
            let served = served.clone();
            hyper::service::service_fn(move |req: Request<Incoming>| {
                served.set(served.get() + 1);
                let text = format!("hello from evloop: {:?} {}\n", req.version(), req.uri());
                async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text)))) }
            })
        };

        let h1 = TcpListener::bind("127.0.0.1:0").await?;
        let h1_addr = h1.local_addr()?;
        let h1_service = service.clone();
        evloop::spawn(async move {
            while let Ok((stream, _)) = h1.accept().await {
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(EvloopTimer::new())
                    .header_read_timeout(Duration::from_millis(500))
                    .serve_connection(EvloopIo::new(stream), h1_service.clone());
                evloop::spawn(async move {
                    if let Err(e) = connection.await {
                        eprintln!("HTTP/1.1 connection ended: {e}");
                    }
                });
            }
        });

        let h2 = TcpListener::bind("127.0.0.1:0").await?;
        let h2_addr = h2.local_addr()?;
        evloop::spawn(async move {
            while let Ok((stream, _)) = h2.accept().await {
                let connection = hyper::server::conn::http2::Builder::new(EvloopExecutor::new())
                    .timer(EvloopTimer::new())
                    .serve_connection(EvloopIo::new(stream), service.clone());
                evloop::spawn(connection);
            }
        });

        // HTTP/1.1 client.
        let stream = TcpStream::connect(h1_addr).await?;
        let (mut h1_client, conn) =
            hyper::client::conn::http1::handshake(EvloopIo::new(stream)).await?;
        evloop::spawn(conn);
        let request = Request::get("/one")
            .header("host", "localhost")
            .body(Empty::<Bytes>::new())?;
        let response = h1_client.send_request(request).await?;
        print!(
            "{}",
            String::from_utf8_lossy(&response.into_body().collect().await?.to_bytes())
        );

        // HTTP/2 client: two requests in flight on one connection.
        let stream = TcpStream::connect(h2_addr).await?;
        let (h2_client, conn) =
            hyper::client::conn::http2::handshake(EvloopExecutor::new(), EvloopIo::new(stream))
                .await?;
        evloop::spawn(conn);
        let requests: Vec<_> = ["/two", "/three"]
            .into_iter()
            .map(|path| {
                let mut client = h2_client.clone();
                evloop::spawn(async move {
                    let response = client
                        .send_request(Request::get(path).body(Empty::<Bytes>::new())?)
                        .await?;
                    Ok::<_, Error>(response.into_body().collect().await?.to_bytes())
                })
            })
            .collect();
        for request in requests {
            print!(
                "{}",
                String::from_utf8_lossy(&request.await.expect("request task")?)
            );
        }

        // A client that never finishes its request head.
        let mut slow = TcpStream::connect(h1_addr).await?;
        slow.write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n")
            .await?;
        let start = Instant::now();
        let mut rest = Vec::new();
        slow.read_to_end(&mut rest).await?;
        println!(
            "slow client cut off after {:.0?} (header_read_timeout 500ms); {} requests served",
            start.elapsed(),
            served.get()
        );
        Ok(())
    })
}

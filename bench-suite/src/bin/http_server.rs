//! The same hyper server on evloop, tokio and smol, on one thread or two
//! ([`evloop_bench::workloads::http_servers`]), for `bench-suite/scripts/http.sh`: prints
//! `listening on ADDR` and serves until it is killed.
//!
//! `cargo run --release -p evloop-bench --bin http_server -- evloop 127.0.0.1:0 h1`
//! (or `tokio`, `smol`; `h2`), or one of the two-thread servers: `evloop2`,
//! `evloop2-handoff`, `tokio-mt2`, `tokio-2ct`, `smol2` (HTTP/1.1).

use evloop_bench::workloads::http_servers::{serve, Error, Protocol};

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: http_server evloop|tokio|smol [ADDR] [h1|h2]\n       \
                 http_server evloop2|evloop2-handoff|tokio-mt2|tokio-2ct|smol2 [ADDR]";
    let runtime = args.next().ok_or(usage)?;
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let protocol = match args.next().as_deref() {
        None | Some("h1") => Protocol::H1,
        Some("h2") => Protocol::H2,
        Some(_) => return Err(usage.into()),
    };
    serve(&runtime, &addr, protocol)
}

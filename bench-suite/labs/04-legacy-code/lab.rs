//! Lab 4, legacy code (statement: `docs/labs/04-legacy-code.md`).
//!
//! `fetch_quotes` asks a quote service for the prices of some stock symbols, using the only
//! client library there is: `legacy::fetch_quote`, a synchronous function that blocks its
//! thread until the service answers (about 100 ms). A heartbeat task runs next to it and
//! should tick every 5 ms. Make `fetch_quotes` stop freezing the loop, keeping the library and
//! the order of the quotes. Check with `cargo run --release -p evloop-bench -- lab check 4`.

use std::io;
use std::net::SocketAddr;

use crate::labs::lab04::legacy;

/// Fetches the quote of every symbol from the service at `addr`, in the order given.
pub async fn fetch_quotes(addr: SocketAddr, symbols: Vec<String>) -> io::Result<Vec<String>> {
    let mut quotes = Vec::with_capacity(symbols.len());
    for symbol in &symbols {
        quotes.push(legacy::fetch_quote(addr, symbol)?);
    }
    Ok(quotes)
}

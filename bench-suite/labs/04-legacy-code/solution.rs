//! Lab 4, legacy code: the reference solution (statement: `docs/labs/04-legacy-code.md`).
//!
//! `legacy::fetch_quote` blocks its thread for as long as the service takes; on the loop
//! thread it would freeze the heartbeat and every other task (slide 7). Each call runs on a
//! thread of the loop's default pool instead, through `run_in_executor(None, ..)` (slide 8,
//! strategy 2), and the task awaits the handle, which does not block the loop.

use std::io;
use std::net::SocketAddr;

use crate::labs::lab04::legacy;

/// Fetches the quote of every symbol from the service at `addr`, in the order given.
pub async fn fetch_quotes(addr: SocketAddr, symbols: Vec<String>) -> io::Result<Vec<String>> {
    let mut quotes = Vec::with_capacity(symbols.len());
    for symbol in symbols {
        let quote = evloop::run_in_executor(None, move || legacy::fetch_quote(addr, &symbol))
            .await
            .map_err(io::Error::other)??;
        quotes.push(quote);
    }
    Ok(quotes)
}

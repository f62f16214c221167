//! `#[evloop::main]`: an `async fn main` on an evloop loop, returning `io::Result`.
//!
//! `cargo run --example macro_main`

use std::time::Duration;

#[evloop::main(name = "macro-main", shutdown_timeout_ms = 1000)]
async fn main() -> std::io::Result<()> {
    let mut interval = evloop::interval(Duration::from_millis(2));
    let mut ticks = 0;
    while ticks < 3 {
        interval.tick().await;
        ticks += 1;
    }
    let greeting = evloop::to_thread(|| "hello from an async main").await?;
    println!("{greeting}, after {ticks} ticks");
    Ok(())
}

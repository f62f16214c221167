//! Lab 7, the lost update (statement: `docs/labs/07-lost-update.md`).
//!
//! `book` sells seats of a concert hall. Hundreds of bookings run at once, as tasks on one event
//! loop thread, and the hall ends up selling more seats than it has, although no two tasks ever
//! run at the same time. Find the window in which another booking can slip in, close it, and
//! keep every booking's price coming from `quote`. Check with
//! `cargo run --release -p evloop-bench -- lab check 7`.

use crate::labs::lab07::{quote, Hall};

/// Books `seats` seats in `hall` at the price `quote` gives; returns whether they were sold
/// (false when fewer seats are free).
pub async fn book(hall: &Hall, seats: u32) -> bool {
    let free = hall.free();
    if free < seats {
        return false;
    }
    // Ask the pricing service: a network call, so the task waits here.
    let price = quote(seats).await;
    hall.set_free(free - seats);
    hall.record_sale(seats, price);
    true
}

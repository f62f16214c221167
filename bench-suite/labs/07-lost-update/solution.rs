//! Lab 7, the lost update: the reference solution (statement: `docs/labs/07-lost-update.md`).
//!
//! The starter reads the free seats, awaits the price, and writes back what it read minus its
//! seats: every booking that ran during its `await` is overwritten. Here the price is asked for
//! first, and the check and the update run with no `await` between them, so no other task can
//! run in between: on one thread, code between two awaits is never interleaved (slide 10).

use crate::labs::lab07::{quote, Hall};

/// Books `seats` seats in `hall` at the price `quote` gives; returns whether they were sold
/// (false when fewer seats are free).
pub async fn book(hall: &Hall, seats: u32) -> bool {
    // The await comes before the window: nothing read yet can go stale.
    let price = quote(seats).await;
    let free = hall.free();
    if free < seats {
        return false;
    }
    hall.set_free(free - seats);
    hall.record_sale(seats, price);
    true
}

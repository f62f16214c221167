//! Lab 7, the lost update: the concert hall the student's `book` sells seats of, the pricing
//! service it awaits, the harness that runs hundreds of bookings at once on one loop thread,
//! and the checker, which tests the hall's invariants after every run and shows the starter's
//! run of the same bookings beside the student's.
//!
//! The verdict is deterministic: all bookings are spawned before any of them runs, each runs
//! until its first `await`, and the pricing service answers no earlier than the loop's next
//! turn, so with an `await` between the check and the update every booking after the first
//! reads a count that another booking will overwrite. Without one, no other task can run
//! between the check and the update: there is no chance involved either way. A version of the
//! same booking on threads, where the OS may interrupt it at any instruction, is run for
//! comparison and shown for information only: whether it loses updates is chance.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::lab::{Lab, Program};
use super::process;
use super::verdict::{Check, LabError, Verdict};

/// Seats in the hall.
pub const CAPACITY: u32 = 500;
/// Bookings per run: between them they ask for five times the hall's seats.
const BOOKINGS: u32 = 1_000;
/// The price of a seat, in cents.
pub const SEAT_PRICE: u64 = 4_000;

/// A concert hall: its free seats and the sales recorded. One thread only (`Cell`s): the tasks
/// of one event loop share it without locks.
#[derive(Debug)]
pub struct Hall {
    free: Cell<u32>,
    sold: Cell<u32>,
    revenue: Cell<u64>,
}

impl Hall {
    /// A hall with `capacity` free seats and no sale.
    pub fn new(capacity: u32) -> Hall {
        Hall {
            free: Cell::new(capacity),
            sold: Cell::new(0),
            revenue: Cell::new(0),
        }
    }

    /// The free seats.
    pub fn free(&self) -> u32 {
        self.free.get()
    }

    /// Sets the free seats.
    pub fn set_free(&self, free: u32) {
        self.free.set(free);
    }

    /// Records the sale of `seats` seats for `price` cents.
    pub fn record_sale(&self, seats: u32, price: u64) {
        self.sold.set(self.sold.get() + seats);
        self.revenue.set(self.revenue.get() + price);
    }
}

/// The pricing service: the price of `seats` seats, in cents. It stands for a network call:
/// the task is suspended until the answer comes, some hundred microseconds later, and the loop
/// runs other tasks meanwhile.
pub async fn quote(seats: u32) -> u64 {
    evloop::sleep(Duration::from_micros(100 + u64::from(seats) * 50)).await;
    u64::from(seats) * SEAT_PRICE
}

/// What one run of a version did, and what the hall says about it.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    /// Bookings that ran, all at once.
    bookings: u32,
    /// Seats they asked for, in all.
    asked: u32,
    /// Bookings that returned true.
    accepted: u32,
    /// Seats of the bookings that returned true.
    accepted_seats: u32,
    /// Free seats at the end.
    free: u32,
    /// Seats the hall recorded as sold.
    recorded: u32,
    /// Revenue the hall recorded, in cents.
    revenue: u64,
    /// Bookings a version of the same code on threads lost, out of as many (information).
    threads_lost: u64,
    /// The threads' bookings.
    threads_bookings: u64,
}

/// The size of booking `i` of run `round`: 1 to 4 seats, in an order that differs per run.
fn seats_of(i: u32, round: u32) -> u32 {
    1 + (i * 7 + round * 3) % 4
}

/// Runs one version's bookings, all at once, and prints the [`Outcome`].
///
/// # Errors
///
/// The runtime could not be built.
pub fn run(program: Program, round: u32) -> Result<(), LabError> {
    let rt = process::build_loop(evloop::Builder::new().name("lab07"))?;
    let hall = Rc::new(Hall::new(CAPACITY));
    let results = rt.block_on(async {
        let tasks: Vec<_> = (0..BOOKINGS)
            .map(|i| {
                let (hall, seats) = (hall.clone(), seats_of(i, round));
                evloop::spawn(async move {
                    let sold = match program {
                        Program::Yours => super::lab07_yours::book(&hall, seats).await,
                        Program::Starter => super::lab07_starter::book(&hall, seats).await,
                        Program::Solution => super::lab07_solution::book(&hall, seats).await,
                    };
                    (seats, sold)
                })
            })
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for task in tasks {
            results.push(task.await);
        }
        results
    });
    let mut outcome = Outcome {
        bookings: BOOKINGS,
        asked: 0,
        accepted: 0,
        accepted_seats: 0,
        free: hall.free(),
        recorded: hall.sold.get(),
        revenue: hall.revenue.get(),
        threads_lost: 0,
        threads_bookings: 0,
    };
    for result in results {
        let (seats, sold) = result.map_err(|e| LabError::NoResult {
            program: format!("a booking of {}", program.name()),
            status: "panicked".into(),
            stderr: e.to_string(),
        })?;
        outcome.asked += seats;
        if sold {
            outcome.accepted += 1;
            outcome.accepted_seats += seats;
        }
    }
    (outcome.threads_lost, outcome.threads_bookings) = on_threads();
    process::print_result(&outcome);
    Ok(())
}

/// The starter's booking on four threads, with the same check-then-act on a shared count of
/// free seats (an atomic read, then an atomic write of what was read minus one): returns how
/// many sales the count lost, and how many bookings there were.
fn on_threads() -> (u64, u64) {
    const THREADS: u64 = 4;
    const EACH: u64 = 50_000;
    let capacity = (THREADS * EACH) as u32;
    let free = Arc::new(AtomicU32::new(capacity));
    let sold = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (free, sold) = (free.clone(), sold.clone());
            std::thread::spawn(move || {
                for _ in 0..EACH {
                    let seen = free.load(Ordering::Relaxed);
                    if seen >= 1 {
                        // Another thread may run between the load and this store.
                        free.store(seen - 1, Ordering::Relaxed);
                        sold.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let sold = sold.load(Ordering::Relaxed);
    let counted = u64::from(capacity - free.load(Ordering::Relaxed));
    (sold.saturating_sub(counted), THREADS * EACH)
}

/// Checks the hall's invariants after runs of `program`, next to the starter's.
///
/// # Errors
///
/// A program that cannot be started, or that does not finish.
pub fn check(lab: Lab, program: Program, quick: bool) -> Result<Verdict, LabError> {
    let limit = Duration::from_secs(60);
    let rounds = if quick { 2 } else { 3 };
    let starter: Outcome =
        process::start(lab, Program::Starter, quick, &["--round", "0"])?.result(limit)?;
    let mut runs = Vec::new();
    for round in 0..rounds {
        let round = round.to_string();
        runs.push(process::start(lab, program, quick, &["--round", &round])?.result(limit)?);
    }
    let who = if program == Program::Yours {
        "yours"
    } else {
        program.name()
    };
    let describe = |who: &str, o: &Outcome| {
        format!(
            "{who:<8} {} bookings asked for {} seats of {CAPACITY}: {} accepted, for {} seats; \
             the hall has {} free and recorded {} sold ({} lost)",
            o.bookings,
            o.asked,
            o.accepted,
            o.accepted_seats,
            o.free,
            o.recorded,
            i64::from(o.accepted_seats) - i64::from(CAPACITY - o.free.min(CAPACITY)),
        )
    };
    let mut measured = vec![describe("starter", &starter)];
    for (i, o) in runs.iter().enumerate() {
        measured.push(describe(&format!("{who} {}", i + 1), o));
    }
    measured.push(format!(
        "for comparison, the same booking on 4 threads (no await: the OS may switch threads at \
         any instruction) lost {} of {} sales in this run; that is chance, and it does not \
         count in the verdict",
        runs[0].threads_lost, runs[0].threads_bookings
    ));
    // Every rule must hold in every run.
    let worst = |f: &dyn Fn(&Outcome) -> i64| runs.iter().map(f).max().unwrap_or(0);
    let lost = worst(&|o| i64::from(o.accepted_seats) - i64::from(CAPACITY - o.free.min(CAPACITY)));
    let over = worst(&|o| i64::from(o.accepted_seats) - i64::from(CAPACITY));
    let left = worst(&|o| i64::from(o.free));
    let unrecorded = worst(&|o| (i64::from(o.accepted_seats) - i64::from(o.recorded)).abs());
    let mispriced = worst(&|o| {
        (o.revenue as i64 - i64::from(o.recorded) * SEAT_PRICE as i64).abs() / SEAT_PRICE as i64
    });
    let checks = vec![
        Check::new(
            "every accepted seat is gone from the free count (no lost update)",
            lost == 0,
            format!(
                "{lost} seats were sold but are still counted free: a booking wrote back a free \
                 count that it had read before its await, overwriting the bookings that ran \
                 meanwhile"
            ),
        )
        .figure("lost_seats", lost as f64),
        Check::new(
            "no more seats sold than the hall has",
            over <= 0,
            format!("{over} seats more than the hall's {CAPACITY} were sold"),
        )
        .figure("overbooked_seats", over.max(0) as f64),
        Check::new(
            "the hall is sold out (the bookings ask for five times its seats)",
            left == 0,
            format!(
                "{left} seats are still counted free at the end although bookings of one seat \
                 came after them: a booking that fit was refused, or the free count lost sales"
            ),
        )
        .figure("free_seats_left", left as f64),
        Check::new(
            "every accepted booking is recorded once, at the price quote gave",
            unrecorded == 0 && mispriced == 0,
            format!(
                "the hall's records differ from the accepted bookings by {unrecorded} seats \
                 and {mispriced} seats' worth of revenue: call record_sale once per sale, with \
                 the price from quote"
            ),
        )
        .figure("unrecorded_seats", unrecorded as f64)
        .figure("mispriced_seats", mispriced as f64),
    ];
    let pass_reason = format!(
        "in {rounds} runs of {BOOKINGS} concurrent bookings the hall sold exactly its {CAPACITY} \
         seats, each recorded at its price, where the starter's bookings overwrote each other"
    );
    Ok(Verdict::from_checks(measured, checks, pass_reason))
}

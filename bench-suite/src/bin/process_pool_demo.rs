//! A plain binary using the process pool: `process::init` is the first line of `main`, and the
//! workers are this executable started again. Prints the squares of 0..10 computed in worker
//! processes, and the workers' pids.

use std::collections::BTreeSet;

use evloop_bridge::process::{self, ProcessFn, Registry};
use evloop_bridge::ProcessPool;

const SQUARE_WITH_PID: ProcessFn<u64, (u64, u32)> =
    ProcessFn::new("square_with_pid", |x| (x * x, std::process::id()));

fn functions() -> Registry {
    Registry::new().register(SQUARE_WITH_PID)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    process::init(functions); // a worker never gets past this line
    let pool = ProcessPool::builder(functions()).max_workers(2).build()?;
    let results = pool.map(&SQUARE_WITH_PID, 0..10u64, 3).wait()?;
    let squares: Vec<u64> = results.iter().map(|(square, _)| *square).collect();
    let pids: BTreeSet<u32> = results.iter().map(|(_, pid)| *pid).collect();
    println!("squares: {squares:?}");
    println!("parent {} used worker pids {pids:?}", std::process::id());
    pool.shutdown(true, false);
    Ok(())
}

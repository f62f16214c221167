//! A worker that cannot be started because this process has no file descriptor left: jobs
//! fail with `StartFailed` saying why and what to do, the pool stops retrying, nothing hangs,
//! and a pool built once descriptors are free again works. (Its own test binary: the limit it
//! lowers is process-wide.)

mod util;

use evloop_bridge::ExecError;
use rustix::process::{getrlimit, setrlimit, Resource};
use util::finish;
use util::procs::{pool, SQUARE};

#[test]
fn a_worker_that_cannot_get_a_descriptor_fails_jobs_with_start_failed_and_the_pool_stops_retrying()
{
    // Built first: the pool's own poller needs descriptors.
    let starved = pool().max_start_failures(2).build().unwrap();
    let saved = getrlimit(Resource::Nofile);
    let mut lowered = saved;
    // No new descriptor can be made: the worker's socket pair fails with EMFILE.
    lowered.current = Some(util::os::lowest_free_fd());
    setrlimit(Resource::Nofile, lowered).unwrap();
    let first = finish(starved.submit(&SQUARE, 3));
    let second = finish(starved.submit(&SQUARE, 4));
    setrlimit(Resource::Nofile, saved).unwrap();

    let error = first.unwrap_err();
    assert!(
        matches!(&error, ExecError::StartFailed(m)
            if m.contains("2 workers in a row")
                && m.contains("Too many open files")
                && m.contains("no file descriptor left")
                && m.contains("ulimit -n")),
        "{error}"
    );
    assert!(
        matches!(&second, Err(ExecError::StartFailed(_))),
        "{second:?}"
    );
    // Descriptors are free again: a new pool starts its worker and runs the job.
    let healthy = pool().build().unwrap();
    assert_eq!(finish(healthy.submit(&SQUARE, 5)), Ok(25));
}

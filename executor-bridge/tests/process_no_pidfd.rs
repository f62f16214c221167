//! Supervision without native exit watching, as on kernels before Linux 5.3
//! (`lifeline_exit_watch()`): a worker's death is seen at the end of its lifeline, and jobs get
//! the same outcomes as with pidfds; every worker is reaped.

mod util;

use std::collections::HashSet;
use std::time::Instant;

use evloop_bridge::ExecError;
use util::os::process_exists;
use util::procs::{kill_a_worker_mid_job, pool, read_pid, submit_sleeper, PID};
use util::{finish, within, PATIENCE};

#[test]
fn without_pidfds_a_killed_worker_fails_only_its_job_and_is_reaped_and_replaced() {
    let pool = pool().lifeline_exit_watch().max_workers(2).build().unwrap();
    let pid = kill_a_worker_mid_job(&pool, "nopidfd-kill", 50);
    assert!(!process_exists(pid), "the killed worker was not reaped");
}

#[test]
fn without_pidfds_cancelling_a_running_job_kills_its_worker_at_once() {
    let pool = pool().lifeline_exit_watch().max_workers(1).build().unwrap();
    let (long, path) = submit_sleeper(&pool, "nopidfd-cancel", 10_000);
    let pid = read_pid(&path);
    let start = Instant::now();
    assert!(long.cancel());
    assert_eq!(finish(long), Err(ExecError::Cancelled));
    let next = finish(pool.submit(&PID, ())).unwrap();
    assert!(start.elapsed() < PATIENCE / 2);
    assert_ne!(next, pid, "the cancelled job's worker ran the next job");
    assert!(
        within("the cancelled worker's reaping", move || {
            util::eventually(|| !process_exists(pid))
        }),
        "the cancelled worker survives"
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn without_pidfds_retired_and_shut_down_workers_are_reaped_and_no_job_is_lost() {
    let pool = pool()
        .lifeline_exit_watch()
        .max_workers(1)
        .max_tasks_per_child(Some(3))
        .build()
        .unwrap();
    let pids: Vec<u32> = (0..9)
        .map(|_| pool.submit(&PID, ()))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| finish(h).unwrap())
        .collect();
    let distinct: HashSet<_> = pids.iter().copied().collect();
    assert_eq!(distinct.len(), 3, "each worker serves 3 jobs: {pids:?}");
    let finished = pool.finished();
    drop(pool);
    within("the pool's end", move || {
        futures_lite::future::block_on(finished)
    });
    for pid in distinct {
        assert!(!process_exists(pid), "worker {pid} survives the pool");
    }
}

//! A worker that dies while idle costs no job: a job sent to it just before or just after its
//! death, which it never read, runs on another worker, exactly once. (A job that a dead worker
//! had read fails with `WorkerDied`: see `process_faults.rs`.)

mod util;

use std::path::Path;
use std::time::Duration;

use evloop_bridge::ProcessPool;
use rustix::process::{kill_process, Pid, Signal};
use util::procs::{pool, RECORD};
use util::{finish, fresh_dir, Busy};

/// `rounds` times: a job runs (so its worker is idle, lent to submitters and reading its
/// channel), that worker is killed with `SIGKILL`, and a job is submitted at once (or after a
/// short pause, varied by round). Every job must succeed, and none may run twice: each creates
/// its own file with `create_new`, so a second run would fail it with `Panicked`.
fn kill_idle_workers_and_submit(pool: &ProcessPool, dir: &Path, rounds: u64) {
    let path = dir.to_string_lossy().into_owned();
    for round in 0..rounds {
        let ran = finish(pool.submit(&RECORD, (path.clone(), 2 * round)));
        let pid = ran.unwrap_or_else(|e| panic!("round {round}: the first job failed: {e}"));
        match round % 4 {
            0 | 1 => {} // the worker is still polling its channel after its reply
            2 => std::thread::sleep(Duration::from_micros(200)),
            _ => std::thread::sleep(Duration::from_millis(50)), // blocked in read
        }
        kill_process(Pid::from_raw(pid as i32).unwrap(), Signal::KILL).unwrap();
        let next = finish(pool.submit(&RECORD, (path.clone(), 2 * round + 1)));
        match next {
            Ok(ran_on) => assert_ne!(
                ran_on, pid,
                "round {round}: the job ran on the worker killed before it was submitted"
            ),
            Err(error) => panic!(
                "round {round}: a job submitted right after idle worker {pid} was killed \
                 failed: {error}"
            ),
        }
    }
    let recorded = std::fs::read_dir(dir).unwrap().count() as u64;
    assert_eq!(
        recorded,
        2 * rounds,
        "jobs that ran, against jobs submitted"
    );
}

#[test]
fn a_job_submitted_right_after_its_idle_worker_was_killed_runs_once_on_the_replacement() {
    let pool = pool().max_workers(1).prestart(true).build().unwrap();
    let dir = fresh_dir("idle-kill-one");
    kill_idle_workers_and_submit(&pool, &dir, 100);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn on_a_busy_machine_four_workers_killed_while_idle_lose_no_job_and_repeat_none() {
    let _busy = Busy::start(2);
    let pool = pool().max_workers(4).prestart(true).build().unwrap();
    let dir = fresh_dir("idle-kill-four");
    kill_idle_workers_and_submit(&pool, &dir, 100);
    let _ = std::fs::remove_dir_all(dir);
}

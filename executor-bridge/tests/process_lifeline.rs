//! Workers never outlive the pool's process, and nothing of the pool leaks into what a job
//! starts: a SIGKILLed parent's workers stop within a second, mid-job; a pool built on a thread
//! that exits keeps its workers; a killed worker whose job started a subprocess is still seen
//! to die at once.

mod util;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use evloop_bridge::{ExecError, ProcessPoolBuilder};
use rustix::process::{kill_process, Pid, Signal};
use util::os::stopped_running;
use util::procs::{pool, read_pid, SLEEP, SUBPROCESS_THEN_SLEEP};
use util::{eventually, finish, fresh_dir, PATIENCE};

/// Set in the child process of the orphan tests: the directory its workers write their pids
/// to, and whether the pool watches exits natively (`native`) or through lifelines.
const PARENT_ENV: &str = "EVLOOP_TEST_ORPHANING_PARENT";

/// The child process of the orphan tests (this test binary, filtered to this test): builds a
/// pool of two workers, starts a 20 s job on each (each writes its worker's pid first), and
/// waits to be killed. In a normal test run it does nothing.
#[test]
fn orphaning_parent() {
    let Some(value) = std::env::var_os(PARENT_ENV) else {
        return;
    };
    let value = value.into_string().unwrap();
    let (watch, dir) = value.split_once(':').unwrap();
    let mut builder = pool().max_workers(2);
    if watch != "native" {
        builder = builder.lifeline_exit_watch();
    }
    let pool = builder.build().unwrap();
    let _jobs: Vec<_> = (0..2)
        .map(|i| {
            let path = format!("{dir}/{i}");
            pool.submit(&util::procs::PID_FILE_THEN_SLEEP, (path, 20_000))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(60));
}

/// Runs [`orphaning_parent`] in a child process, waits for its two workers to run their jobs,
/// SIGKILLs the child, and checks that both workers stop running within a second.
fn workers_stop_with_their_parent(watch: &str) {
    let dir = fresh_dir(&format!("orphans-{watch}"));
    let mut parent = Command::new(std::env::current_exe().unwrap())
        .args([
            "orphaning_parent",
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "--quiet",
        ])
        .env(PARENT_ENV, format!("{watch}:{}", dir.display()))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let workers = [read_pid(&dir.join("0")), read_pid(&dir.join("1"))];
    assert!(
        workers.iter().all(|&pid| !stopped_running(pid)),
        "the workers run their jobs"
    );
    parent.kill().unwrap(); // SIGKILL: nothing of the pool runs in the parent any more
    let killed = Instant::now();
    parent.wait().unwrap();
    assert!(
        eventually(|| workers.iter().all(|&pid| stopped_running(pid))),
        "workers {workers:?} still run {PATIENCE:?} after their parent was killed"
    );
    let took = killed.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the workers of a killed parent took {took:?} to stop (limit 1 s)"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_workers_of_a_sigkilled_parent_stop_mid_job_within_a_second() {
    workers_stop_with_their_parent("native");
}

#[test]
fn without_native_exit_watching_too_the_workers_of_a_sigkilled_parent_stop_within_a_second() {
    workers_stop_with_their_parent("lifeline");
}

#[test]
fn a_pool_built_on_a_thread_that_exited_keeps_its_workers_and_serves() {
    let pool = std::thread::spawn(|| pool().max_workers(2).prestart(true).build().unwrap())
        .join()
        .unwrap();
    let pids = |pool: &evloop_bridge::ProcessPool| -> HashSet<u32> {
        let both = [pool.submit(&SLEEP, 200), pool.submit(&SLEEP, 200)];
        both.map(|h| finish(h).unwrap()).into_iter().collect()
    };
    let before = pids(&pool);
    assert_eq!(before.len(), 2, "two jobs at once run on two workers");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        pids(&pool),
        before,
        "the workers started for the exited thread's pool were replaced"
    );
}

/// Kills the worker of a job that started `sleep 30`, and checks that the job fails with
/// `WorkerDied` within a second although the subprocess lives on.
fn a_subprocess_does_not_hide_its_workers_death(builder: ProcessPoolBuilder, name: &str) {
    let pool = builder.max_workers(1).build().unwrap();
    let path = util::procs::pid_file(name);
    let _ = std::fs::remove_file(&path);
    let job = pool.submit(
        &SUBPROCESS_THEN_SLEEP,
        (path.to_string_lossy().into_owned(), 60_000),
    );
    let mut pids = None;
    assert!(
        eventually(|| {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let parsed: Vec<u32> = text.split(' ').filter_map(|p| p.parse().ok()).collect();
            pids = (parsed.len() == 2).then(|| (parsed[0], parsed[1]));
            pids.is_some()
        }),
        "the job never started its subprocess"
    );
    let (worker, sleep) = pids.unwrap();
    kill_process(Pid::from_raw(worker as i32).unwrap(), Signal::KILL).unwrap();
    let killed = Instant::now();
    let outcome = finish(job);
    let took = killed.elapsed();
    let _ = kill_process(Pid::from_raw(sleep as i32).unwrap(), Signal::KILL);
    let _ = std::fs::remove_file(&path);
    assert!(
        matches!(outcome, Err(ExecError::WorkerDied { pid, .. }) if pid == worker),
        "{outcome:?}"
    );
    assert!(
        took < Duration::from_secs(1),
        "the death of a worker whose job left `sleep 30` running took {took:?} to be seen \
         (limit 1 s)"
    );
}

#[test]
fn a_killed_worker_whose_job_started_a_subprocess_fails_its_job_at_once() {
    a_subprocess_does_not_hide_its_workers_death(pool(), "subprocess-native");
}

#[test]
fn without_native_exit_watching_a_subprocess_does_not_hide_its_workers_death() {
    a_subprocess_does_not_hide_its_workers_death(
        pool().lifeline_exit_watch(),
        "subprocess-lifeline",
    );
}

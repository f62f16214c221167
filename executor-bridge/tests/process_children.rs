//! No zombie and no orphan: once a dropped process pool has finished, this process has no
//! child left. (Alone in its test binary, so no other test's workers are counted.)

mod util;

use util::procs::{pool, SLEEP, SQUARE};
use util::{finish, within};

/// The children of this process, from every thread's `/proc/self/task/*/children` (whichever
/// thread spawned them), with their state letter from `/proc/<pid>/stat` (`Z` for a zombie).
fn children() -> Vec<(u32, char)> {
    let mut children = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("this test needs Linux's /proc") {
        let path = task.unwrap().path().join("children");
        let list = std::fs::read_to_string(path).unwrap_or_default();
        for pid in list
            .split_whitespace()
            .filter_map(|pid| pid.parse::<u32>().ok())
        {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.trim_start().chars().next())
                .unwrap_or('?');
            children.push((pid, state));
        }
    }
    children
}

#[test]
fn a_dropped_pool_leaves_no_child_process_behind() {
    assert_eq!(children(), [], "children before the test");
    let pool = pool().max_workers(3).prestart(true).build().unwrap();
    let jobs: Vec<_> = (0..30u64).map(|x| pool.submit(&SQUARE, x)).collect();
    for (x, job) in (0..30u64).zip(jobs) {
        assert_eq!(finish(job), Ok(x * x));
    }
    let running = pool.submit(&SLEEP, 200);
    assert_eq!(children().len(), 3, "{:?}", children());
    let finished = pool.finished();
    drop(pool); // the running job still completes; nothing waits here
    assert!(finish(running).is_ok());
    within("the pool's end", move || {
        futures_lite::future::block_on(finished)
    });
    assert_eq!(children(), [], "children left after the pool finished");
}

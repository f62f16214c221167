//! No zombie and no orphan: once a dropped process pool has finished, this process has no
//! child left. (Alone in its test binary, so no other test's workers are counted.)

mod util;

use util::procs::{pool, SLEEP, SQUARE};
use util::{finish, within};

/// The children of this process, with their state letter (`Z` for a zombie).
fn children() -> Vec<(u32, char)> {
    util::os::children_of(std::process::id())
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

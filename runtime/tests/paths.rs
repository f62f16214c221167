//! What a program written the way tokio users write one finds in `evloop`: the module paths
//! they guess, everything the process pool needs without the bridge crate, and `?` from the
//! pool's and the tasks' errors into `io::Result`.

use std::io;
use std::time::Duration;

use evloop::process::{self, ProcessFn, ProcessJob, ProcessPool, ProcessPoolBuilder, Registry};
use evloop::time::{interval, sleep, sleep_until, timeout, Elapsed, Interval, Sleep, Timeout};
use evloop::{BuildError, FullQueuePolicy};

const DOUBLE: ProcessFn<u64, u64> = ProcessFn::new("double", |x| x * 2);

fn functions() -> Registry {
    Registry::new().register(DOUBLE)
}

/// The workers' entry point: this test binary, filtered to this test, is the worker program.
#[test]
fn worker() {
    process::init(functions);
}

#[test]
fn the_time_and_process_modules_name_the_same_items_as_the_top_level() {
    let _: fn(Duration) -> Sleep = sleep;
    let _: fn(Duration) -> Sleep = evloop::sleep;
    let _: fn(std::time::Instant) -> Sleep = sleep_until;
    let _: fn(Duration) -> Interval = interval;
    let _: fn(Duration, Sleep) -> Timeout<Sleep> = timeout;
    let builder: ProcessPoolBuilder = ProcessPool::builder(functions());
    let pool = builder
        .test_worker("worker")
        .max_workers(1)
        .max_in_flight(Some(4))
        .full_policy(FullQueuePolicy::Reject)
        .build()
        .unwrap();
    let doubled = evloop::run(async {
        let job: ProcessJob<u64> = evloop::process::run_in_process(&pool, &DOUBLE, 21);
        job.await
    });
    assert_eq!(doubled, Ok(42));
    let refused = ProcessPool::builder(functions()).max_workers(0).build();
    assert!(matches!(refused, Err(BuildError::ZeroWorkers)));
}

/// `?` on the loop's and the pools' errors, in a function returning `io::Result`.
async fn uses_question_marks(pool: &ProcessPool) -> io::Result<u64> {
    let from_thread = evloop::to_thread(|| 1u64).await?;
    let from_task = evloop::spawn(async { 2u64 }).await?;
    let from_process = evloop::run_in_process(pool, &DOUBLE, 3).await?;
    let on_time = timeout(Duration::from_secs(30), async { 4u64 }).await?;
    let _: Option<Elapsed> = None;
    Ok(from_thread + from_task + from_process + on_time)
}

#[test]
fn question_mark_works_on_every_error_a_loop_gives() {
    let pool = ProcessPool::builder(functions())
        .test_worker("worker")
        .max_workers(1)
        .build()
        .unwrap();
    let sum = evloop::run(uses_question_marks(&pool));
    assert_eq!(sum.unwrap(), 1 + 2 + 6 + 4);
    // A failed task keeps its message and the JoinError inside.
    let failed: io::Result<()> = evloop::run(async {
        evloop::spawn(async { panic!("a task that fails") }).await?;
        Ok(())
    });
    let error = failed.unwrap_err();
    assert!(error.to_string().contains("a task that fails"), "{error}");
    assert!(error.get_ref().unwrap().is::<evloop::JoinError>());
}

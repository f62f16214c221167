//! Process pool basics: results, panics, printing functions, bad input, `map` order.

mod util;

use evloop_bridge::process::ProcessFn;
use evloop_bridge::ExecError;
use util::procs::{pool, PANIC, PID, PRINT, SQUARE, UNSERIALIZABLE};
use util::{block_on, finish};

#[test]
fn a_submitted_function_runs_in_another_process_and_its_handle_is_awaitable() {
    let pool = pool().max_workers(2).build().unwrap();
    assert_eq!(finish(pool.submit(&SQUARE, 12)), Ok(144));
    let pid = finish(pool.submit(&PID, ())).unwrap();
    assert_ne!(pid, std::process::id());
    let awaited = block_on(pool.submit(&SQUARE, 9));
    assert_eq!(awaited, Ok(81));
}

#[test]
fn a_panic_resolves_to_panicked_and_the_worker_survives() {
    let pool = pool().max_workers(1).forward_stderr(false).build().unwrap();
    let before = finish(pool.submit(&PID, ())).unwrap();
    let panicked = finish(pool.submit(&PANIC, "bad input".to_owned()));
    assert_eq!(panicked, Err(ExecError::Panicked("bad input".into())));
    let after = finish(pool.submit(&PID, ())).unwrap();
    assert_eq!(
        before, after,
        "the worker was replaced after a caught panic"
    );
}

/// Set in the child process that [`a_function_that_prints_to_stdout_does_not_disturb_the_protocol`]
/// runs its pool in.
const PRINTING_CHILD: &str = "EVLOOP_TEST_PRINTING_CHILD";

#[test]
fn a_function_that_prints_to_stdout_does_not_disturb_the_protocol() {
    if std::env::var_os(PRINTING_CHILD).is_some() {
        let pool = pool().max_workers(1).build().unwrap();
        for round in 0..3 {
            let text = format!("printed by a worker, round {round}");
            assert_eq!(finish(pool.submit(&PRINT, text.clone())), Ok(text));
        }
        assert_eq!(finish(pool.submit(&SQUARE, 3)), Ok(9));
        return;
    }
    // The pool runs in a child process of this test binary whose stdout is a pipe read here:
    // the workers share it, so what they print (frame-like bytes on purpose) lands there, not
    // on the terminal of whoever runs the tests.
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_function_that_prints_to_stdout_does_not_disturb_the_protocol",
            "--nocapture",
        ])
        .env(PRINTING_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&child.stderr)
    );
    for round in 0..3 {
        let line =
            format!("\u{fffd}\u{fffd}\0\0\u{3}\u{1}\0\0printed by a worker, round {round}\n");
        assert_eq!(
            stdout.matches(&line).count(),
            100,
            "round {round}:\n{stdout}"
        );
    }
}

#[test]
fn an_unregistered_function_fails_at_once_with_unknown_function() {
    const NOT_REGISTERED: ProcessFn<u64, u64> = ProcessFn::new("not_registered", |x| x);
    const SQUARE_OTHER_TYPES: ProcessFn<u32, u32> = ProcessFn::new("square", |x| x);
    let pool = pool().build().unwrap();
    let error = finish(pool.submit(&NOT_REGISTERED, 1)).unwrap_err();
    assert!(matches!(&error, ExecError::UnknownFunction(m) if m.contains("not_registered")));
    assert!(
        error.to_string().contains("register the function"),
        "{error}"
    );
    let error = finish(pool.submit(&SQUARE_OTHER_TYPES, 1)).unwrap_err();
    assert!(
        matches!(&error, ExecError::UnknownFunction(m) if m.contains("u32")),
        "{error}"
    );
}

#[test]
fn a_result_that_does_not_serialize_gives_a_serialization_error_and_the_worker_survives() {
    let pool = pool().max_workers(1).build().unwrap();
    let before = finish(pool.submit(&PID, ())).unwrap();
    let error = finish(pool.submit(&UNSERIALIZABLE, ())).err().unwrap();
    assert!(
        matches!(&error, ExecError::Serialization(m) if m.contains("did not encode in the worker")),
        "{error}"
    );
    assert_eq!(finish(pool.submit(&PID, ())), Ok(before));
}

#[test]
fn an_argument_over_the_frame_limit_fails_at_once_with_too_large() {
    const LEN: ProcessFn<Vec<u8>, usize> = ProcessFn::new("len", |v| v.len());
    let registry = util::procs::registry().register(LEN);
    let pool = evloop_bridge::ProcessPool::builder(registry)
        .test_worker(util::procs::WORKER_TEST)
        .max_frame_bytes(4096)
        .build()
        .unwrap();
    let error = finish(pool.submit(&LEN, vec![0; 10_000])).unwrap_err();
    assert!(
        matches!(error, ExecError::TooLarge { bytes, limit: 4096 } if bytes > 10_000),
        "{error:?}"
    );
}

#[test]
fn map_yields_results_in_input_order_for_every_chunk_size() {
    let pool = pool().max_workers(2).build().unwrap();
    let expected: Vec<u64> = (0..1000u64).map(|x| x * x).collect();
    for chunksize in [1, 7, 100, 1000, 5000] {
        let squares = pool.map(&SQUARE, 0..1000u64, chunksize).wait();
        assert_eq!(squares.as_ref(), Ok(&expected), "chunksize {chunksize}");
    }
    let streamed = block_on({
        let map = pool.map(&SQUARE, 0..1000u64, 64);
        async move { map.try_collect().await }
    });
    assert_eq!(streamed, Ok(expected));
}

#[test]
fn map_reports_each_failed_item_in_its_place() {
    let pool = pool().max_workers(2).forward_stderr(false).build().unwrap();
    let items = ["a", "b", "c"].map(str::to_owned);
    let results: Vec<_> = block_on({
        let map = pool.map(&PANIC, items, 2);
        async move {
            use futures_lite::StreamExt;
            map.collect::<Vec<_>>().await
        }
    });
    assert_eq!(
        results,
        ["a", "b", "c"].map(|m| Err(ExecError::Panicked(m.into())))
    );
}

//! A panicking task is contained: delivered to its handle, the loop keeps running.

use std::time::Duration;

#[test]
fn a_task_panic_is_delivered_to_its_handle_and_the_loop_keeps_running() {
    evloop::run(async {
        let ticker = evloop::spawn(async {
            let mut ticks = 0;
            for _ in 0..5 {
                evloop::sleep(Duration::from_millis(2)).await;
                ticks += 1;
            }
            ticks
        });
        let bad = evloop::spawn(async {
            evloop::yield_now().await;
            panic!("boom {}", 7);
        });
        let err = bad.await.unwrap_err();
        assert!(err.is_panic());
        assert!(!err.is_cancelled());
        assert_eq!(err.panic_message(), Some("boom 7"));
        assert_eq!(ticker.await.unwrap(), 5, "other tasks are unaffected");
        // The loop still spawns and runs new work.
        assert_eq!(evloop::spawn(async { 1 }).await.unwrap(), 1);
    });
}

#[test]
fn an_unawaited_panic_does_not_stop_the_loop() {
    let value = evloop::run(async {
        drop(evloop::spawn(async { panic!("nobody listens") }));
        evloop::sleep(Duration::from_millis(5)).await;
        "still running"
    });
    assert_eq!(value, "still running");
}

#[test]
#[should_panic(expected = "main future failed")]
fn a_panic_in_the_run_future_propagates_to_the_caller() {
    evloop::run(async {
        evloop::yield_now().await;
        panic!("main future failed");
    });
}

#[test]
fn after_a_panicking_block_on_the_runtime_is_usable_again() {
    let rt = evloop::Builder::new().build().unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { panic!("first") })
    }));
    assert!(caught.is_err());
    assert_eq!(
        rt.block_on(async { evloop::spawn(async { 3 }).await.unwrap() }),
        3
    );
}

#[test]
fn a_panic_in_a_task_destructor_is_contained() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("destructor panicked");
        }
    }
    let value = evloop::run(async {
        let handle = evloop::spawn(async {
            let _guard = PanicOnDrop;
            std::future::pending::<()>().await;
        });
        evloop::yield_now().await;
        handle.abort();
        assert!(handle.await.unwrap_err().is_cancelled());
        "survived"
    });
    assert_eq!(value, "survived");
}

/// Runs this test binary again with only `test` selected and `EVLOOP_PANIC_CHILD` set, and
/// returns the child's stderr.
fn child_stderr(test: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("EVLOOP_PANIC_CHILD", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "child failed: {out:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn an_unawaited_panic_is_reported_once_on_stderr_with_the_task_name() {
    if std::env::var_os("EVLOOP_PANIC_CHILD").is_some() {
        evloop::run(async {
            // Detached before it panics.
            drop(
                evloop::task::Builder::new()
                    .name("detached-worker")
                    .spawn(async { panic!("lost panic one") }),
            );
            // Panics first, handle dropped later without being awaited.
            let kept = evloop::task::Builder::new()
                .name("kept-worker")
                .spawn(async { panic!("lost panic two") });
            // Awaited: must not be reported.
            let awaited = evloop::spawn(async { panic!("seen panic") });
            evloop::sleep(Duration::from_millis(5)).await;
            assert!(awaited.await.is_err());
            drop(kept);
        });
        return;
    }
    let stderr = child_stderr("an_unawaited_panic_is_reported_once_on_stderr_with_the_task_name");
    let reports: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("nobody awaited its JoinHandle"))
        .collect();
    assert_eq!(reports.len(), 2, "{stderr}");
    assert!(reports
        .iter()
        .any(|l| l.contains("\"detached-worker\"") && l.contains("lost panic one")));
    assert!(reports
        .iter()
        .any(|l| l.contains("\"kept-worker\"") && l.contains("lost panic two")));
    assert!(
        reports.iter().all(|l| l.contains("panic.rs:")),
        "spawn location: {stderr}"
    );
    assert!(!reports.iter().any(|l| l.contains("seen panic")));
}

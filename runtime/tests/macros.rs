//! `#[evloop::test]` and `#[evloop::main]`: an async test runs on its own loop built with the
//! attribute's options; an error returned from it fails the test.

use std::time::{Duration, Instant};

#[evloop::test]
async fn an_async_test_runs_on_a_loop() {
    let start = Instant::now();
    evloop::sleep(Duration::from_millis(5)).await;
    assert!(start.elapsed() >= Duration::from_millis(5));
    let task = evloop::spawn(async { 7 });
    assert_eq!(task.await, Ok(7));
}

#[evloop::test]
async fn a_test_may_return_a_result_and_use_question_marks() -> std::io::Result<()> {
    let listener = evloop::net::TcpListener::bind("127.0.0.1:0").await?;
    let doubled = evloop::to_thread(|| 21 * 2).await?;
    assert_eq!(doubled, 42);
    drop(listener);
    Ok(())
}

#[evloop::test(poll_timing = true)]
async fn options_reach_the_loop_poll_timing_on() {
    evloop::yield_now().await;
    assert!(
        evloop::stats().poll_durations.is_some(),
        "poll timing was not on"
    );
}

#[evloop::test(poll_timing = false, name = "untimed")]
async fn options_reach_the_loop_poll_timing_off() {
    evloop::yield_now().await;
    assert!(
        evloop::stats().poll_durations.is_none(),
        "poll timing was on"
    );
}

#[test]
fn a_macro_main_program_runs_and_returns_its_result() {
    // The example's `main` is `#[evloop::main] async fn main() -> io::Result<()>`.
    let out = std::process::Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "macro_main", "-p", "evloop"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("hello from an async main, after 3 ticks"),
        "{stdout}"
    );
}

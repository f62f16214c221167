//! Spawning, joining and the single-threaded guarantee.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

mod util;

#[test]
fn run_returns_the_output_of_its_future() {
    assert_eq!(evloop::run(async { 40 + 2 }), 42);
}

#[test]
fn run_can_borrow_from_the_caller() {
    let mut local = vec![1, 2, 3];
    evloop::run(async {
        local.push(4);
    });
    assert_eq!(local, [1, 2, 3, 4]);
}

#[test]
fn spawned_tasks_need_not_be_send_and_share_rc_state() {
    let total = evloop::run(async {
        let counter = Rc::new(RefCell::new(0));
        let mut handles = Vec::new();
        for i in 0..100 {
            let counter = counter.clone();
            handles.push(evloop::spawn(async move {
                *counter.borrow_mut() += i;
                evloop::yield_now().await;
                *counter.borrow_mut() += i;
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let total = *counter.borrow();
        total
    });
    assert_eq!(total, 2 * (0..100).sum::<i32>());
}

#[test]
fn a_spawned_task_first_runs_after_its_spawner_yields() {
    evloop::run(async {
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        let handle = evloop::spawn(async move { r.set(true) });
        assert!(!ran.get(), "spawn must not run the task inline");
        handle.await.unwrap();
        assert!(ran.get());
    });
}

#[test]
fn dropping_a_handle_detaches_the_task_which_keeps_running() {
    let done = evloop::run(async {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        drop(evloop::spawn(async move {
            evloop::sleep(std::time::Duration::from_millis(10)).await;
            d.set(true);
        }));
        evloop::sleep(std::time::Duration::from_millis(50)).await;
        done.get()
    });
    assert!(done);
}

#[test]
fn dropping_the_handle_of_a_finished_task_frees_its_output() {
    let outputs = util::DropCounter::default();
    evloop::run(async {
        let guard = outputs.guard();
        let handle = evloop::spawn(async move { guard });
        while !handle.is_finished() {
            evloop::yield_now().await;
        }
        assert_eq!(outputs.dropped(), 0, "the output is kept for the handle");
        drop(handle);
        assert_eq!(outputs.dropped(), 1, "dropping the handle frees the output");
        assert_eq!(evloop::stats().tasks_alive, 0);
    });
}

#[test]
fn stats_count_spawned_and_alive_tasks_and_polls() {
    evloop::run(async {
        let before = evloop::stats();
        let handles: Vec<_> = (0..10)
            .map(|_| evloop::spawn(async { evloop::yield_now().await }))
            .collect();
        assert_eq!(evloop::stats().tasks_alive, 10);
        for h in handles {
            h.await.unwrap();
        }
        let after = evloop::stats();
        assert_eq!(after.tasks_spawned - before.tasks_spawned, 10);
        assert_eq!(after.tasks_alive, 0);
        assert!(after.task_polls - before.task_polls >= 20, "{after:?}");
        assert!(after.cycles > before.cycles);
    });
}

#[test]
fn runtime_spawn_before_block_on_runs_in_block_on_and_tasks_outlive_it() {
    let rt = evloop::Builder::new().name("test").build().unwrap();
    let early = rt.spawn(async { "early" });
    assert_eq!(rt.block_on(early).unwrap(), "early");

    let flag = Rc::new(Cell::new(0));
    let f = flag.clone();
    let background = rt.spawn(async move {
        loop {
            f.set(f.get() + 1);
            evloop::sleep(std::time::Duration::from_millis(1)).await;
        }
    });
    rt.block_on(evloop::sleep(std::time::Duration::from_millis(20)));
    let seen = flag.get();
    assert!(seen > 1, "the background task ran during block_on");
    rt.block_on(evloop::sleep(std::time::Duration::from_millis(20)));
    assert!(flag.get() > seen, "and again during the next block_on");
    assert!(!background.is_finished());
    assert!(format!("{rt:?}").contains("test"));
}

#[test]
fn task_builder_names_are_reported_in_join_errors() {
    evloop::run(async {
        let handle = evloop::task::Builder::new()
            .name("db-writer")
            .spawn(async { panic!("disk full") });
        let err = handle.await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"db-writer\""), "{text}");
        assert!(text.contains("disk full"), "{text}");
        assert!(text.contains(file!()), "{text}");
    });
}

#[test]
#[should_panic(expected = "inside a running event loop")]
fn run_inside_run_panics_with_an_explanation() {
    evloop::run(async {
        evloop::run(async {});
    });
}

#[test]
#[should_panic(expected = "no loop is running on this thread")]
fn spawn_outside_a_loop_panics_with_an_explanation() {
    drop(evloop::spawn(async {}));
}

#[test]
#[should_panic(expected = "no loop is running on this thread")]
fn a_timer_polled_by_another_executor_panics_instead_of_hanging() {
    futures_lite::future::block_on(evloop::sleep(std::time::Duration::from_millis(10)));
}

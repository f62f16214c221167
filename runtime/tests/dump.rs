//! The task dump: `evloop::tasks()` and its table.

use std::time::Duration;

use evloop::{TaskStatus, TaskTable};

#[test]
fn the_dump_lists_running_ready_and_waiting_tasks() {
    evloop::run(async {
        let waiter = evloop::task::Builder::new()
            .name("waiter")
            .spawn(evloop::sleep(Duration::from_secs(60)));
        let inspector = evloop::task::Builder::new().name("inspector").spawn(async {
            // Having waited once, this task is in the registry of waiting tasks too: it must
            // still be listed once, as running.
            evloop::yield_now().await;
            // Spawned by this task and not run yet: ready.
            let fresh = evloop::task::Builder::new().name("fresh").spawn(async {});
            let tasks = evloop::tasks();
            drop(fresh);
            tasks
        });
        evloop::sleep(Duration::from_millis(30)).await;
        let tasks = inspector.await.unwrap();
        let find = |name: &str| {
            tasks
                .iter()
                .find(|t| t.name.as_deref() == Some(name))
                .unwrap_or_else(|| panic!("{name} missing from {tasks:?}"))
        };
        assert_eq!(tasks.len(), 3, "{tasks:?}");
        assert_eq!(find("waiter").status, TaskStatus::Waiting);
        assert_eq!(find("waiter").polls, 1);
        assert_eq!(find("inspector").status, TaskStatus::Running);
        assert_eq!(find("inspector").polls, 2);
        assert_eq!(find("fresh").status, TaskStatus::Ready);
        assert_eq!(find("fresh").polls, 0);
        assert!(find("waiter").spawned_at.file().ends_with("dump.rs"));
        assert!(tasks.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
        // Without poll timing (this runtime's default in release), no poll time is known.
        if tasks.iter().any(|t| t.busy.is_some()) {
            assert_eq!(find("fresh").busy, Some(Duration::ZERO));
        }

        // Ages grow; the dump after the sleeper has waited a while shows it.
        evloop::sleep(Duration::from_millis(200)).await;
        let later = evloop::tasks();
        let waiter_now = later.iter().find(|t| t.id == waiter.id()).unwrap();
        assert!(
            waiter_now.age >= Duration::from_millis(150),
            "{waiter_now:?}"
        );
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert!(evloop::tasks().is_empty());
    });
}

#[test]
fn the_table_has_one_line_per_task_and_never_panics_on_odd_names() {
    evloop::run(async {
        let odd = evloop::task::Builder::new()
            .name("tab\there\nnewline \u{202e}rtl")
            .spawn(evloop::sleep(Duration::from_secs(60)));
        evloop::yield_now().await;
        let table = TaskTable(evloop::tasks()).to_string();
        assert_eq!(table.lines().count(), 2, "{table}");
        assert!(table.lines().next().unwrap().contains("spawned at"));
        assert!(table.contains("waiting"), "{table}");
        assert!(
            table.contains("tab\\there\\nnewline"),
            "names are escaped: {table}"
        );
        evloop::print_tasks();
        odd.abort();
    });
}

#[test]
fn with_poll_timing_the_dump_shows_each_task_s_total_poll_time() {
    let rt = evloop::Builder::new().poll_timing(true).build().unwrap();
    rt.block_on(async {
        let worker = evloop::task::Builder::new().name("worker").spawn(async {
            for _ in 0..3 {
                let start = std::time::Instant::now();
                while start.elapsed() < Duration::from_millis(10) {
                    std::hint::spin_loop();
                }
                evloop::yield_now().await;
            }
            evloop::sleep(Duration::from_secs(60)).await;
        });
        // Until the worker waits in its long sleep, after its fourth poll (on a loaded machine
        // the three 10 ms spins can take much longer than 30 ms).
        let mut tasks = evloop::tasks();
        for _ in 0..1000 {
            evloop::sleep(Duration::from_millis(10)).await;
            tasks = evloop::tasks();
            if tasks
                .iter()
                .any(|t| t.id == worker.id() && t.status == TaskStatus::Waiting)
            {
                break;
            }
        }
        let info = tasks.iter().find(|t| t.id == worker.id()).unwrap();
        assert_eq!(info.status, TaskStatus::Waiting);
        assert_eq!(info.polls, 4);
        let busy = info.busy.expect("poll time with poll timing");
        assert!(busy >= Duration::from_millis(30), "{busy:?}");
        assert!(busy < Duration::from_secs(5), "{busy:?}");
        let table = TaskTable(tasks).to_string();
        assert!(table.lines().next().unwrap().contains("busy"), "{table}");
        worker.abort();
    });
    let no_timing = evloop::Builder::new().poll_timing(false).build().unwrap();
    no_timing.block_on(async {
        let sleeper = evloop::spawn(evloop::sleep(Duration::from_secs(60)));
        evloop::yield_now().await;
        assert_eq!(evloop::tasks()[0].busy, None);
        sleeper.abort();
    });
}

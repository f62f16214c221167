//! Looking at a running loop: [`stats`], and the task dump, [`tasks`] (the
//! `asyncio.all_tasks()` equivalent) and [`print_tasks`].

use std::collections::HashSet;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use crate::observe::stats::Stats;
use crate::scheduler::context::with_core;
use crate::scheduler::{Core, Place};
use crate::task::meta::{TaskId, TaskMeta};

/// Returns the counters of the event loop running on this thread.
///
/// # Panics
///
/// Panics if no event loop is running on this thread.
///
/// # Examples
///
/// ```
/// evloop::run(async {
///     evloop::spawn(async {}).await.unwrap();
///     let stats = evloop::stats();
///     assert_eq!(stats.tasks_spawned, 1);
///     assert_eq!(stats.tasks_alive, 0);
/// });
/// ```
#[track_caller]
pub fn stats() -> Stats {
    with_core("evloop::stats()", |core| core.stats())
}

/// What a live task is doing, in a [`TaskInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskStatus {
    /// Being polled now: the task that asked for the dump.
    Running,
    /// In the ready queue: it will run in the next cycle.
    Ready,
    /// Suspended at an `.await`, waiting for I/O, a timer or another task to wake it.
    Waiting,
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            TaskStatus::Running => "running",
            TaskStatus::Ready => "ready",
            TaskStatus::Waiting => "waiting",
        })
    }
}

/// One live task, from [`tasks`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task's id.
    pub id: TaskId,
    /// Its name, if it was given one with [`task::Builder::name`](crate::task::Builder::name).
    pub name: Option<String>,
    /// Where it was spawned.
    pub spawned_at: &'static Location<'static>,
    /// What it is doing.
    pub status: TaskStatus,
    /// Time since it was spawned, by the loop's coarse clock (its resolution is the monitor
    /// thread's tick, a few milliseconds; without a monitor thread, ages only advance when
    /// timers are processed).
    pub age: Duration,
    /// How many times it has been polled (saturating at 16,777,215).
    pub polls: u64,
    /// Its total poll time so far (before the current poll, for the running task), with poll
    /// timing ([`Builder::poll_timing`](crate::Builder::poll_timing)); `None` without it.
    pub busy: Option<Duration>,
}

/// Lists the live tasks of the event loop running on this thread, oldest first: the
/// `asyncio.all_tasks()` equivalent.
///
/// Tasks that have never been polled are listed as ready. The future given to `block_on` is not
/// a task and is not listed.
///
/// # Panics
///
/// Panics if no event loop is running on this thread.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evloop::TaskStatus;
///
/// evloop::run(async {
///     let sleeper = evloop::task::Builder::new()
///         .name("sleeper")
///         .spawn(evloop::sleep(Duration::from_secs(60)));
///     evloop::yield_now().await; // the sleeper runs once and starts waiting
///     let tasks = evloop::tasks();
///     assert_eq!(tasks.len(), 1);
///     assert_eq!(tasks[0].name.as_deref(), Some("sleeper"));
///     assert_eq!(tasks[0].status, TaskStatus::Waiting);
///     sleeper.abort();
/// });
/// ```
#[track_caller]
pub fn tasks() -> Vec<TaskInfo> {
    with_core("evloop::tasks()", collect)
}

/// Prints the live tasks of the event loop running on this thread as a table on stderr, for
/// debugging and for the course labs; see [`tasks`] and [`TaskTable`].
///
/// # Panics
///
/// Panics if no event loop is running on this thread.
#[track_caller]
pub fn print_tasks() {
    eprint!("{}", TaskTable(tasks()));
}

/// Formats a list of tasks as a table, one line per task:
///
/// ```text
///   id  status          age    polls       busy  name                 spawned at
///    3  waiting      1.204s       12     48.2µs  db-writer            src/main.rs:42:5
/// ```
#[derive(Debug, Clone)]
pub struct TaskTable(pub Vec<TaskInfo>);

impl fmt::Display for TaskTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>6}  {:<8} {:>10} {:>8} {:>10}  {:<20} spawned at",
            "id", "status", "age", "polls", "busy", "name"
        )?;
        for task in &self.0 {
            let name = task.name.as_deref().unwrap_or("-");
            let busy = task
                .busy
                .map_or_else(|| "-".to_owned(), |b| format!("{b:.1?}"));
            writeln!(
                f,
                "{:>6}  {:<8} {:>10} {:>8} {:>10}  {:<20} {}",
                task.id.as_u64(),
                task.status,
                format!("{:.3?}", task.age),
                task.polls,
                busy,
                name.escape_debug().to_string(),
                task.spawned_at
            )?;
        }
        Ok(())
    }
}

fn collect(core: &Rc<Core>) -> Vec<TaskInfo> {
    let now_ms = core.observer().now_ms();
    let info = |meta: &TaskMeta, status| {
        let state = meta.state();
        TaskInfo {
            id: meta.id,
            name: core.task_name(meta.id).map(|n| n.to_string()),
            spawned_at: meta.location,
            status,
            age: Duration::from_millis(now_ms.saturating_sub(state.spawned_ms())),
            polls: state.polls(),
            busy: core.busy(meta),
        }
    };
    let mut tasks = Vec::new();
    let mut seen = HashSet::new();
    // A waiting task already woken into the ready queue is listed once, as ready.
    core.for_each_task(|meta, place| {
        if seen.insert(meta.id) {
            let status = match place {
                Place::Running => TaskStatus::Running,
                Place::Ready => TaskStatus::Ready,
                Place::Waiting => TaskStatus::Waiting,
            };
            tasks.push(info(meta, status));
        }
    });
    tasks.sort_by_key(|t: &TaskInfo| t.id);
    tasks
}

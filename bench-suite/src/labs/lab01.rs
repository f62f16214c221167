//! Lab 1, build the loop: a tiny event loop on `polling` whose three steps the student writes
//! (`Steps`), the task API its tests use (spawn, yield, sleep, read from a socket), and the
//! checker, which runs four behaviour tests on the student's steps.

// In a student edition no version fills in the steps yet, so the parts of the core that they
// call are unused until the student writes them.
#![cfg_attr(not(lab_solutions), allow(dead_code))]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use evloop_bench::workloads::cpu::thread_cpu;
use polling::{Event, Events, Poller};
use serde::{Deserialize, Serialize};

use super::lab::{Lab, Program};
use super::process;
use super::verdict::{Check, LabError, Verdict};

/// The three steps of the cycle (slide 5), written by the student in `lab.rs`.
pub trait Steps {
    /// Step 1, Run: poll every task that is in the ready queue when the step begins.
    fn run_ready(core: &mut Core);
    /// Step 2, Poll: ask the OS which registered sources are ready, waiting no longer than
    /// needed, and wake the tasks waiting on them.
    fn poll_io(core: &mut Core);
    /// Step 3, Resume: wake the tasks whose timers are due, and move every woken task into
    /// the ready queue.
    fn resume_woken(core: &mut Core);
}

/// A boxed task.
type Task = Pin<Box<dyn Future<Output = ()>>>;

/// The state of the tiny loop. Only the loop thread touches it, except `woken`, which wakers
/// fill from any thread.
pub struct Core {
    /// Step 1's work: ids of the tasks to poll, in order.
    pub ready: VecDeque<usize>,
    /// Timers: (deadline, sequence number) to the waker of the task sleeping until then.
    pub timers: Rc<RefCell<BTreeMap<(Instant, u64), Waker>>>,
    /// The I/O registry: the key a source was registered with in the poller, to the waker of
    /// the task waiting for it to become readable.
    pub io: Rc<RefCell<HashMap<usize, Waker>>>,
    /// The OS multiplexer (epoll on Linux, kqueue on the BSDs and macOS).
    pub poller: Arc<Poller>,
    /// Room for the events one `Poller::wait` returns.
    pub events: Events,
    /// The tasks, by id.
    tasks: HashMap<usize, Task>,
    /// Ids of the tasks woken since they were last moved to the ready queue.
    woken: Arc<Woken>,
    /// Shared with the task API.
    shared: Rc<Shared>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("ready", &self.ready)
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

/// Tasks woken since the last resume: filled by wakers from any thread.
#[derive(Debug)]
struct Woken {
    /// The ids, in the order the wakes came.
    ids: Mutex<VecDeque<usize>>,
    /// Poked after each wake, so that a loop waiting in the poller wakes up.
    poller: Arc<Poller>,
}

/// A task's waker: pushes the task's id onto the woken list.
#[derive(Debug)]
struct TaskWaker {
    /// The task.
    id: usize,
    /// The list.
    woken: Arc<Woken>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken
            .ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(self.id);
        let _ = self.woken.poller.notify();
    }
}

/// What the task API needs from the loop: where to put new tasks, timers and registrations.
struct Shared {
    /// Tasks spawned but not yet handed to the loop.
    spawned: RefCell<Vec<(usize, Task)>>,
    /// The next task id.
    next_id: Cell<usize>,
    /// The next timer sequence number, and the next I/O key.
    next_seq: Cell<u64>,
    /// The loop's timers.
    timers: Rc<RefCell<BTreeMap<(Instant, u64), Waker>>>,
    /// The loop's I/O registry.
    io: Rc<RefCell<HashMap<usize, Waker>>>,
    /// The loop's poller.
    poller: Arc<Poller>,
    /// The loop's woken list.
    woken: Arc<Woken>,
}

thread_local! {
    /// The loop running on this thread.
    static CURRENT: RefCell<Option<Rc<Shared>>> = const { RefCell::new(None) };
}

/// The loop running on this thread.
fn current() -> Rc<Shared> {
    CURRENT.with(|c| c.borrow().clone().expect("called inside the lab 1 loop"))
}

impl Core {
    /// Whether a task was woken since the last `take_woken`: step 2 must then not wait.
    pub fn has_woken(&self) -> bool {
        !self
            .woken
            .ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Takes the ids of the tasks woken since the last call, in order (a task woken twice
    /// may appear twice).
    pub fn take_woken(&mut self) -> Vec<usize> {
        self.woken
            .ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect()
    }

    /// Whether task `id` is still alive.
    pub fn is_alive(&self, id: usize) -> bool {
        self.tasks.contains_key(&id)
    }

    /// Polls task `id` once (if it is still alive); a finished task is dropped.
    pub fn poll_task(&mut self, id: usize) {
        let Some(mut task) = self.tasks.remove(&id) else {
            return;
        };
        let waker = Waker::from(Arc::new(TaskWaker {
            id,
            woken: self.woken.clone(),
        }));
        if task
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
        {
            self.tasks.insert(id, task);
        }
        for (id, task) in self.shared.spawned.borrow_mut().drain(..) {
            self.tasks.insert(id, task);
        }
    }
}

/// Runs `main` on a new tiny loop driven by the steps `S` until it finishes; returns the
/// number of cycles.
pub fn block_on<S: Steps>(main: impl Future<Output = ()> + 'static) -> io::Result<u64> {
    let poller = Arc::new(Poller::new()?);
    let timers = Rc::default();
    let io = Rc::default();
    let woken = Arc::new(Woken {
        ids: Mutex::default(),
        poller: poller.clone(),
    });
    let shared = Rc::new(Shared {
        spawned: RefCell::default(),
        next_id: Cell::new(1),
        next_seq: Cell::new(0),
        timers: Rc::clone(&timers),
        io: Rc::clone(&io),
        poller: poller.clone(),
        woken: woken.clone(),
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(shared.clone()));
    let done = Rc::new(Cell::new(false));
    let mut core = Core {
        ready: VecDeque::from([0]),
        timers,
        io,
        poller: poller.clone(),
        events: Events::new(),
        tasks: HashMap::new(),
        woken,
        shared,
    };
    let finished = done.clone();
    core.tasks.insert(
        0,
        Box::pin(async move {
            main.await;
            finished.set(true);
        }),
    );
    let mut cycles = 0;
    while !done.get() {
        S::run_ready(&mut core);
        if done.get() {
            break;
        }
        S::poll_io(&mut core);
        S::resume_woken(&mut core);
        cycles += 1;
    }
    CURRENT.with(|c| *c.borrow_mut() = None);
    Ok(cycles)
}

/// Spawns a task on the loop. A new task counts as woken: step 3 moves it into the ready
/// queue, so it first runs in the next cycle.
pub fn spawn(task: impl Future<Output = ()> + 'static) {
    let shared = current();
    let id = shared.next_id.get();
    shared.next_id.set(id + 1);
    shared.spawned.borrow_mut().push((id, Box::pin(task)));
    shared
        .woken
        .ids
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push_back(id);
}

/// Gives the loop back for one cycle: `asyncio.sleep(0)`.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Sleeps until `duration` has passed: a timer in the loop's timer map.
pub async fn sleep(duration: Duration) {
    let deadline = Instant::now() + duration;
    let shared = current();
    let mut key = None;
    std::future::poll_fn(|cx| {
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        let mut timers = shared.timers.borrow_mut();
        if let Some(old) = key.take() {
            timers.remove(&old);
        }
        let seq = shared.next_seq.get();
        shared.next_seq.set(seq + 1);
        timers.insert((deadline, seq), cx.waker().clone());
        key = Some((deadline, seq));
        Poll::Pending
    })
    .await;
}

/// Reads what `stream` (non-blocking) has, waiting for it to become readable through the
/// loop's I/O registry.
///
/// # Errors
///
/// The read's error, other than `WouldBlock`.
pub async fn read(stream: &UnixStream, buf: &mut [u8]) -> io::Result<usize> {
    let shared = current();
    let key = shared.next_seq.get() as usize;
    shared.next_seq.set(shared.next_seq.get() + 1);
    let mut added = false;
    let result = std::future::poll_fn(|cx| match (&*stream).read(buf) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            shared.io.borrow_mut().insert(key, cx.waker().clone());
            let interest = Event::readable(key);
            let armed = if added {
                shared.poller.modify(stream, interest)
            } else {
                added = true;
                // SAFETY: the stream outlives its registration: it is deleted from the poller
                // below, before this function returns, and `stream` is borrowed until then.
                unsafe { shared.poller.add(stream, interest) }
            };
            match armed {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            }
        }
        other => Poll::Ready(other),
    })
    .await;
    if added {
        let _ = shared.poller.delete(stream);
    }
    shared.io.borrow_mut().remove(&key);
    result
}

/// The outcome of one test of the student's loop.
#[derive(Debug, Serialize, Deserialize)]
struct TestOutcome {
    /// What the test checks.
    name: String,
    /// Whether it passed.
    pass: bool,
    /// What was measured or seen.
    detail: String,
}

/// How long a test may take before it counts as frozen.
const TEST_LIMIT: Duration = Duration::from_secs(3);

/// Runs `test` with the steps `S` on a thread of its own, with a time limit.
fn run_test<S: Steps>(name: &str, test: fn() -> Result<String, String>) -> TestOutcome {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(test());
    });
    let (pass, detail) = match rx.recv_timeout(TEST_LIMIT) {
        Ok(Ok(detail)) => (true, detail),
        Ok(Err(detail)) => (false, detail),
        Err(mpsc::RecvTimeoutError::Timeout) => (
            false,
            format!(
                "did not finish within {} s: the loop never runs the tasks, or runs one for \
                 ever, or never hears of their I/O (does run_ready poll every ready task once? \
                 does poll_io clear core.events before each wait, and wake the waker of each \
                 event's key? a buffer full of old events takes no new one)",
                TEST_LIMIT.as_secs()
            ),
        ),
        Err(mpsc::RecvTimeoutError::Disconnected) => (false, "panicked (see stderr)".to_owned()),
    };
    TestOutcome {
        name: name.to_owned(),
        pass,
        detail,
    }
}

/// The four tests, for the steps `S`.
fn tests<S: Steps + 'static>() -> Vec<TestOutcome> {
    vec![
        run_test::<S>("yield_now takes turns round-robin", round_robin::<S>),
        run_test::<S>(
            "a task that wakes itself does not starve a socket",
            no_starvation::<S>,
        ),
        run_test::<S>(
            "timers fire in deadline order, none early",
            timers_in_order::<S>,
        ),
        run_test::<S>("an idle loop sleeps in the poller", idle_sleeps::<S>),
    ]
}

/// Three tasks yield in turns: A1 B1 C1 A2 B2 C2 A3 B3 C3.
fn round_robin<S: Steps>() -> Result<String, String> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let main_log = log.clone();
    block_on::<S>(async move {
        for name in ["A", "B", "C"] {
            let log = main_log.clone();
            spawn(async move {
                for step in 1..=3 {
                    log.borrow_mut().push(format!("{name}{step}"));
                    yield_now().await;
                }
            });
        }
        while main_log.borrow().len() < 9 {
            yield_now().await;
        }
    })
    .map_err(|e| e.to_string())?;
    let got = log.borrow().join(" ");
    if got == "A1 B1 C1 A2 B2 C2 A3 B3 C3" {
        Ok(format!("order {got}"))
    } else {
        Err(format!("order {got}, expected A1 B1 C1 A2 B2 C2 A3 B3 C3"))
    }
}

/// A task that yields for ever, and one that waits for a byte another thread writes 20 ms
/// later: the reader must get it, and stop the spinner.
fn no_starvation<S: Steps>() -> Result<String, String> {
    let (reader, mut writer) = UnixStream::pair().map_err(|e| e.to_string())?;
    reader.set_nonblocking(true).map_err(|e| e.to_string())?;
    let writer_thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        let _ = writer.write_all(b"x");
        writer
    });
    let spins = Rc::new(Cell::new(0u64));
    let stop = Rc::new(Cell::new(false));
    let (s, st) = (spins.clone(), stop.clone());
    let start = Instant::now();
    let got = Rc::new(Cell::new(0));
    let g = got.clone();
    block_on::<S>(async move {
        spawn(async move {
            while !st.get() {
                s.set(s.get() + 1);
                yield_now().await;
            }
        });
        let mut buf = [0; 8];
        g.set(read(&reader, &mut buf).await.unwrap_or(0));
        stop.set(true);
    })
    .map_err(|e| e.to_string())?;
    let _ = writer_thread.join();
    if got.get() == 1 {
        Ok(format!(
            "the reader got its byte after {:.1?}, while the spinner yielded {} times",
            start.elapsed(),
            spins.get()
        ))
    } else {
        Err(format!("the reader got {} bytes, expected 1", got.get()))
    }
}

/// Three tasks sleep 30, 10 and 20 ms: they wake in the order 10, 20, 30, none early.
fn timers_in_order<S: Steps>() -> Result<String, String> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let main_log = log.clone();
    block_on::<S>(async move {
        for ms in [30u64, 10, 20] {
            let log = main_log.clone();
            spawn(async move {
                let start = Instant::now();
                sleep(Duration::from_millis(ms)).await;
                log.borrow_mut().push((ms, start.elapsed()));
            });
        }
        while main_log.borrow().len() < 3 {
            sleep(Duration::from_millis(1)).await;
        }
    })
    .map_err(|e| e.to_string())?;
    let log = log.borrow();
    let order: Vec<u64> = log.iter().map(|(ms, _)| *ms).collect();
    let early: Vec<String> = log
        .iter()
        .filter(|(ms, took)| *took < Duration::from_millis(*ms))
        .map(|(ms, took)| format!("the {ms} ms sleep woke after {took:.1?}"))
        .collect();
    if order != [10, 20, 30] {
        Err(format!(
            "woke in the order {order:?} (ms), expected [10, 20, 30]"
        ))
    } else if let Some(e) = early.first() {
        Err(e.clone())
    } else {
        Ok(format!("woke in the order {order:?} (ms)"))
    }
}

/// A loop whose only task sleeps 200 ms spends at most a tenth of that on the CPU.
fn idle_sleeps<S: Steps>() -> Result<String, String> {
    let (cpu, wall) = (thread_cpu(), Instant::now());
    let cycles = block_on::<S>(sleep(Duration::from_millis(200))).map_err(|e| e.to_string())?;
    let (cpu, wall) = (thread_cpu() - cpu, wall.elapsed());
    let detail = format!("{cpu:.1?} of CPU time in {wall:.1?}, {cycles} cycles");
    if cpu * 10 <= wall {
        Ok(detail)
    } else {
        Err(format!(
            "{detail}: more than a tenth of the time on the CPU, so the loop spins instead of \
             waiting in the poller"
        ))
    }
}

/// What the harness prints for the checker.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    /// One outcome per test.
    tests: Vec<TestOutcome>,
}

/// Runs the four tests on one version's steps and prints the [`Outcome`]; exits the process
/// so that a test thread stuck in a frozen loop does not keep it alive.
pub fn run(program: Program) -> ! {
    let tests = match program {
        Program::Yours => tests::<super::lab01_yours::Yours>(),
        Program::Starter => tests::<super::lab01_starter::Yours>(),
        Program::Solution => tests::<super::lab01_solution::Yours>(),
    };
    process::print_result(&Outcome { tests });
    std::process::exit(0)
}

/// Checks `program`'s steps with the four tests.
///
/// # Errors
///
/// A program that cannot be started or crashes.
pub fn check(lab: Lab, program: Program, quick: bool) -> Result<Verdict, LabError> {
    let outcome: Outcome =
        process::start(lab, program, quick, &[])?.result(Duration::from_secs(60))?;
    let measured = outcome
        .tests
        .iter()
        .map(|t| {
            format!(
                "{} {}: {}",
                if t.pass { "ok  " } else { "FAIL" },
                t.name,
                t.detail
            )
        })
        .collect();
    let checks = outcome
        .tests
        .iter()
        .map(|t| Check::new(format!("test: {}", t.name), t.pass, t.detail.clone()))
        .collect();
    let pass_reason = format!("all {} tests pass", outcome.tests.len());
    Ok(Verdict::from_checks(measured, checks, pass_reason))
}

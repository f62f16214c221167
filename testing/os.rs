//! What the tests of every crate of the workspace ask of the operating system about processes,
//! threads and descriptors: one file, included by path (`#[path]`) from each crate's
//! `tests/util`. Each helper works on every Unix the workspace supports (Linux, macOS, the
//! BSDs), through a portable call or, where the systems differ, one way per system; the few
//! that only Linux can answer (other threads' names and states) are compiled only there, with
//! the reason, so that a test using them does not exist elsewhere rather than check nothing.
#![allow(dead_code)] // each test binary uses a different subset

use std::process::Command;

/// Whether process `pid` exists, in any state (a zombie included): `kill(pid, 0)`.
pub fn process_exists(pid: u32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
        return false;
    };
    // EPERM: it exists but belongs to someone else.
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

/// The scheduler state of process `pid` (`R` running, `S` sleeping, `Z` zombie...), or `None`
/// if there is no such process.
pub fn process_state(pid: u32) -> Option<char> {
    process_state_of(pid)
}

/// Linux: the state field of `/proc/<pid>/stat` (no process to start).
// Linux: the one system with /proc/<pid>/stat.
#[cfg(target_os = "linux")]
fn process_state_of(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the command name, which is in parentheses and may hold spaces.
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// macOS and the BSDs have no `/proc` to read: `ps` says it.
// macOS and the BSDs: no /proc.
#[cfg(not(target_os = "linux"))]
fn process_state_of(pid: u32) -> Option<char> {
    let out = Command::new("ps")
        .args(["-o", "stat=", "-p", &pid.to_string()])
        .output()
        .expect("ps runs");
    String::from_utf8_lossy(&out.stdout).trim().chars().next()
}

/// Whether process `pid` no longer runs: it is gone, or a zombie (an orphan passes to PID 1,
/// which in a container may never reap it). A pid that merely exists does not say: a zombie
/// holds its pid until reaped.
pub fn stopped_running(pid: u32) -> bool {
    matches!(process_state(pid), None | Some('Z'))
}

/// The child processes of process `parent`, each with its state (`Z` for a zombie), from
/// `ps`, whose `-A -o pid=,ppid=,stat=` every supported system understands (the `ps` itself,
/// a child of this process, left out).
pub fn children_of(parent: u32) -> Vec<(u32, char)> {
    let ps = Command::new("ps")
        .args(["-A", "-o", "pid=,ppid=,stat="])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("ps runs");
    let ps_pid = ps.id();
    let out = ps.wait_with_output().expect("ps runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let pid = fields.next()?.parse::<u32>().ok()?;
            let ppid = fields.next()?.parse::<u32>().ok()?;
            let state = fields.next()?.chars().next()?;
            (ppid == parent && pid != ps_pid).then_some((pid, state))
        })
        .collect()
}

/// Whether descriptor `fd` is open in this process (`fcntl(F_GETFD)`).
fn is_open(fd: i32) -> bool {
    // SAFETY: `fd` is only borrowed for one `fcntl`, which reports `EBADF` if it is not open.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    !matches!(rustix::io::fcntl_getfd(fd), Err(rustix::io::Errno::BADF))
}

/// The descriptor numbers this process may use (its soft limit), capped at 65,536.
fn descriptor_range() -> i32 {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    limit.current.map_or(65_536, |n| n.min(65_536)) as i32
}

/// How many descriptors this process has open.
pub fn open_descriptors() -> u64 {
    (0..descriptor_range()).filter(|&fd| is_open(fd)).count() as u64
}

/// The lowest descriptor number not open in this process: the next one a new descriptor gets.
pub fn lowest_free_fd() -> u64 {
    (0..).find(|&fd| !is_open(fd)).expect("some number is free") as u64
}

/// The system's cap on a listening socket's backlog: a `listen` asking for more gets this.
pub fn listen_backlog_cap() -> usize {
    backlog_cap().unwrap_or(128) // the historic default, where the system does not say
}

/// Linux: `net.core.somaxconn`.
// Linux: read from /proc.
#[cfg(target_os = "linux")]
fn backlog_cap() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/sys/net/core/somaxconn").ok()?;
    text.trim().parse().ok()
}

/// macOS and the BSDs: `kern.ipc.somaxconn`.
// macOS and the BSDs: through sysctl, as they have no /proc.
#[cfg(not(target_os = "linux"))]
fn backlog_cap() -> Option<usize> {
    let out = Command::new("sysctl")
        .args(["-n", "kern.ipc.somaxconn"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The names of this process's threads, from `/proc/self/task/*/comm`.
// Linux only: no other system lists the names of a process's threads (macOS and the BSDs
// give a thread's name only to that thread).
#[cfg(target_os = "linux")]
pub fn thread_names() -> Vec<String> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("Linux has /proc");
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|comm| comm.trim_end().to_owned())
        .collect()
}

/// Threads of this process whose name starts with `prefix`.
// Linux only: see `thread_names`.
#[cfg(target_os = "linux")]
pub fn threads_named(prefix: &str) -> usize {
    thread_names()
        .iter()
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// The scheduler states (`R` running or runnable, `S` sleeping, ...) of this process's threads
/// whose names start with `prefix`, from `/proc/self/task/*/stat`.
// Linux only: no other system gives another thread's state by name.
#[cfg(target_os = "linux")]
pub fn thread_states(prefix: &str) -> Vec<char> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("Linux has /proc");
    tasks
        .filter_map(|task| {
            let path = task.ok()?.path();
            let comm = std::fs::read_to_string(path.join("comm")).ok()?;
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            // The state follows the command name, which is in parentheses and may hold spaces.
            let state = stat[stat.rfind(')')? + 1..].trim_start().chars().next()?;
            comm.starts_with(prefix).then_some(state)
        })
        .collect()
}

/// How many times the threads of this process named `name` were switched out so far
/// (voluntary and involuntary context switches, from `/proc/self/task/*/status`): how often
/// they slept and woke.
// Linux only: no other system counts another thread's context switches.
#[cfg(target_os = "linux")]
pub fn thread_switches(name: &str) -> u64 {
    let tasks = std::fs::read_dir("/proc/self/task").expect("Linux has /proc");
    let mut switches = 0;
    for task in tasks {
        let path = task.unwrap().path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        switches += status
            .lines()
            .filter_map(|line| line.split_once(':'))
            .filter(|(key, _)| key.ends_with("ctxt_switches"))
            .filter_map(|(_, value)| value.trim().parse::<u64>().ok())
            .sum::<u64>();
    }
    switches
}

/// Every thread of this process: its id, its name, and how many times it was switched out so
/// far (as `thread_switches` counts them).
// Linux only: see `thread_switches`.
#[cfg(target_os = "linux")]
pub fn switches_per_thread() -> Vec<(u64, String, u64)> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("Linux has /proc");
    tasks
        .filter_map(|task| {
            let task = task.ok()?;
            let tid = task.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            let status = std::fs::read_to_string(task.path().join("status")).ok()?;
            let switches = status
                .lines()
                .filter_map(|line| line.split_once(':'))
                .filter(|(key, _)| key.ends_with("ctxt_switches"))
                .filter_map(|(_, value)| value.trim().parse::<u64>().ok())
                .sum();
            Some((tid, comm.trim_end().to_owned(), switches))
        })
        .collect()
}

/// Pins the calling thread to one CPU it may run on now, and returns that CPU.
// Linux only: macOS has no thread pinning, and the tests that pin are Linux-only.
#[cfg(target_os = "linux")]
pub fn pin_to_one_cpu() -> usize {
    let allowed = rustix::thread::sched_getaffinity(None).expect("sched_getaffinity");
    let cpu = (0..rustix::thread::CpuSet::MAX_CPU)
        .find(|&cpu| allowed.is_set(cpu))
        .expect("some CPU is allowed");
    pin_to(cpu);
    cpu
}

/// Pins the calling thread to `cpu`.
// Linux only: see `pin_to_one_cpu`.
#[cfg(target_os = "linux")]
pub fn pin_to(cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).expect("sched_setaffinity");
}

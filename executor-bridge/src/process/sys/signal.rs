//! Signal names, from the platform's own signal numbers.

use rustix::process::Signal;

/// The signals a worker may die of, by name. Numbers differ between systems (`SIGBUS` is 7
/// on Linux and 10 on macOS and the BSDs): each is the platform's own constant.
const NAMES: &[(Signal, &str)] = &[
    (Signal::HUP, "SIGHUP"),
    (Signal::INT, "SIGINT"),
    (Signal::QUIT, "SIGQUIT"),
    (Signal::ILL, "SIGILL"),
    (Signal::TRAP, "SIGTRAP"),
    (Signal::ABORT, "SIGABRT"),
    (Signal::BUS, "SIGBUS"),
    (Signal::FPE, "SIGFPE"),
    (Signal::KILL, "SIGKILL"),
    (Signal::USR1, "SIGUSR1"),
    (Signal::SEGV, "SIGSEGV"),
    (Signal::USR2, "SIGUSR2"),
    (Signal::PIPE, "SIGPIPE"),
    (Signal::ALARM, "SIGALRM"),
    (Signal::TERM, "SIGTERM"),
    (Signal::SYS, "SIGSYS"),
    (Signal::XCPU, "SIGXCPU"),
    (Signal::XFSZ, "SIGXFSZ"),
];

/// The name of signal number `signal` on this system (`"SIGKILL"`), if it is one a worker
/// commonly dies of.
pub(crate) fn signal_name(signal: i32) -> Option<&'static str> {
    NAMES
        .iter()
        .find(|(known, _)| known.as_raw() == signal)
        .map(|&(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_this_platforms_numbers() {
        assert_eq!(signal_name(Signal::KILL.as_raw()), Some("SIGKILL"));
        assert_eq!(signal_name(Signal::BUS.as_raw()), Some("SIGBUS"));
        assert_eq!(signal_name(Signal::SEGV.as_raw()), Some("SIGSEGV"));
        assert_eq!(signal_name(Signal::ABORT.as_raw()), Some("SIGABRT"));
        assert_eq!(signal_name(0), None);
        // The number that differs between systems: SIGBUS is 7 on Linux, 10 on macOS, the
        // BSDs and Solaris.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        assert_eq!(signal_name(7), Some("SIGBUS"));
        // Elsewhere: the BSD numbering.
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        assert_eq!(signal_name(10), Some("SIGBUS"));
        // Each name once.
        let mut names: Vec<_> = NAMES.iter().map(|&(_, name)| name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NAMES.len());
    }
}

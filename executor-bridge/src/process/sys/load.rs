//! How busy the machine is, where the system tells it cheaply.

/// The number of threads of the whole machine that are running or ready to run, the caller's
/// included, where the system tells it cheaply; `None` elsewhere.
// Linux: the fourth field of /proc/loadavg, `running/total`, an in-memory file (a few µs).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn runnable_threads() -> Option<usize> {
    use std::io::Read;
    let mut buf = [0u8; 128];
    let n = std::fs::File::open("/proc/loadavg")
        .and_then(|mut f| f.read(&mut buf))
        .ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    let field = text.split_ascii_whitespace().nth(3)?;
    field.split('/').next()?.parse().ok()
}

/// No cheap count elsewhere (`getloadavg` gives minute averages, too slow to follow a burst).
// macOS and the BSDs: no /proc/loadavg.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn runnable_threads() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::runnable_threads;

    #[test]
    fn the_count_includes_the_caller_where_the_system_gives_one() {
        let runnable = runnable_threads();
        // Linux: the one system where the count must be there.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        assert!(runnable.is_some(), "Linux has /proc/loadavg");
        if let Some(n) = runnable {
            assert!(n >= 1, "the calling thread is running");
        }
    }
}

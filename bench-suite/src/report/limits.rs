//! Process limits the experiments need raised.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the limit now in force.
///
/// Under an unlimited hard limit, the highest soft limit the system accepts: macOS refuses an
/// unlimited one (and one above `kern.maxfilesperproc`), so the limit is tried from 2^20 down,
/// halving, until one is accepted.
pub fn raise_fd_limit() -> u64 {
    let lim = getrlimit(Resource::Nofile);
    match lim.maximum {
        Some(max) => {
            let _ = setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(max),
                    maximum: Some(max),
                },
            );
        }
        None => {
            let floor = lim.current.unwrap_or(1024);
            let mut wanted = 1u64 << 20;
            while wanted > floor {
                let raised = Rlimit {
                    current: Some(wanted),
                    maximum: None,
                };
                if setrlimit(Resource::Nofile, raised).is_ok() {
                    break;
                }
                wanted /= 2;
            }
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

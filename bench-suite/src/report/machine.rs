//! The machine the report runs on: CPU model and count, OS, kernel, date, load.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::report::model::Machine;

/// How long [`cpu_share`] spins when the report starts.
pub const SHARE_WINDOW: Duration = Duration::from_millis(200);

/// Describes this machine; fields that cannot be read say "unknown". Takes about
/// [`SHARE_WINDOW`]: it measures how busy the CPUs are.
pub fn describe() -> Machine {
    let cpu_model = cpu_model().unwrap_or_else(|| "unknown".to_string());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let uname = rustix::system::uname();
    let kernel = format!(
        "{} {}",
        uname.sysname().to_string_lossy(),
        uname.release().to_string_lossy()
    );
    let load_average = load_average();
    Machine {
        cpu_model,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        os,
        kernel,
        date: utc_now(),
        load_average,
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .to_string(),
        cpu_share: cpu_share(SHARE_WINDOW),
    }
}

/// The share of CPU time that one spinning thread per CPU gets during `window`: each thread's
/// CPU time over the wall time, averaged. Near 1 on an idle machine; other programs that want
/// the CPUs take their part of it. `None` if a thread cannot be started.
pub fn cpu_share(window: Duration) -> Option<f64> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: Vec<_> = (0..cpus)
        .map(|_| {
            std::thread::Builder::new()
                .name("cpu-share".into())
                .spawn(move || {
                    let (wall, cpu) = (Instant::now(), crate::workloads::cpu::thread_cpu());
                    while wall.elapsed() < window {
                        std::hint::spin_loop();
                    }
                    let used = crate::workloads::cpu::thread_cpu().saturating_sub(cpu);
                    used.as_secs_f64() / wall.elapsed().as_secs_f64()
                })
        })
        .collect::<Result<_, _>>()
        .ok()?;
    let shares: Vec<f64> = threads.into_iter().filter_map(|t| t.join().ok()).collect();
    (shares.len() == cpus).then(|| (shares.iter().sum::<f64>() / cpus as f64).min(1.0))
}

/// The CPU's model name.
// Linux: /proc/cpuinfo.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn cpu_model() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    cpuinfo.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        matches!(key.trim(), "model name" | "Model" | "Hardware").then(|| value.trim().into())
    })
}

/// The CPU's model name.
// macOS (`machdep.cpu.brand_string`) and the BSDs (`hw.model`) say it through sysctl.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn cpu_model() -> Option<String> {
    ["machdep.cpu.brand_string", "hw.model"]
        .into_iter()
        .find_map(sysctl)
        .filter(|model| !model.is_empty())
}

/// The one-minute load average.
// Linux: the first field of /proc/loadavg.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn load_average() -> Option<f64> {
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
    loadavg.split_whitespace().next()?.parse().ok()
}

/// The one-minute load average.
// macOS and the BSDs: sysctl's `vm.loadavg`, printed as `{ 0.52 0.41 0.38 }`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn load_average() -> Option<f64> {
    let loadavg = sysctl("vm.loadavg")?;
    loadavg
        .trim_matches(|c| c == '{' || c == '}' || c == ' ')
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The value of sysctl variable `name`, from the `sysctl` command.
// macOS and the BSDs: what Linux keeps in /proc, they give through sysctl.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sysctl(name: &str) -> Option<String> {
    let out = std::process::Command::new("sysctl")
        .args(["-n", name])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The current time, UTC, as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn dates_from_day_counts() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
    }
}

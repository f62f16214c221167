//! Lab 3, the frozen server: the harness that runs the student's line server, the "slow disk"
//! it must not call on the loop thread, and the checker, which loads the server with
//! concurrent clients and compares the p99 latency they see with the starter's.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::lab::{Lab, Program};
use super::process;
use super::verdict::{Check, LabError, Verdict};

/// The slow disk the server saves its snapshots to: a blocking API, as most storage libraries
/// are.
pub mod disk {
    use std::io;
    use std::path::Path;
    use std::time::Duration;

    /// How long the disk takes to make one snapshot durable.
    pub const SAVE_LATENCY: Duration = Duration::from_millis(120);

    /// Writes `contents` to `dir/name.snapshot` and waits until the disk has it: a blocking
    /// call that takes [`SAVE_LATENCY`] (the `fsync` of a slow disk, played by a sleep).
    ///
    /// # Errors
    ///
    /// A name other than letters, digits and `-`, or a failed write.
    pub fn save_snapshot(dir: &Path, name: &str, contents: &str) -> io::Result<()> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("snapshot name {name:?}: use letters, digits and '-'"),
            ));
        }
        std::fs::write(dir.join(format!("{name}.snapshot")), contents)?;
        std::thread::sleep(SAVE_LATENCY);
        Ok(())
    }
}

/// Runs one version of the server on loopback until killed; prints `listening <addr>` first.
///
/// # Errors
///
/// A runtime or listener that cannot be created.
pub fn run(program: Program, dir: Option<PathBuf>) -> Result<(), LabError> {
    let dir = dir.unwrap_or_else(std::env::temp_dir);
    let rt = process::build_loop(
        evloop::Builder::new()
            .name("lab03")
            .slow_poll_threshold(Duration::from_millis(50)),
    )?;
    rt.block_on(async move {
        let listener = evloop::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(LabError::io("listen on loopback"))?;
        let addr = listener
            .local_addr()
            .map_err(LabError::io("read the address"))?;
        println!("listening {addr}");
        match program {
            Program::Yours => super::lab03_yours::serve(listener, dir).await,
            Program::Starter => super::lab03_starter::serve(listener, dir).await,
            Program::Solution => super::lab03_solution::serve(listener, dir).await,
        }
        Ok(())
    })
}

/// Concurrent clients sending `ECHO` requests.
const CLIENTS: usize = 8;
/// Each client sends an `ECHO` request this often.
const ECHO_EVERY: Duration = Duration::from_millis(2);
/// A `SAVE` request is sent this often, on its own connection.
const SAVE_EVERY: Duration = Duration::from_millis(400);
/// The student's p99 must be at most the starter's divided by this.
const REQUIRED_GAIN: f64 = 3.0;

/// What the clients saw of one version of the server.
#[derive(Debug, Default)]
struct Load {
    /// Latency of every `ECHO` round trip.
    echo: Vec<Duration>,
    /// Latency of every `SAVE` round trip.
    saves: Vec<Duration>,
    /// Wrong replies, failed connections, snapshots that were not written.
    problems: Vec<String>,
    /// The slow-poll and stall reports the server printed.
    reports: Vec<String>,
}

impl Load {
    /// The `p`-th percentile of the echo latencies.
    fn echo_percentile(&self, p: f64) -> Duration {
        percentile(&self.echo, p)
    }

    /// One line for the verdict.
    fn describe(&self, who: &str) -> String {
        let (lo, hi) = (
            self.saves.iter().min().copied().unwrap_or_default(),
            self.saves.iter().max().copied().unwrap_or_default(),
        );
        format!(
            "{who:<8} ECHO p50 {}, p99 {}, max {} over {} requests; {} SAVEs took {}..{}",
            ms(self.echo_percentile(50.0)),
            ms(self.echo_percentile(99.0)),
            ms(self.echo.iter().max().copied().unwrap_or_default()),
            self.echo.len(),
            self.saves.len(),
            ms(lo),
            ms(hi),
        )
    }
}

/// Checks `program` against the starter.
///
/// # Errors
///
/// A program that cannot be started, never listens, or freezes for good.
pub fn check(lab: Lab, program: Program, quick: bool) -> Result<Verdict, LabError> {
    let seconds = if quick { 1.6 } else { 4.0 };
    let starter = measure(lab, Program::Starter, seconds)?;
    let yours = measure(lab, program, seconds)?;
    let who = if program == Program::Yours {
        "yours"
    } else {
        program.name()
    };
    let mut measured = vec![starter.describe("starter"), yours.describe(who)];
    for report in yours.reports.iter().take(3) {
        measured.push(format!("{who} reported: {report}"));
    }
    let (p_start, p_yours) = (starter.echo_percentile(99.0), yours.echo_percentile(99.0));
    let ratio = p_start.as_secs_f64() / p_yours.as_secs_f64().max(1e-9);
    let msf = |d: Duration| d.as_secs_f64() * 1e3;
    let checks = vec![
        Check::new(
            "every reply and snapshot is right",
            yours.problems.is_empty(),
            format!(
                "{} problem(s) with the replies or snapshots, the first: {}",
                yours.problems.len(),
                yours.problems.first().map_or("", String::as_str)
            ),
        )
        .figure("problems", yours.problems.len() as f64),
        Check::new(
            "at least two SAVE requests answered during the run",
            yours.saves.len() >= 2,
            "fewer than two SAVE requests were answered during the run",
        )
        .figure("saves", yours.saves.len() as f64),
        Check::new(
            "at least 50 ECHO requests answered during the run",
            yours.echo.len() >= 50,
            format!("only {} ECHO requests were answered", yours.echo.len()),
        )
        .figure("echoes", yours.echo.len() as f64),
        Check::new(
            format!("ECHO p99 at least {REQUIRED_GAIN}x lower than the starter's"),
            ratio >= REQUIRED_GAIN,
            format!(
                "the ECHO p99 is {} with your server against {} with the starter: only \
                 {ratio:.1}x lower, at least {REQUIRED_GAIN}x needed; something still blocks \
                 the loop while clients wait (see the reports above)",
                ms(p_yours),
                ms(p_start)
            ),
        )
        .figure("starter_p99_ms", msf(p_start))
        .figure("yours_p99_ms", msf(p_yours))
        .figure("gain_x", ratio)
        .figure("required_gain_x", REQUIRED_GAIN),
    ];
    let pass_reason = format!(
        "the ECHO p99 concurrent clients see is {} with your server against {} with the starter \
         ({ratio:.1}x lower, at least {REQUIRED_GAIN}x needed), and every SAVE was written",
        ms(p_yours),
        ms(p_start)
    );
    Ok(Verdict::from_checks(measured, checks, pass_reason))
}

/// Starts one version of the server and loads it for `seconds`.
fn measure(lab: Lab, program: Program, seconds: f64) -> Result<Load, LabError> {
    let dir = std::env::temp_dir().join(format!(
        "evloop-lab03-{}-{}",
        std::process::id(),
        program.name()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(LabError::io(format!("create {}", dir.display())))?;
    let dir_arg = dir.to_string_lossy().into_owned();
    let mut server = process::start(lab, program, false, &["--dir", &dir_arg])?;
    let addr_line = server.line("listening ", Duration::from_secs(30))?;
    let addr: SocketAddr = addr_line.trim().parse().map_err(|e| LabError::BadResult {
        program: server.label().to_owned(),
        line: addr_line.clone(),
        error: format!("{e}"),
    })?;
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let echoers: Vec<_> = (0..CLIENTS)
        .map(|c| std::thread::spawn(move || echo_client(addr, c, until)))
        .collect();
    let saver = std::thread::spawn(move || save_client(addr, until));
    let mut load = Load::default();
    for echoer in echoers {
        let (latencies, problems) = echoer.join().expect("an echo client does not panic");
        load.echo.extend(latencies);
        load.problems.extend(problems);
    }
    let (saves, names, problems) = saver.join().expect("the save client does not panic");
    load.saves = saves;
    load.problems.extend(problems);
    for name in names {
        let file = dir.join(format!("{name}.snapshot"));
        if !std::fs::read_to_string(&file).is_ok_and(|s| !s.is_empty()) {
            load.problems.push(format!(
                "SAVE {name} was answered but {} holds no snapshot",
                file.display()
            ));
        }
    }
    load.reports = server.reports();
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(load)
}

/// A connection with a read limit, so that a server frozen for good fails the check instead
/// of hanging it.
fn connect(addr: SocketAddr) -> std::io::Result<(TcpStream, BufReader<TcpStream>)> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let reader = BufReader::new(stream.try_clone()?);
    Ok((stream, reader))
}

/// Sends one request and reads one reply line; returns the reply without its newline.
fn round_trip(
    stream: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
    request: &str,
) -> std::io::Result<String> {
    stream.write_all(format!("{request}\n").as_bytes())?;
    let mut reply = String::new();
    if reader.read_line(&mut reply)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(reply.trim_end().to_owned())
}

/// Sends an `ECHO` request every [`ECHO_EVERY`] until `until`, on a fixed schedule; returns
/// their latencies and problems.
///
/// A latency runs from the time the request was due. While a reply is late, the requests
/// the schedule would have sent meanwhile are counted with the latency they would have seen,
/// and skipped: a slow server cannot hide its stalls by slowing its clients down, and a client
/// on a busy machine does not pile up a backlog.
fn echo_client(addr: SocketAddr, id: usize, until: Instant) -> (Vec<Duration>, Vec<String>) {
    let (mut stream, mut reader) = match connect(addr) {
        Ok(c) => c,
        Err(e) => return (Vec::new(), vec![format!("echo client {id}: connect: {e}")]),
    };
    let mut latencies = Vec::new();
    // Spread the clients' schedules over one period.
    let mut due = Instant::now() + ECHO_EVERY.mul_f64(id as f64 / CLIENTS as f64);
    let mut i = 0;
    while due < until {
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let text = format!("client{id}-{i}");
        match round_trip(&mut stream, &mut reader, &format!("ECHO {text}")) {
            Ok(reply) if reply == text => {
                let latency = due.elapsed();
                latencies.push(latency);
                // The requests this client would have sent meanwhile, had it not been
                // waiting, would have waited too: count each (as HdrHistogram's correction
                // for coordinated omission does) instead of sending them all late.
                let mut missed = latency.saturating_sub(ECHO_EVERY);
                while !missed.is_zero() {
                    latencies.push(missed);
                    missed = missed.saturating_sub(ECHO_EVERY);
                    due += ECHO_EVERY;
                }
            }
            Ok(reply) => {
                return (
                    latencies,
                    vec![format!("ECHO {text} was answered {reply:?}")],
                )
            }
            Err(e) => return (latencies, vec![format!("ECHO {text}: {e}")]),
        }
        i += 1;
        due += ECHO_EVERY;
    }
    (latencies, Vec::new())
}

/// Sends a `SAVE` request every [`SAVE_EVERY`] until `until`; returns their latencies, the
/// names saved, and problems.
fn save_client(addr: SocketAddr, until: Instant) -> (Vec<Duration>, Vec<String>, Vec<String>) {
    let (mut stream, mut reader) = match connect(addr) {
        Ok(c) => c,
        Err(e) => return (Vec::new(), Vec::new(), vec![format!("save client: {e}")]),
    };
    let (mut latencies, mut names) = (Vec::new(), Vec::new());
    let mut next = Instant::now() + SAVE_EVERY / 4;
    while next < until {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let name = format!("snap-{}", names.len());
        let start = Instant::now();
        match round_trip(&mut stream, &mut reader, &format!("SAVE {name}")) {
            Ok(reply) if reply == format!("saved {name}") => {
                latencies.push(start.elapsed());
                names.push(name);
            }
            Ok(reply) => {
                return (
                    latencies,
                    names,
                    vec![format!("SAVE {name} was answered {reply:?}")],
                )
            }
            Err(e) => return (latencies, names, vec![format!("SAVE {name}: {e}")]),
        }
        next += SAVE_EVERY;
    }
    (latencies, names, Vec::new())
}

/// The `p`-th percentile (nearest rank) of `values`; zero if there are none.
pub fn percentile(values: &[Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A duration in milliseconds, for the verdict.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

//! Lab 4, legacy code: the harness that runs the student's quote fetcher next to a heartbeat,
//! the blocking quote client it must call (the "legacy library"), a slow quote service on
//! loopback, and the checker, which compares the heartbeat's lateness with the starter's.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::heartbeat::Heartbeat;
use super::lab::{Lab, Program};
use super::lab03::ms;
use super::process;
use super::verdict::{Check, LabError, Verdict};

/// The legacy library: a synchronous client of the quote service.
pub mod legacy {
    use std::io::{self, BufRead, BufReader, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    /// Asks the quote service at `addr` for the price of `symbol` and returns its answer line,
    /// such as `ACME 123.45`. It blocks its thread until the answer comes (the service takes
    /// about [`SERVICE_DELAY`](super::SERVICE_DELAY)), like `requests.get` in Python.
    ///
    /// # Errors
    ///
    /// A failed connection, or no answer within 10 s.
    pub fn fetch_quote(addr: SocketAddr, symbol: &str) -> io::Result<String> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(format!("QUOTE {symbol}\n").as_bytes())?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line)?;
        Ok(line.trim_end().to_owned())
    }
}

/// How long the quote service thinks before it answers.
pub const SERVICE_DELAY: Duration = Duration::from_millis(100);
/// The heartbeat's period.
const BEAT: Duration = Duration::from_millis(5);
/// The student's worst lateness must be at most the starter's divided by this.
const REQUIRED_GAIN: f64 = 5.0;

/// The price the service quotes for `symbol`: made up, but the same every time.
fn price(symbol: &str) -> String {
    let cents = symbol
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 100_000;
    format!("{symbol} {}.{:02}", cents / 100, cents % 100)
}

/// Starts the slow quote service on loopback, on threads of its own; returns its address.
fn start_service() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut line = String::new();
                let mut reader = BufReader::new(&stream);
                if reader.read_line(&mut line).is_ok() {
                    std::thread::sleep(SERVICE_DELAY);
                    let symbol = line.trim().strip_prefix("QUOTE ").unwrap_or("?");
                    let _ = (&stream).write_all(format!("{}\n", price(symbol)).as_bytes());
                }
            });
        }
    });
    Ok(addr)
}

/// What one run of a version measured.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    /// The heartbeat's worst lateness, in milliseconds.
    worst_ms: f64,
    /// How many times the heartbeat ticked.
    beats: u64,
    /// How long fetching every quote took, in milliseconds.
    fetch_ms: f64,
    /// How many quotes were asked for.
    symbols: usize,
    /// Empty if every quote came back right and in order, else what went wrong.
    problem: String,
}

/// Runs one version next to a heartbeat and prints its [`Outcome`].
///
/// # Errors
///
/// The service or the runtime could not be started.
pub fn run(program: Program, quick: bool) -> Result<(), LabError> {
    let addr = start_service().map_err(LabError::io("start the quote service"))?;
    let symbols: Vec<String> = ["ACME", "INITECH", "GLOBEX", "UMBRELLA", "HOOLI", "STARK"]
        .iter()
        .take(if quick { 4 } else { 6 })
        .map(|s| s.to_string())
        .collect();
    let rt = process::build_loop(evloop::Builder::new().name("lab04"))?;
    let outcome = rt.block_on(async move {
        let heartbeat = Heartbeat::spawn(BEAT);
        evloop::yield_now().await;
        let start = Instant::now();
        let quotes = match program {
            Program::Yours => super::lab04_yours::fetch_quotes(addr, symbols.clone()).await,
            Program::Starter => super::lab04_starter::fetch_quotes(addr, symbols.clone()).await,
            Program::Solution => super::lab04_solution::fetch_quotes(addr, symbols.clone()).await,
        };
        let fetch = start.elapsed();
        let (worst, beats) = heartbeat.stop().await;
        let expected: Vec<String> = symbols.iter().map(|s| price(s)).collect();
        let problem = match quotes {
            Ok(q) if q == expected => String::new(),
            Ok(q) => format!("expected the quotes {expected:?}, got {q:?}"),
            Err(e) => format!("fetch_quotes failed: {e}"),
        };
        Outcome {
            worst_ms: worst.as_secs_f64() * 1e3,
            beats,
            fetch_ms: fetch.as_secs_f64() * 1e3,
            symbols: symbols.len(),
            problem,
        }
    });
    process::print_result(&outcome);
    Ok(())
}

/// Checks `program` against the starter.
///
/// # Errors
///
/// A program that cannot be started, or that does not finish.
pub fn check(lab: Lab, program: Program, quick: bool) -> Result<Verdict, LabError> {
    let limit = Duration::from_secs(60);
    let starter: Outcome = process::start(lab, Program::Starter, quick, &[])?.result(limit)?;
    let mut yours_run = process::start(lab, program, quick, &[])?;
    let yours: Outcome = yours_run.result(limit)?;
    let who = if program == Program::Yours {
        "yours"
    } else {
        program.name()
    };
    let describe = |who: &str, o: &Outcome| {
        format!(
            "{who:<8} heartbeat worst lateness {} ({} beats of {}) while {} quotes took {}",
            ms(Duration::from_secs_f64(o.worst_ms / 1e3)),
            o.beats,
            ms(BEAT),
            o.symbols,
            ms(Duration::from_secs_f64(o.fetch_ms / 1e3)),
        )
    };
    let mut measured = vec![describe("starter", &starter), describe(who, &yours)];
    for report in yours_run.reports().iter().take(2) {
        measured.push(format!("{who} reported: {report}"));
    }
    let ratio = starter.worst_ms / yours.worst_ms.max(1e-6);
    let checks = vec![
        Check::new(
            "every quote is right and in the order of the symbols",
            yours.problem.is_empty(),
            yours.problem.clone(),
        ),
        Check::new(
            format!("heartbeat worst lateness at least {REQUIRED_GAIN}x lower than the starter's"),
            ratio >= REQUIRED_GAIN,
            format!(
                "the heartbeat is at worst {} late next to your fetcher against {} next to the \
                 starter's: only {ratio:.1}x less, at least {REQUIRED_GAIN}x needed; the \
                 blocking call still runs on the loop thread",
                ms(Duration::from_secs_f64(yours.worst_ms / 1e3)),
                ms(Duration::from_secs_f64(starter.worst_ms / 1e3)),
            ),
        )
        .figure("starter_worst_ms", starter.worst_ms)
        .figure("yours_worst_ms", yours.worst_ms)
        .figure("gain_x", ratio)
        .figure("required_gain_x", REQUIRED_GAIN),
    ];
    let pass_reason = format!(
        "the heartbeat is at worst {} late next to your fetcher against {} next to the starter's \
         ({ratio:.1}x less, at least {REQUIRED_GAIN}x needed), and every quote is right",
        ms(Duration::from_secs_f64(yours.worst_ms / 1e3)),
        ms(Duration::from_secs_f64(starter.worst_ms / 1e3)),
    );
    Ok(Verdict::from_checks(measured, checks, pass_reason))
}

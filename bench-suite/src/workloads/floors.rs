//! The floors: what the machine allows with no runtime at all.

use std::io::{self, Read, Write};
use std::process::{ChildStdin, ChildStdout};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Two threads passing a token back and forth `iters` times through two `std::sync::mpsc`
/// channels (each receive parks the thread on a futex); returns the time per round trip times
/// `iters`, measured on the first thread.
pub fn thread_ping_pong(iters: u64) -> Duration {
    let (ping_tx, ping_rx) = mpsc::channel::<u64>();
    let (pong_tx, pong_rx) = mpsc::channel::<u64>();
    let echo = thread::spawn(move || {
        while let Ok(n) = ping_rx.recv() {
            if pong_tx.send(n).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    for i in 0..iters {
        ping_tx
            .send(i)
            .expect("the echo thread runs until the sender closes");
        pong_rx.recv().expect("the echo thread answers every ping");
    }
    let took = start.elapsed();
    drop(ping_tx);
    echo.join().expect("the echo thread does not panic");
    took
}

/// One byte written to a child process's stdin and read back from its stdout, `iters` times;
/// the child runs [`pipe_echo`]. Returns the time it took.
///
/// # Errors
///
/// Returns the error of a failed write or read (`UnexpectedEof` if the child died).
pub fn pipe_ping_pong(
    to_child: &mut ChildStdin,
    from_child: &mut ChildStdout,
    iters: u64,
) -> io::Result<Duration> {
    let mut byte = [0u8];
    let start = Instant::now();
    for i in 0..iters {
        to_child.write_all(&[i as u8])?;
        from_child.read_exact(&mut byte)?;
    }
    Ok(start.elapsed())
}

/// The child side of [`pipe_ping_pong`]: echoes every byte of stdin to stdout, unbuffered,
/// until stdin closes.
///
/// # Errors
///
/// Returns the error of a failed read or write.
pub fn pipe_echo() -> io::Result<()> {
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut buf = [0u8; 64];
    loop {
        let n = stdin.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        stdout.write_all(&buf[..n])?;
        stdout.flush()?;
    }
}

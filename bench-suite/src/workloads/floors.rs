//! The floors: what the machine allows with no runtime at all.

use std::io::{self, Read, Write};
use std::process::{ChildStdin, ChildStdout};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::workloads::cpu::process_cpu;

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
/// until stdin closes. Returns the CPU time this process used from the first byte it read to
/// the end of its input, the floor's share of CPU on the echoing side.
///
/// # Errors
///
/// Returns the error of a failed read or write.
pub fn pipe_echo() -> io::Result<Duration> {
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut buf = [0u8; 64];
    let mut since = None;
    loop {
        let n = stdin.read(&mut buf)?;
        let first = *since.get_or_insert_with(process_cpu);
        if n == 0 {
            return Ok(process_cpu() - first);
        }
        stdout.write_all(&buf[..n])?;
        stdout.flush()?;
    }
}

/// TCP echo with no runtime: a hand-written `mio` loop on the calling thread holding both ends of
/// `conns` loopback connections. Every client sends a 64-byte message, the server end echoes
/// what it reads, and the client sends the next message once the whole reply is in, until each
/// connection made `per_conn` round trips. Returns the time from the first send to the last
/// reply. Reads go until `WouldBlock`, as edge-triggered readiness requires.
///
/// # Errors
///
/// Returns the OS error of a failed bind, connect, registration, read or write.
pub fn mio_echo(conns: usize, per_conn: u64) -> io::Result<Duration> {
    use mio::net::TcpStream;
    use mio::{Events, Interest, Poll, Token};

    use crate::workloads::echo::MSG_LEN;

    let mut poll = Poll::new()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut clients = Vec::with_capacity(conns);
    let mut servers = Vec::with_capacity(conns);
    let nonblocking = |s: std::net::TcpStream| -> io::Result<TcpStream> {
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        Ok(TcpStream::from_std(s))
    };
    for i in 0..conns {
        let mut client = nonblocking(std::net::TcpStream::connect(addr)?)?;
        let mut server = nonblocking(listener.accept()?.0)?;
        // Token 2i is connection i's client end, 2i + 1 its server end.
        poll.registry()
            .register(&mut client, Token(2 * i), Interest::READABLE)?;
        poll.registry()
            .register(&mut server, Token(2 * i + 1), Interest::READABLE)?;
        clients.push(client);
        servers.push(server);
    }
    let msg = [7u8; MSG_LEN];
    let mut left = vec![per_conn; conns];
    let mut received = vec![0usize; conns];
    let mut running = conns;
    let mut events = Events::with_capacity(1024);
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    if per_conn == 0 {
        return Ok(start.elapsed());
    }
    for client in &mut clients {
        client.write_all(&msg)?;
    }
    while running > 0 {
        poll.poll(&mut events, None)?;
        for event in events.iter() {
            let (i, is_server) = (event.token().0 / 2, event.token().0 % 2 == 1);
            loop {
                let stream = if is_server {
                    &mut servers[i]
                } else {
                    &mut clients[i]
                };
                let n = match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                };
                if is_server {
                    stream.write_all(&buf[..n])?;
                    continue;
                }
                received[i] += n;
                while received[i] >= MSG_LEN {
                    received[i] -= MSG_LEN;
                    left[i] -= 1;
                    if left[i] == 0 {
                        running -= 1;
                    } else {
                        clients[i].write_all(&msg)?;
                    }
                }
            }
        }
    }
    Ok(start.elapsed())
}

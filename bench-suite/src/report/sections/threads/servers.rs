//! The two servers compared: an evloop loop on one thread with a task per connection, and a
//! thread per connection. Both echo 64-byte messages, and both make one blocking call when a
//! message starts with [`TRIGGER`].

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::report::sections::threads::BLOCKING_CALL;
use crate::workloads::echo::MSG_LEN;
use crate::workloads::wake::Bell;

/// First byte of a message that makes the server handler block before echoing it.
pub const TRIGGER: u8 = 0xFF;

/// A loopback listener with a backlog of 4,096 (std's `bind` asks for 128): a burst of
/// thousands of connects must not overflow the accept queue, or the kernel drops SYNs and the
/// client retries a second later.
pub fn listener() -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// A server being measured, stopped when dropped.
pub trait Server {
    /// Where it listens.
    fn addr(&self) -> std::net::SocketAddr;
    /// Connections it dropped because it could not serve them.
    fn refused(&self) -> usize {
        0
    }
}

/// The evloop server: one loop thread, a task per connection.
#[derive(Debug)]
pub struct LoopServer {
    /// Where it listens.
    addr: std::net::SocketAddr,
    /// Rung on drop: the accept loop ends and the loop thread returns.
    stop: Bell,
    /// The loop thread, joined on drop.
    thread: Option<thread::JoinHandle<()>>,
}

impl LoopServer {
    /// Starts the server on its own thread.
    ///
    /// # Errors
    ///
    /// The error of binding the listener or starting the thread.
    pub fn start() -> io::Result<LoopServer> {
        let listener = listener()?;
        let addr = listener.local_addr()?;
        let stop = Bell::default();
        let bell = stop.clone();
        let thread = thread::Builder::new()
            .name("evloop-server".into())
            .spawn(move || {
                let rt = evloop::Builder::new()
                    .slow_poll_reports(false)
                    .build()
                    .expect("build the server loop");
                rt.block_on(async move {
                    let listener = evloop::net::TcpListener::from_std(listener)
                        .expect("register the listener");
                    let serve = async {
                        while let Ok((mut s, _)) = listener.accept().await {
                            let _ = s.set_nodelay(true);
                            drop(evloop::spawn(async move {
                                let mut buf = [0u8; MSG_LEN];
                                while s.read_exact(&mut buf).await.is_ok() {
                                    if buf[0] == TRIGGER {
                                        // The blocking call, on the loop thread on purpose.
                                        thread::sleep(BLOCKING_CALL);
                                    }
                                    if s.write_all(&buf).await.is_err() {
                                        break;
                                    }
                                }
                            }));
                        }
                    };
                    futures_lite::future::or(serve, bell.wait()).await;
                });
            })?;
        Ok(LoopServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl Server for LoopServer {
    fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

impl Drop for LoopServer {
    fn drop(&mut self) {
        self.stop.ring();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The thread-per-connection server: an accepting thread, and a thread per connection with
/// blocking reads and writes.
#[derive(Debug)]
pub struct ThreadServer {
    /// Where it listens.
    addr: std::net::SocketAddr,
    /// Set on drop; the accepting thread checks it after each accept.
    stop: Arc<AtomicBool>,
    /// Connections dropped because no thread could be started.
    refused: Arc<AtomicUsize>,
    /// The accepting thread, joined on drop; connection threads end when their client closes.
    acceptor: Option<thread::JoinHandle<()>>,
}

impl ThreadServer {
    /// Starts the accepting thread.
    ///
    /// # Errors
    ///
    /// The error of binding the listener or starting the thread.
    pub fn start() -> io::Result<ThreadServer> {
        let listener = listener()?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicUsize::new(0));
        let (s, rf) = (stop.clone(), refused.clone());
        let acceptor = thread::Builder::new()
            .name("accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if s.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let _ = stream.set_nodelay(true);
                    let spawned = thread::Builder::new().spawn(move || {
                        let mut buf = [0u8; MSG_LEN];
                        while stream.read_exact(&mut buf).is_ok() {
                            if buf[0] == TRIGGER {
                                thread::sleep(BLOCKING_CALL);
                            }
                            if stream.write_all(&buf).is_err() {
                                break;
                            }
                        }
                    });
                    if spawned.is_err() {
                        rf.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })?;
        Ok(ThreadServer {
            addr,
            stop,
            refused,
            acceptor: Some(acceptor),
        })
    }
}

impl Server for ThreadServer {
    fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread with one last connection.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

//! [`GroupListener`]: one listening address served by every loop of a `PerCore` group.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use socket2::{Domain, Protocol, Socket, Type};

/// How the loops of a group share a listening address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenMode {
    /// An `SO_REUSEPORT` group: each loop has a socket of its own on the same address, and the
    /// kernel spreads connections among them by a hash of the connection's addresses and ports,
    /// not by load, so long-lived connections can pile up on one loop. Linux only here (on
    /// FreeBSD only `SO_REUSEPORT_LB` balances, and macOS gives every connection to the last
    /// socket bound).
    ReusePort,
    /// One socket registered in every loop: works on every system, but accepts land unevenly
    /// (every loop is woken, and the one that runs first wins, often the busiest).
    Shared,
    /// The choice for this system: [`ReusePort`](Self::ReusePort) on Linux,
    /// [`Shared`](Self::Shared) elsewhere.
    Auto,
}

impl ListenMode {
    /// What [`Auto`](Self::Auto) means on this system.
    fn resolve(self) -> ListenMode {
        match self {
            // Linux balances an SO_REUSEPORT group by hash; elsewhere it does not (see above).
            ListenMode::Auto if cfg!(any(target_os = "linux", target_os = "android")) => {
                ListenMode::ReusePort
            }
            ListenMode::Auto => ListenMode::Shared,
            mode => mode,
        }
    }
}

/// A TCP listening address served by every loop of a `PerCore` group: bound once, before the
/// loops start, then `for_loop` in each loop's setup.
/// `Send + Sync + Clone`; the sockets stay open as long as a clone lives (so a loop that dies
/// and restarts finds its socket, and the queue of a shared socket is served by the others),
/// not just as long as a loop uses them.
#[derive(Clone)]
pub struct GroupListener {
    inner: Arc<Inner>,
}

struct Inner {
    mode: ListenMode,
    addr: SocketAddr,
    backlog: i32,
    /// The group's own copy of each loop's socket, by loop index (index 0: the first socket,
    /// the only one in shared mode).
    sockets: Mutex<HashMap<usize, std::net::TcpListener>>,
}

impl fmt::Debug for GroupListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupListener")
            .field("mode", &self.inner.mode)
            .field("addr", &self.inner.addr)
            .finish()
    }
}

/// A listening socket on `addr`, with `SO_REUSEPORT` if `reuse_port`.
fn listening_socket(addr: SocketAddr, reuse_port: bool, backlog: i32) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket)
}

impl GroupListener {
    /// The backlog of each socket.
    const BACKLOG: i32 = 1024;

    /// Binds `addr` for a group, in `mode` (its choice is logged once, through `tracing`).
    /// With port 0 every loop gets the port the first socket got. Call it before
    /// `PerCore::run`, not on a loop: it binds at once. Only the group's
    /// sockets ever get `SO_REUSEPORT`: a plain [`TcpListener::bind`](crate::net::TcpListener::bind)
    /// never sets it, so a stale second process cannot silently share the port.
    ///
    /// # Errors
    ///
    /// The OS's error of binding (`AddrInUse`...), or `Unsupported` for
    /// [`ListenMode::ReusePort`] on a system where it does not balance.
    pub fn bind(addr: SocketAddr, mode: ListenMode) -> io::Result<GroupListener> {
        let resolved = mode.resolve();
        if resolved == ListenMode::ReusePort
            && !cfg!(any(target_os = "linux", target_os = "android"))
        {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "ListenMode::ReusePort balances connections only on Linux here; use \
                 ListenMode::Shared (or Auto) on this system",
            ));
        }
        let first = listening_socket(addr, resolved == ListenMode::ReusePort, Self::BACKLOG)?;
        let addr = first
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("the bound socket has no IP address"))?;
        if mode == ListenMode::Auto {
            tracing::info!(?resolved, %addr, "evloop: per_core listener: {resolved:?} mode on this system");
        }
        let mut sockets = HashMap::new();
        sockets.insert(0, std::net::TcpListener::from(first));
        Ok(GroupListener {
            inner: Arc::new(Inner {
                mode: resolved,
                addr,
                backlog: Self::BACKLOG,
                sockets: Mutex::new(sockets),
            }),
        })
    }

    /// The mode in use (never [`ListenMode::Auto`]).
    pub fn mode(&self) -> ListenMode {
        self.inner.mode
    }

    /// The address every loop listens on, with the actual port.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The socket of loop `index`, registered with the calling loop (see `for_loop`).
    pub(super) fn for_index(&self, index: usize) -> io::Result<crate::net::TcpListener> {
        let index = match self.inner.mode {
            ListenMode::ReusePort => index,
            _ => 0,
        };
        let mut sockets = self.inner.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let own = match sockets.get(&index) {
            Some(socket) => socket.try_clone()?,
            None => {
                let socket: std::net::TcpListener =
                    listening_socket(self.inner.addr, true, self.inner.backlog)?.into();
                let own = socket.try_clone()?;
                sockets.insert(index, socket);
                own
            }
        };
        drop(sockets);
        crate::net::TcpListener::from_std(own)
    }
}

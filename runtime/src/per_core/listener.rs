//! [`GroupListener`]: one listening address served by every loop of a `PerCore` group.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use event_listener::Event;
use socket2::{Domain, Protocol, Socket, Type};

use super::group::Group;

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
    /// One socket, accepted by one loop, which hands each connection to the loop with the
    /// fewest live connections (counting the ones it has just placed): balanced by count on
    /// every system, for one more cross-thread hop per connection. If the accepting loop dies,
    /// another takes the role. Served through [`GroupListener::serve`] only.
    HandOff,
    /// The choice for this system: [`ReusePort`](Self::ReusePort) on Linux,
    /// [`HandOff`](Self::HandOff) elsewhere.
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
            ListenMode::Auto => ListenMode::HandOff,
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
    /// Hand-off mode: each serving loop's queue of connections handed to it, by loop index
    /// (`None`: the loop does not serve, or has died).
    slots: Mutex<Vec<Option<async_channel::Sender<Handed>>>>,
    /// Hand-off mode: the loop that accepts, or `NO_ACCEPTOR`.
    acceptor: AtomicUsize,
    /// Hand-off mode: notified when the accepting role is free.
    role_free: Event,
    /// `ReusePort` mode: the sockets whose loop stopped serving while the group runs, by loop
    /// index, with the loop that adopted each (`None`: not adopted yet).
    orphans: Mutex<HashMap<usize, Option<usize>>>,
    /// `ReusePort` mode: notified when the orphans change.
    orphans_changed: Event,
}

/// A connection accepted by one loop and handed to another: a plain socket (it is registered
/// on the loop that serves it) and its peer's address.
pub(super) type Handed = (std::net::TcpStream, SocketAddr);

/// No loop holds the accepting role.
const NO_ACCEPTOR: usize = usize::MAX;

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
        // Only Linux's SO_REUSEPORT spreads connections over a group (macOS gives them all
        // to the last bind; FreeBSD needs SO_REUSEPORT_LB).
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
                slots: Mutex::new(Vec::new()),
                acceptor: AtomicUsize::new(NO_ACCEPTOR),
                role_free: Event::new(),
                orphans: Mutex::new(HashMap::new()),
                orphans_changed: Event::new(),
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
        if self.inner.mode == ListenMode::HandOff {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a hand-off GroupListener is served through GroupListener::serve, which places \
                 each connection on a loop; for_loop is for the ReusePort and Shared modes",
            ));
        }
        self.socket_of(index)
    }

    /// The socket of loop `index` (the only one but in `ReusePort` mode), registered with the
    /// calling loop.
    pub(super) fn socket_of(&self, index: usize) -> io::Result<crate::net::TcpListener> {
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

/// Hand-off mode: the group's placement of connections among the loops that serve.
impl GroupListener {
    /// Loop `index` serves from now on: connections handed to it arrive on the returned queue.
    pub(super) fn open_slot(&self, index: usize) -> async_channel::Receiver<Handed> {
        let (tx, rx) = async_channel::unbounded();
        let mut slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() <= index {
            slots.resize(index + 1, None);
        }
        slots[index] = Some(tx);
        rx
    }

    /// Loop `index` serves no longer: no connection is placed on it from now on, and if it
    /// accepted for the group, the role is free.
    pub(super) fn close_slot(&self, index: usize) {
        let mut slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get_mut(index) {
            *slot = None;
        }
        drop(slots);
        if self
            .inner
            .acceptor
            .compare_exchange(index, NO_ACCEPTOR, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            self.inner.role_free.notify(usize::MAX);
        }
    }

    /// Takes the accepting role for loop `index` if no loop holds it; whether `index` holds it.
    pub(super) fn claim_acceptor(&self, index: usize) -> bool {
        match self.inner.acceptor.compare_exchange(
            NO_ACCEPTOR,
            index,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) => true,
            Err(holder) => holder == index,
        }
    }

    /// Resolves when the accepting role may be free (look again with `claim_acceptor`).
    pub(super) fn role_free(&self) -> event_listener::EventListener {
        self.inner.role_free.listen()
    }

    /// Places `conn`, accepted by (or queued for) loop `from`, on the serving loop with the
    /// fewest live connections (`from` on a tie, saving the hop), counts it there, and records
    /// the gap the counts are left with.
    pub(super) fn place(&self, group: &Group, from: usize, conn: Handed) -> Placement {
        let slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
        let serving = || {
            (0..slots.len().min(group.loops()))
                .filter(|&i| slots[i].as_ref().is_some_and(|s| !s.is_closed()))
        };
        let mut conn = conn;
        let placement = loop {
            let Some(target) = serving().min_by_key(|&i| (group.live(i), i != from)) else {
                return Placement::Nowhere(conn);
            };
            let slot = match &slots[target] {
                _ if target == from => {
                    group.placed(from);
                    break Placement::Here(conn);
                }
                Some(slot) => slot,
                None => return Placement::Nowhere(conn),
            };
            group.placed(target);
            match slot.try_send(conn) {
                Ok(()) => {
                    group.handed_off(from);
                    break Placement::Elsewhere;
                }
                // The loop closed its queue since it was looked at (a failed send means a
                // closed queue, which the next look skips).
                Err(e) => {
                    group.unplaced(target);
                    conn = e.into_inner();
                }
            }
        };
        let (low, high) = serving()
            .map(|i| group.live(i))
            .fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
        group.gap_after_placing(from, high.saturating_sub(low));
        placement
    }
}

/// Where [`GroupListener::place`] put a connection.
pub(super) enum Placement {
    /// On the loop that placed it (counted there): it serves it.
    Here(Handed),
    /// On another loop, through its queue.
    Elsewhere,
    /// Nowhere: no loop serves (not counted anywhere).
    Nowhere(Handed),
}

/// `ReusePort` mode: a socket whose loop stopped serving while the group runs is adopted by
/// another loop, which serves its queue until its own loop serves it again.
impl GroupListener {
    fn orphans(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Option<usize>>> {
        self.inner.orphans.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loop `index` serves its own socket (again): an adopter lets it go.
    pub(super) fn own(&self, index: usize) {
        if self.orphans().remove(&index).is_some() {
            self.inner.orphans_changed.notify(usize::MAX);
        }
    }

    /// Loop `index` stopped serving its socket while the group runs.
    pub(super) fn orphan(&self, index: usize) {
        self.orphans().insert(index, None);
        self.inner.orphans_changed.notify(usize::MAX);
    }

    /// Resolves when the orphans may have changed.
    pub(super) fn orphans_changed(&self) -> event_listener::EventListener {
        self.inner.orphans_changed.listen()
    }

    /// Takes an orphan no loop has adopted yet for loop `by`.
    pub(super) fn adopt(&self, by: usize) -> Option<usize> {
        let mut orphans = self.orphans();
        let (&index, adopter) = orphans.iter_mut().find(|(_, a)| a.is_none())?;
        *adopter = Some(by);
        Some(index)
    }

    /// Whether loop `by` still holds the orphan socket `index`.
    pub(super) fn adopted(&self, index: usize, by: usize) -> bool {
        self.orphans().get(&index) == Some(&Some(by))
    }

    /// Loop `by` no longer serves the orphan socket `index` (if it still is one, another loop
    /// may adopt it).
    pub(super) fn release(&self, index: usize, by: usize) {
        let mut orphans = self.orphans();
        if let Some(adopter) = orphans.get_mut(&index) {
            if *adopter == Some(by) {
                *adopter = None;
                drop(orphans);
                self.inner.orphans_changed.notify(usize::MAX);
            }
        }
    }
}

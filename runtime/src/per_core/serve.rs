//! `GroupListener::serve`: each loop's accepting task in every mode, the connections it starts,
//! and what it does when the group's stop begins (accept what is queued, then stop).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::future::or;

use super::group::Group;
use super::listener::{GroupListener, Handed, ListenMode, Placement};
use crate::net::{TcpListener, TcpStream};

/// A connection served by one loop of a group, from
/// [`GroupListener::serve`](crate::GroupListener::serve): a [`TcpStream`] (through `Deref`, and
/// [`AsyncRead`]/[`AsyncWrite`] itself) that counts in its loop's live connections until it
/// is dropped.
pub struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    live: Live,
}

/// A connection's place in its loop's live count.
struct Live {
    group: Arc<Group>,
    index: usize,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.group.closed(self.index);
    }
}

impl Connection {
    /// The peer's address, as the accept gave it.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The index of the loop serving it.
    pub fn loop_index(&self) -> usize {
        self.live.index
    }
}

impl Deref for Connection {
    type Target = TcpStream;

    fn deref(&self) -> &TcpStream {
        &self.stream
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("loop", &self.live.index)
            .finish()
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }

    fn poll_read_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_read_vectored(cx, bufs)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_close(cx)
    }
}

/// One loop's part in serving a group listener (its accepting task and, in `ReusePort` mode,
/// the tasks serving the sockets it adopted share it).
pub(super) struct Server<H> {
    pub(super) listener: GroupListener,
    pub(super) index: usize,
    pub(super) group: Arc<Group>,
    pub(super) handler: Rc<RefCell<H>>,
}

impl<H> Clone for Server<H> {
    fn clone(&self) -> Self {
        Server {
            listener: self.listener.clone(),
            index: self.index,
            group: self.group.clone(),
            handler: self.handler.clone(),
        }
    }
}

/// What makes a loop stop waiting for connections.
enum Next {
    Conn(Handed),
    Failed(io::Error),
    Changed,
    Stop,
}

/// `ReusePort` mode: the loop serving its own socket; if it stops while the group runs (its
/// setup returned or panicked), the socket becomes an orphan that another loop adopts.
struct Owner {
    listener: GroupListener,
    index: usize,
    group: Arc<Group>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        if !self.group.stop.begun() {
            self.listener.orphan(self.index);
        }
    }
}

/// `ReusePort` mode: a loop serving another loop's orphan socket; when it stops, the socket may
/// be adopted again.
struct Adoption {
    listener: GroupListener,
    orphan: usize,
    by: usize,
}

impl Drop for Adoption {
    fn drop(&mut self) {
        self.listener.release(self.orphan, self.by);
    }
}

impl<H, Fut> Server<H>
where
    H: FnMut(Connection) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    /// Accepts (or receives) connections and starts `handler` on each until the group's stop
    /// begins, then accepts what is already queued and returns.
    pub(super) async fn run(self) -> io::Result<()> {
        match self.listener.mode() {
            ListenMode::HandOff => self.hand_off().await,
            _ => self.accept_own().await,
        }
    }

    /// `ReusePort` and `Shared` modes: this loop accepts from its socket and serves what it
    /// accepts (in `ReusePort` mode, it also adopts the sockets of loops that stopped).
    async fn accept_own(&self) -> io::Result<()> {
        let socket = self.listener.socket_of(self.index)?;
        let _owner = (self.listener.mode() == ListenMode::ReusePort).then(|| {
            self.listener.own(self.index);
            Owner {
                listener: self.listener.clone(),
                index: self.index,
                group: self.group.clone(),
            }
        });
        self.accept_from(&socket, None).await
    }

    /// `ReusePort` mode: serves the socket of loop `orphan`, which stopped, until that loop
    /// serves it again or the group stops.
    async fn serve_orphan(self, orphan: usize) {
        let _adoption = Adoption {
            listener: self.listener.clone(),
            orphan,
            by: self.index,
        };
        if let Ok(socket) = self.listener.socket_of(orphan) {
            // An error ends the adoption; the orphan waits for another loop.
            let _ = self.accept_from(&socket, Some(orphan)).await;
        }
    }

    /// Accepts from `socket` (this loop's own, or the adopted socket of loop `adopted`) and
    /// serves what it accepts until the group's stop begins, then takes what is queued. In
    /// `ReusePort` mode it also follows the orphans: on its own socket, it adopts each new one;
    /// on an adopted socket, it returns once that socket's loop serves it again.
    async fn accept_from(&self, socket: &TcpListener, adopted: Option<usize>) -> io::Result<()> {
        let follow = self.listener.mode() == ListenMode::ReusePort;
        // Listened to before each look at the orphans, so that no change is missed.
        let mut changed = follow.then(|| self.listener.orphans_changed());
        if follow && !self.follow_orphans(adopted) {
            return Ok(());
        }
        loop {
            match self.next(socket, changed.as_mut()).await {
                Next::Conn(conn) => self.serve_accepted(conn),
                Next::Failed(e) => after_accept_error(e, self.index).await?,
                Next::Changed => {
                    changed = Some(self.listener.orphans_changed());
                    if !self.follow_orphans(adopted) {
                        return Ok(());
                    }
                }
                Next::Stop => break,
            }
        }
        self.accept_queued(socket);
        Ok(())
    }

    /// After a change of the orphans: adopts every orphan no loop serves (on this loop's own
    /// socket), or says whether the adopted socket is still this loop's to serve.
    fn follow_orphans(&self, adopted: Option<usize>) -> bool {
        if let Some(orphan) = adopted {
            return self.listener.adopted(orphan, self.index);
        }
        while let Some(orphan) = self.listener.adopt(self.index) {
            drop(
                crate::task::spawn::Builder::new()
                    .name(format!(
                        "accept on {} for loop {orphan}",
                        self.listener.local_addr()
                    ))
                    .spawn(self.clone().serve_orphan(orphan)),
            );
        }
        true
    }

    /// Waits for a connection on `socket`, the group's stop, or (if given) `changed`.
    async fn next(
        &self,
        socket: &TcpListener,
        changed: Option<&mut event_listener::EventListener>,
    ) -> Next {
        let accept = async {
            match socket.accept_std().await {
                Ok(conn) => Next::Conn(conn),
                Err(e) => Next::Failed(e),
            }
        };
        let stop = async {
            self.group.stop.wait().await;
            Next::Stop
        };
        let changed = async {
            match changed {
                Some(changed) => {
                    changed.await;
                    Next::Changed
                }
                None => std::future::pending().await,
            }
        };
        or(stop, or(accept, changed)).await
    }

    /// Serves a connection this loop accepted from a socket of its own (or adopted).
    fn serve_accepted(&self, conn: Handed) {
        self.group.placed(self.index);
        self.start(conn);
        self.group.check_balance(match self.listener.mode() {
            ListenMode::ReusePort => {
                "SO_REUSEPORT spreads connections by a hash of their addresses and ports, not by \
                 load; ListenMode::HandOff places each on the loop with the fewest"
            }
            _ => {
                "on a shared socket the loop that wakes first accepts, often the busiest; \
                 ListenMode::HandOff places each connection on the loop with the fewest"
            }
        });
    }

    /// `HandOff` mode: the loop holding the accepting role accepts and places each connection
    /// on the loop with the fewest live ones; every loop serves what is placed on it.
    async fn hand_off(&self) -> io::Result<()> {
        let queue = self.listener.open_slot(self.index);
        let _slot = Slot {
            listener: self.listener.clone(),
            index: self.index,
            queue: queue.clone(),
            group: self.group.clone(),
        };
        // Listened to before each try for the accepting role, so that no release is missed.
        let mut role = Role::Waiting(self.listener.role_free());
        let cause = "connections closed unevenly, or a loop died, after they were placed \
                     (hand-off places each new connection on the loop with the fewest, but never \
                     moves one)";
        /// What a serving loop in hand-off mode waits for.
        enum Arrival {
            Handed(Handed),
            Accepted(io::Result<Handed>),
            Role,
            Stop,
        }
        loop {
            if matches!(role, Role::Waiting(_)) && self.listener.claim_acceptor(self.index) {
                role = Role::Accepting(self.listener.socket_of(0)?);
            }
            let handed = async {
                match queue.recv().await {
                    Ok(conn) => Arrival::Handed(conn),
                    Err(_) => Arrival::Stop,
                }
            };
            let stop = async {
                self.group.stop.wait().await;
                Arrival::Stop
            };
            let next = match &mut role {
                Role::Accepting(socket) => {
                    or(
                        stop,
                        or(handed, async {
                            Arrival::Accepted(socket.accept_std().await)
                        }),
                    )
                    .await
                }
                Role::Waiting(free) => {
                    or(
                        stop,
                        or(handed, async {
                            free.await;
                            Arrival::Role
                        }),
                    )
                    .await
                }
            };
            match next {
                Arrival::Handed(conn) => self.start(conn),
                Arrival::Accepted(Ok(conn)) => {
                    match self.listener.place(&self.group, self.index, conn) {
                        Placement::Here(conn) => self.start(conn),
                        Placement::Elsewhere => {}
                        // Never while this loop serves (its queue closes at the stop only);
                        // served here all the same.
                        Placement::Nowhere(conn) => {
                            self.group.placed(self.index);
                            self.start(conn);
                        }
                    }
                    self.group.check_balance(cause);
                }
                Arrival::Accepted(Err(e)) => after_accept_error(e, self.index).await?,
                Arrival::Role => role = Role::Waiting(self.listener.role_free()),
                Arrival::Stop => break,
            }
        }
        // The stop: the acceptor takes what the socket has queued; then no connection is
        // placed here any more, and those already placed are served.
        if let Role::Accepting(socket) = &role {
            self.accept_queued(socket);
        }
        self.listener.close_slot(self.index);
        queue.close();
        while let Ok(conn) = queue.try_recv() {
            self.start(conn);
        }
        Ok(())
    }

    /// At the stop: accepts until the socket's queue is empty, serving each connection here.
    fn accept_queued(&self, socket: &TcpListener) {
        loop {
            match socket.get_ref().accept() {
                Ok(conn) => {
                    self.group.placed(self.index);
                    self.start(conn);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if transient(&e) => {}
                Err(e) => {
                    eprintln!(
                        "evloop: per_core: loop {} stopped accepting what was queued on {}: {e}",
                        self.index,
                        self.listener.local_addr()
                    );
                    return;
                }
            }
        }
    }

    /// Starts the handler on a connection already counted on this loop, as a task of its own.
    fn start(&self, (stream, peer): Handed) {
        let live = Live {
            group: self.group.clone(),
            index: self.index,
        };
        let stream = match TcpStream::from_std(stream) {
            Ok(stream) => stream,
            Err(e) => {
                // `live` ends here: the connection counts as closed.
                eprintln!(
                    "evloop: per_core: loop {} could not register the connection from {peer}: {e}",
                    self.index
                );
                return;
            }
        };
        let conn = Connection { stream, peer, live };
        drop(
            crate::task::spawn::Builder::new()
                .name(format!("connection from {peer}"))
                .spawn((self.handler.borrow_mut())(conn)),
        );
    }
}

/// Hand-off mode: whether a serving loop accepts for the group, or waits for the role.
enum Role {
    /// It accepts, on its registration of the group's socket.
    Accepting(TcpListener),
    /// It waits for the role to be free.
    Waiting(event_listener::EventListener),
}

/// Hand-off mode: a serving loop's queue, taken out of the placement when the loop stops
/// serving for any reason; connections still in it go to another loop (or, with none left,
/// count as lost on this one).
struct Slot {
    listener: GroupListener,
    index: usize,
    queue: async_channel::Receiver<Handed>,
    group: Arc<Group>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.listener.close_slot(self.index);
        self.queue.close();
        while let Ok(conn) = self.queue.try_recv() {
            self.group.unplaced(self.index);
            // This loop's slot is closed: the connection goes to another loop, or is lost.
            match self.listener.place(&self.group, self.index, conn) {
                Placement::Elsewhere => {}
                Placement::Here(_) => {
                    self.group.unplaced(self.index);
                    self.group.lost_queued(self.index);
                }
                Placement::Nowhere(_) => self.group.lost_queued(self.index),
            }
        }
    }
}

/// Whether an accept error concerns only the connection it was about.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// How long an accepting loop pauses when the process is out of file descriptors.
const OUT_OF_FDS_PAUSE: Duration = Duration::from_millis(100);

/// After a failed accept: go on (at once for an error of one connection; after a pause, said
/// on stderr, when the process or the system is out of file descriptors), or give up with
/// the error.
async fn after_accept_error(e: io::Error, index: usize) -> io::Result<()> {
    if transient(&e) {
        return Ok(());
    }
    let out_of_fds = matches!(
        rustix::io::Errno::from_io_error(&e),
        Some(rustix::io::Errno::MFILE | rustix::io::Errno::NFILE)
    );
    if out_of_fds {
        eprintln!(
            "evloop: per_core: loop {index} cannot accept: {e}; pausing {OUT_OF_FDS_PAUSE:?} \
             (raise the limit with `ulimit -n`, or serve fewer connections at once)"
        );
        crate::time::sleep::sleep(OUT_OF_FDS_PAUSE).await;
        return Ok(());
    }
    Err(e)
}

//! Address resolution that never blocks the loop thread.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::blocking::unblock;

/// Something that can be turned into socket addresses: a [`SocketAddr`], an `(ip, port)` pair,
/// or a `"host:port"` string / `(host, port)` pair that may need a DNS lookup.
///
/// Sealed: it is implemented for the same types as [`std::net::ToSocketAddrs`], and only the
/// string forms that are not literal addresses cost a lookup.
pub trait ToSocketAddrs: sealed::Sealed {}

mod sealed {
    use super::Target;

    pub trait Sealed {
        /// Either the addresses, or the lookup to make off the loop thread.
        fn into_target(self) -> Target;
    }
}

/// What to resolve.
#[doc(hidden)]
#[derive(Debug)]
pub enum Target {
    /// Already socket addresses.
    Addrs(Vec<SocketAddr>),
    /// A `"host:port"` string to look up.
    HostPort(String),
    /// A host name and a port to look up.
    Host(String, u16),
}

macro_rules! literal_addrs {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {}
        impl sealed::Sealed for $ty {
            fn into_target(self) -> Target {
                Target::Addrs(vec![SocketAddr::from(self)])
            }
        }
    )*};
}

literal_addrs!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for &[SocketAddr] {}
impl sealed::Sealed for &[SocketAddr] {
    fn into_target(self) -> Target {
        Target::Addrs(self.to_vec())
    }
}

impl ToSocketAddrs for Vec<SocketAddr> {}
impl sealed::Sealed for Vec<SocketAddr> {
    fn into_target(self) -> Target {
        Target::Addrs(self)
    }
}

impl ToSocketAddrs for &str {}
impl sealed::Sealed for &str {
    fn into_target(self) -> Target {
        match self.parse::<SocketAddr>() {
            Ok(addr) => Target::Addrs(vec![addr]),
            Err(_) => Target::HostPort(self.to_owned()),
        }
    }
}

impl ToSocketAddrs for String {}
impl sealed::Sealed for String {
    fn into_target(self) -> Target {
        self.as_str().into_target()
    }
}

impl ToSocketAddrs for &String {}
impl sealed::Sealed for &String {
    fn into_target(self) -> Target {
        self.as_str().into_target()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl sealed::Sealed for (&str, u16) {
    fn into_target(self) -> Target {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => Target::Addrs(vec![SocketAddr::new(ip, self.1)]),
            Err(_) => Target::Host(self.0.to_owned(), self.1),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl sealed::Sealed for (String, u16) {
    fn into_target(self) -> Target {
        (self.0.as_str(), self.1).into_target()
    }
}

/// Resolves `addr` to socket addresses without blocking the loop thread.
///
/// Literal addresses are returned as they are. A host name is looked up with the system
/// resolver (`getaddrinfo`, which blocks) on the loop's I/O pool (see
/// [`to_thread`](crate::to_thread)) while the calling task waits, so other tasks keep running
/// during a slow DNS answer.
///
/// # Errors
///
/// Returns the resolver's error, for example for an unknown host.
///
/// # Examples
///
/// ```
/// evloop::run(async {
///     let addrs = evloop::net::resolve("localhost:8080").await?;
///     assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
pub async fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    use std::net::ToSocketAddrs as _;
    match sealed::Sealed::into_target(addr) {
        Target::Addrs(addrs) => Ok(addrs),
        Target::HostPort(s) => unblock(move || s.to_socket_addrs().map(Vec::from_iter)).await,
        Target::Host(h, p) => {
            unblock(move || (h.as_str(), p).to_socket_addrs().map(Vec::from_iter)).await
        }
    }
}

/// Runs `f` on each resolved address until one succeeds; returns the last error otherwise.
pub(super) async fn each_addr<A, T, F, Fut>(addr: A, mut f: F) -> io::Result<T>
where
    A: ToSocketAddrs,
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last_err = None;
    for addr in resolve(addr).await? {
        match f(addr).await {
            Ok(t) => return Ok(t),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address",
        )
    }))
}

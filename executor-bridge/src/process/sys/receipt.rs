//! A worker's receipt: the id of the last call it took, in a word of memory it shares with the
//! pool.
//!
//! A worker writes the id of a call there once it has read the whole call and before it runs
//! it. When the worker dies with a call in flight, the pool reads the word: the call's id means
//! the worker took it (it may have run, so the job fails with the worker); any other value
//! means it never ran, and it runs elsewhere.
//!
//! Why not ask the channel what the worker read: a read that consumed a call can complete
//! after `kill` has returned, when the worker was inside that read (preempted in the kernel,
//! or on a virtual CPU the host paused) as the call arrived; the signal only takes effect as
//! the read returns. The worker then dies having read a call it never ran, and the channel
//! holds nothing to tell that apart from a call it ran. The receipt is written by the
//! worker's own code after the read has returned, which a worker already killed never gets to
//! do. It costs one store to memory per call and no system call.

use std::io;
use std::os::fd::OwnedFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::mm::{MapFlags, ProtFlags};

/// The shared word, mapped in this process. The pool's side and the worker's side are the
/// same type, made by [`Receipt::create`] and [`Receipt::open`].
#[derive(Debug)]
pub(crate) struct Receipt {
    /// The mapping's start: one `u64`, page-aligned.
    word: NonNull<AtomicU64>,
}

// SAFETY: the mapping is owned by the `Receipt`, lives until it is dropped, and is only ever
// accessed through an atomic, so it may be used and dropped from any thread.
unsafe impl Send for Receipt {}
// SAFETY: as above: every access is an atomic load or store.
unsafe impl Sync for Receipt {}

impl Receipt {
    /// Makes a fresh receipt (no call taken: 0, which no job id is) for a worker about to be
    /// started. Returns this process's mapping and the descriptor to hand to the worker
    /// (close-on-exec; the mapping stays valid once it is closed).
    ///
    /// # Errors
    ///
    /// The system's error (out of descriptors or memory...).
    pub(crate) fn create() -> io::Result<(Receipt, OwnedFd)> {
        let fd = shared_memory()?;
        rustix::fs::ftruncate(&fd, size_of::<AtomicU64>() as u64)?;
        let receipt = Receipt::open(&fd)?;
        Ok((receipt, fd))
    }

    /// Maps the receipt behind `fd`: the worker's side, with the descriptor the pool handed
    /// over, which may be closed afterwards.
    ///
    /// # Errors
    ///
    /// The system's error (the descriptor is not a shared memory object...).
    pub(crate) fn open(fd: &OwnedFd) -> io::Result<Receipt> {
        let prot = ProtFlags::READ | ProtFlags::WRITE;
        let len = size_of::<AtomicU64>();
        let hint = std::ptr::null_mut();
        let start = {
            // SAFETY: a new mapping at an address the system chooses (a null hint), of an
            // object at least `len` long (`create`'s `ftruncate`); nothing else in this
            // process refers to it, and `Drop` unmaps it.
            unsafe { rustix::mm::mmap(hint, len, prot, MapFlags::SHARED, fd, 0) }
        }?;
        let word = NonNull::new(start.cast::<AtomicU64>())
            .ok_or_else(|| io::Error::other("mmap returned a null mapping"))?;
        Ok(Receipt { word })
    }

    /// Records that the worker took call `id` (the worker's side, before it runs the call).
    pub(crate) fn record(&self, id: u64) {
        self.word().store(id, Ordering::Release);
    }

    /// The id of the last call the worker took (the pool's side, once the worker is dead).
    pub(crate) fn last(&self) -> u64 {
        self.word().load(Ordering::Acquire)
    }

    fn word(&self) -> &AtomicU64 {
        // SAFETY: the mapping is page-aligned, readable and writable, at least 8 bytes long and
        // lives as long as `self`; the word is only ever accessed atomically, here and in the
        // other process.
        unsafe { self.word.as_ref() }
    }
}

impl Drop for Receipt {
    fn drop(&mut self) {
        // SAFETY: the mapping made by `open`, of this length; no reference to it outlives
        // `self` (`word` borrows `self`).
        let _ = unsafe { rustix::mm::munmap(self.word.as_ptr().cast(), size_of::<AtomicU64>()) };
    }
}

// Linux and FreeBSD: an anonymous memory file, which nothing else can open by name.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn shared_memory() -> io::Result<OwnedFd> {
    use rustix::fs::MemfdFlags;
    Ok(rustix::fs::memfd_create(
        "evloop-receipt",
        MemfdFlags::CLOEXEC,
    )?)
}

// Elsewhere (macOS, the other BSDs) there is no memfd: a POSIX shared memory object (which
// `shm_open` makes close-on-exec), unlinked as soon as it is open.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn shared_memory() -> io::Result<OwnedFd> {
    use rustix::fs::Mode;
    use rustix::shm::OFlags;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Apple allows names of at most 31 bytes.
    let name = format!(
        "/evloop.{}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::RDWR;
    let fd = rustix::shm::open(name.as_str(), flags, Mode::RUSR | Mode::WUSR)?;
    let _ = rustix::shm::unlink(name.as_str());
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_one_mapping_records_another_reads() {
        let (pool_side, fd) = Receipt::create().unwrap();
        assert_eq!(pool_side.last(), 0, "a fresh receipt");
        let worker_side = Receipt::open(&fd).unwrap();
        drop(fd);
        worker_side.record(41);
        assert_eq!(pool_side.last(), 41);
        drop(worker_side);
        assert_eq!(pool_side.last(), 41, "after the other side unmapped");
    }
}

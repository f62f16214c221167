//! Async files: the `aiofiles` equivalent.
//!
//! The OS cannot poll regular files (epoll refuses them), and every file system call may block
//! (a slow disk, a network file system, a FIFO without a writer). So every call here runs on
//! the loop's I/O pool (see [`to_thread`](crate::to_thread)) while the calling task waits, and
//! the loop keeps serving every other task.
//!
//! [`File`] implements the `futures-io` traits [`AsyncRead`], [`AsyncWrite`] and
//! [`AsyncSeek`]. It reads ahead and buffers writes in chunks of 64 KiB, so that a pool round
//! trip moves a useful amount of data; the std `File` moves to a pool thread for each chunk and
//! comes back.
//!
//! # Examples
//!
//! ```
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//!
//! evloop::run(async {
//!     let dir = std::env::temp_dir().join(format!("evloop-fs-doc-{}", std::process::id()));
//!     evloop::fs::create_dir_all(&dir).await?;
//!     let path = dir.join("greeting.txt");
//!
//!     let mut file = evloop::fs::File::create(&path).await?;
//!     file.write_all(b"hello from the pool").await?;
//!     file.close().await?; // flushes: errors are reported here, not lost on drop
//!
//!     assert_eq!(evloop::fs::read_to_string(&path).await?, "hello from the pool");
//!     let mut contents = String::new();
//!     evloop::fs::File::open(&path).await?.read_to_string(&mut contents).await?;
//!     assert_eq!(contents, "hello from the pool");
//!     evloop::fs::remove_dir_all(&dir).await
//! })?;
//! # std::io::Result::Ok(())
//! ```

use std::fmt;
use std::fs::{DirEntry, Metadata, OpenOptions};
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use evloop_bridge::Handle;

use crate::blocking::unblock;
use futures_io::{AsyncRead, AsyncSeek, AsyncWrite};

/// Reads the whole file: `std::fs::read`, off the loop thread.
///
/// # Errors
///
/// The errors of `std::fs::read` (e.g. `NotFound`), or `Other` if the pool was shut down.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::read(path)).await
}

/// Reads the whole file as UTF-8: `std::fs::read_to_string`, off the loop thread.
///
/// # Errors
///
/// The errors of `std::fs::read_to_string` (`InvalidData` for invalid UTF-8).
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::read_to_string(path)).await
}

/// Creates or truncates the file and writes `contents`: `std::fs::write`, off the loop thread.
///
/// # Errors
///
/// The errors of `std::fs::write`.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let (path, contents) = (path.as_ref().to_owned(), contents.as_ref().to_owned());
    unblock(move || std::fs::write(path, contents)).await
}

/// The file's metadata, following symbolic links: `std::fs::metadata`, off the loop thread.
///
/// # Errors
///
/// The errors of `std::fs::metadata`.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::metadata(path)).await
}

/// Removes a file: `std::fs::remove_file`, off the loop thread.
///
/// # Errors
///
/// The errors of `std::fs::remove_file`.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::remove_file(path)).await
}

/// Creates a directory and its missing parents: `std::fs::create_dir_all`, off the loop thread.
///
/// # Errors
///
/// The errors of `std::fs::create_dir_all`.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::create_dir_all(path)).await
}

/// Removes a directory and everything in it: `std::fs::remove_dir_all`, off the loop thread.
///
/// # Errors
///
/// The errors of `std::fs::remove_dir_all`.
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::remove_dir_all(path)).await
}

/// Renames a file or directory: `std::fs::rename`, off the loop thread.
///
/// # Errors
///
/// The errors of `std::fs::rename`.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    unblock(move || std::fs::rename(from, to)).await
}

/// The entries of a directory, in the order the OS lists them: `std::fs::read_dir`, read to the
/// end off the loop thread.
///
/// # Errors
///
/// The errors of `std::fs::read_dir` or of reading an entry.
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<Vec<DirEntry>> {
    let path = path.as_ref().to_owned();
    unblock(move || std::fs::read_dir(path)?.collect()).await
}

/// Bytes moved per pool round trip, for read-ahead and for buffered writes.
const CHUNK: usize = 64 * 1024;

/// An open file whose reads, writes and seeks run on the loop's default pool.
///
/// Writes are buffered: flush or close the file (`flush().await` / `close().await` from
/// `futures_lite::AsyncWriteExt`, or [`AsyncWrite::poll_flush`]) to see their errors. A `File`
/// dropped with buffered writes hands them to the pool, which writes them in the background.
///
/// # Examples
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
/// use std::io::SeekFrom;
///
/// evloop::run(async {
///     let path = std::env::temp_dir().join(format!("evloop-file-doc-{}", std::process::id()));
///     let mut file = evloop::fs::File::create(&path).await?;
///     file.write_all(b"hello, file").await?;
///     file.flush().await?; // see the write's errors now, not at drop
///
///     let mut file = evloop::fs::File::open(&path).await?;
///     file.seek(SeekFrom::Start(7)).await?;
///     let mut rest = String::new();
///     file.read_to_string(&mut rest).await?;
///     assert_eq!(rest, "file");
///     evloop::fs::remove_file(&path).await
/// })?;
/// # std::io::Result::Ok(())
/// ```
pub struct File {
    /// Where the std file is: here between operations, on a pool thread during one.
    state: State,
}

enum State {
    /// No operation in progress; `None` after one was lost (its job panicked or the pool shut
    /// down), which leaves the file unusable.
    Idle(Option<Box<Inner>>),
    /// An operation runs on the pool; it hands the file back with its outcome.
    Busy(Handle<(Box<Inner>, Outcome)>),
}

/// The std file and its buffers.
struct Inner {
    /// The file.
    file: std::fs::File,
    /// Bytes read ahead; `read_buf[read_pos..]` are not yet consumed.
    read_buf: Vec<u8>,
    /// How much of `read_buf` was consumed.
    read_pos: usize,
    /// Bytes written but not yet handed to the OS.
    write_buf: Vec<u8>,
}

/// What an operation on the pool produced.
enum Outcome {
    /// Read ahead: bytes read (0 at end of file).
    Filled(io::Result<usize>),
    /// Wrote the buffered writes.
    Flushed(io::Result<()>),
    /// Moved the OS position back over unread read-ahead, before a write.
    Rewound(io::Result<u64>),
    /// A seek asked for by the user: the new position.
    Sought(io::Result<u64>),
}

impl Outcome {
    /// The error of a failed operation. Whichever poll sees an operation end reports its error,
    /// so none is lost.
    fn error(self) -> Option<io::Error> {
        match self {
            Outcome::Filled(Err(e))
            | Outcome::Flushed(Err(e))
            | Outcome::Rewound(Err(e))
            | Outcome::Sought(Err(e)) => Some(e),
            _ => None,
        }
    }
}

impl Inner {
    /// Unread read-ahead, as a negative offset from the OS position.
    fn unread(&self) -> i64 {
        (self.read_buf.len() - self.read_pos) as i64
    }

    fn discard_read_ahead(&mut self) {
        self.read_buf.clear();
        self.read_pos = 0;
    }

    fn fill(&mut self) -> io::Result<usize> {
        self.discard_read_ahead();
        self.read_buf.resize(CHUNK, 0);
        let n = self.file.read(&mut self.read_buf);
        self.read_buf.truncate(*n.as_ref().unwrap_or(&0));
        n
    }

    fn flush(&mut self) -> io::Result<()> {
        let written = self.file.write_all(&self.write_buf);
        self.write_buf.clear();
        written.and_then(|()| self.file.flush())
    }

    /// Seeks to where the reader is, dropping the read-ahead.
    fn rewind(&mut self) -> io::Result<u64> {
        let back = self.unread();
        self.discard_read_ahead();
        self.file.seek(SeekFrom::Current(-back))
    }

    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.flush()?;
        let pos = match pos {
            SeekFrom::Current(n) => SeekFrom::Current(n - self.unread()),
            other => other,
        };
        self.discard_read_ahead();
        self.file.seek(pos)
    }
}

impl File {
    /// Opens a file for reading.
    ///
    /// # Errors
    ///
    /// The errors of `std::fs::File::open` (e.g. `NotFound`, `PermissionDenied`).
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        Ok(File::from_std(
            unblock(move || std::fs::File::open(path)).await?,
        ))
    }

    /// Creates (or truncates) a file for writing.
    ///
    /// # Errors
    ///
    /// The errors of `std::fs::File::create`.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        Ok(File::from_std(
            unblock(move || std::fs::File::create(path)).await?,
        ))
    }

    /// Opens a file with the given options (append, read and write, create new, ...).
    ///
    /// # Errors
    ///
    /// The errors of `OpenOptions::open`.
    pub async fn open_with(options: &OpenOptions, path: impl AsRef<Path>) -> io::Result<File> {
        let (options, path): (OpenOptions, PathBuf) = (options.clone(), path.as_ref().to_owned());
        Ok(File::from_std(unblock(move || options.open(path)).await?))
    }

    /// Wraps an open std file.
    pub fn from_std(file: std::fs::File) -> File {
        File {
            state: State::Idle(Some(Box::new(Inner {
                file,
                read_buf: Vec::new(),
                read_pos: 0,
                write_buf: Vec::new(),
            }))),
        }
    }

    /// The file's metadata. Buffered writes are flushed first.
    ///
    /// # Errors
    ///
    /// The errors of flushing or of `std::fs::File::metadata`.
    pub async fn metadata(&mut self) -> io::Result<Metadata> {
        self.run(|inner| inner.flush().and_then(|()| inner.file.metadata()))
            .await
    }

    /// Flushes buffered writes and waits until the data and metadata reach the disk.
    ///
    /// # Errors
    ///
    /// The errors of flushing or of `std::fs::File::sync_all`.
    pub async fn sync_all(&mut self) -> io::Result<()> {
        self.run(|inner| inner.flush().and_then(|()| inner.file.sync_all()))
            .await
    }

    /// Truncates or extends the file to `size` bytes. Buffered writes are flushed first.
    ///
    /// # Errors
    ///
    /// The errors of flushing or of `std::fs::File::set_len`.
    pub async fn set_len(&mut self, size: u64) -> io::Result<()> {
        self.run(move |inner| inner.flush().and_then(|()| inner.file.set_len(size)))
            .await
    }

    /// Runs `op` on the std file on the pool, once any operation in progress has finished.
    async fn run<T: Send + 'static>(
        &mut self,
        op: impl FnOnce(&mut Inner) -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        std::future::poll_fn(|cx| self.poll_idle(cx).map(|r| r.map(drop))).await?;
        let mut inner = self.take_idle()?;
        let (inner, result) = unblock(move || {
            let result = op(&mut inner);
            Ok((inner, result))
        })
        .await?;
        self.state = State::Idle(Some(inner));
        result
    }

    /// Waits for the operation in progress, if any; returns its outcome.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Outcome>>> {
        let State::Busy(handle) = &mut self.state else {
            return Poll::Ready(Ok(None));
        };
        let done = ready!(Pin::new(handle).poll(cx));
        Poll::Ready(match done {
            Ok((inner, outcome)) => {
                self.state = State::Idle(Some(inner));
                Ok(Some(outcome))
            }
            Err(e) => {
                self.state = State::Idle(None);
                Err(io::Error::other(e))
            }
        })
    }

    /// The std file, when idle.
    fn take_idle(&mut self) -> io::Result<Box<Inner>> {
        match &mut self.state {
            State::Idle(inner) => inner.take().ok_or_else(lost),
            State::Busy(_) => unreachable!("take_idle while an operation is in progress"),
        }
    }

    /// The std file, when idle, without taking it.
    fn idle(&mut self) -> io::Result<&mut Inner> {
        match &mut self.state {
            State::Idle(Some(inner)) => Ok(inner),
            State::Idle(None) => Err(lost()),
            State::Busy(_) => unreachable!("idle while an operation is in progress"),
        }
    }

    /// Starts `op` on the pool.
    fn start(&mut self, op: impl FnOnce(&mut Inner) -> Outcome + Send + 'static) -> io::Result<()> {
        let mut inner = self.take_idle()?;
        self.state = State::Busy(crate::blocking::io_job(move || {
            let outcome = op(&mut inner);
            (inner, outcome)
        }));
        Ok(())
    }
}

/// The error of a file whose state was lost with a failed pool job.
fn lost() -> io::Error {
    io::Error::other(
        "this evloop::fs::File is unusable: a background operation on it failed (its job \
         panicked or the event loop's pool shut down)",
    )
}

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match ready!(this.poll_idle(cx))? {
                Some(Outcome::Filled(Ok(0))) => return Poll::Ready(Ok(0)),
                Some(outcome) => {
                    if let Some(e) = outcome.error() {
                        return Poll::Ready(Err(e));
                    }
                }
                None => {}
            }
            let inner = this.idle()?;
            if !inner.write_buf.is_empty() {
                this.start(|inner| Outcome::Flushed(inner.flush()))?;
            } else if inner.read_pos < inner.read_buf.len() {
                let unread = &inner.read_buf[inner.read_pos..];
                let n = unread.len().min(buf.len());
                buf[..n].copy_from_slice(&unread[..n]);
                inner.read_pos += n;
                return Poll::Ready(Ok(n));
            } else if buf.is_empty() {
                return Poll::Ready(Ok(0));
            } else {
                this.start(|inner| Outcome::Filled(inner.fill()))?;
            }
        }
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if let Some(e) = ready!(this.poll_idle(cx))?.and_then(Outcome::error) {
                return Poll::Ready(Err(e));
            }
            let inner = this.idle()?;
            if inner.read_pos < inner.read_buf.len() {
                // Write where the reader is, not after the read-ahead.
                this.start(|inner| Outcome::Rewound(inner.rewind()))?;
            } else if inner.write_buf.len() >= CHUNK {
                this.start(|inner| Outcome::Flushed(inner.flush()))?;
            } else {
                inner.discard_read_ahead();
                let n = buf.len().min(CHUNK - inner.write_buf.len());
                inner.write_buf.extend_from_slice(&buf[..n]);
                return Poll::Ready(Ok(n));
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if let Some(e) = ready!(this.poll_idle(cx))?.and_then(Outcome::error) {
                return Poll::Ready(Err(e));
            }
            if this.idle()?.write_buf.is_empty() {
                return Poll::Ready(Ok(()));
            }
            this.start(|inner| Outcome::Flushed(inner.flush()))?;
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl AsyncSeek for File {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        // An operation in progress when the seek began finishes first; a `Sought` outcome can
        // only come from the seek this call starts.
        loop {
            match ready!(this.poll_idle(cx))? {
                Some(Outcome::Sought(result)) => return Poll::Ready(result),
                Some(outcome) => {
                    if let Some(e) = outcome.error() {
                        return Poll::Ready(Err(e));
                    }
                }
                None => {}
            }
            this.start(move |inner| Outcome::Sought(inner.seek(pos)))?;
        }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // Hand buffered writes to the pool rather than lose them. Outside a loop (the runtime
        // is gone) they are written here, as std's `BufWriter` does on drop.
        if let State::Idle(Some(inner)) = &mut self.state {
            if !inner.write_buf.is_empty() {
                let mut inner = self.take_idle().expect("checked above");
                if crate::scheduler::context::in_loop() {
                    drop(crate::blocking::io_job(move || inner.flush()));
                } else {
                    let _ = inner.flush();
                }
            }
        }
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Idle(Some(inner)) => format!("{:?}", inner.file),
            State::Idle(None) => "lost".to_owned(),
            State::Busy(_) => "busy".to_owned(),
        };
        f.debug_struct("File").field("state", &state).finish()
    }
}

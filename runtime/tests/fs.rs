//! `evloop::fs`: file operations on the loop's I/O pool, and `File` through the futures-io traits.

use std::io::{ErrorKind, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use evloop::fs::{self, File};
use futures_lite::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// A fresh directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("evloop-fs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn whole_file_helpers_round_trip() {
    let dir = TempDir::new("helpers");
    let base = dir.0.clone();
    evloop::run(async move {
        let nested = base.join("a/b");
        fs::create_dir_all(&nested).await.unwrap();
        fs::write(nested.join("one.txt"), "first").await.unwrap();
        fs::write(nested.join("two.bin"), [0u8, 1, 2, 255])
            .await
            .unwrap();
        assert_eq!(
            fs::read_to_string(nested.join("one.txt")).await.unwrap(),
            "first"
        );
        assert_eq!(
            fs::read(nested.join("two.bin")).await.unwrap(),
            [0, 1, 2, 255]
        );
        assert_eq!(fs::metadata(nested.join("two.bin")).await.unwrap().len(), 4);
        let mut names: Vec<_> = fs::read_dir(&nested)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["one.txt", "two.bin"]);
        fs::rename(nested.join("one.txt"), nested.join("uno.txt"))
            .await
            .unwrap();
        fs::remove_file(nested.join("uno.txt")).await.unwrap();
        let err = fs::read(nested.join("uno.txt")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let err = fs::read_to_string(nested.join("two.bin"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
    });
}

#[test]
fn a_large_file_streams_through_async_read_and_write() {
    let dir = TempDir::new("large");
    let path = dir.0.join("large.bin");
    evloop::run(async move {
        let data: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
        let mut file = File::create(&path).await.unwrap();
        // Odd-sized writes cross the 64 KiB write buffer boundaries.
        for chunk in data.chunks(10_007) {
            file.write_all(chunk).await.unwrap();
        }
        file.close().await.unwrap();
        assert_eq!(fs::metadata(&path).await.unwrap().len(), data.len() as u64);

        let mut back = Vec::new();
        File::open(&path)
            .await
            .unwrap()
            .read_to_end(&mut back)
            .await
            .unwrap();
        assert!(back == data, "the file reads back as written");
    });
}

#[test]
fn seeks_reads_and_writes_see_one_consistent_position() {
    let dir = TempDir::new("seek");
    let path = dir.0.join("seek.txt");
    evloop::run(async move {
        fs::write(&path, "abcdefghij").await.unwrap();
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true);
        let mut file = File::open_with(&options, &path).await.unwrap();

        let mut two = [0u8; 2];
        file.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ab");
        // The reader is at 2 even though the file was read ahead.
        assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 2);
        // A write goes where the reader is.
        file.write_all(b"XY").await.unwrap();
        file.flush().await.unwrap();
        assert_eq!(fs::read_to_string(&path).await.unwrap(), "abXYefghij");

        assert_eq!(file.seek(SeekFrom::End(-3)).await.unwrap(), 7);
        let mut rest = String::new();
        file.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "hij");

        // Buffered writes are flushed before a seek moves away from them.
        file.seek(SeekFrom::Start(0)).await.unwrap();
        file.write_all(b"012").await.unwrap();
        file.seek(SeekFrom::Start(8)).await.unwrap();
        let mut two = [0u8; 2];
        file.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ij");
        assert_eq!(fs::read_to_string(&path).await.unwrap(), "012Yefghij");
        assert_eq!(file.metadata().await.unwrap().len(), 10);
        file.set_len(4).await.unwrap();
        file.sync_all().await.unwrap();
        assert_eq!(fs::read_to_string(&path).await.unwrap(), "012Y");
    });
}

#[test]
fn a_dropped_file_still_writes_its_buffer() {
    let dir = TempDir::new("drop");
    let path = dir.0.join("dropped.txt");
    let p = path.clone();
    evloop::run(async move {
        let mut file = File::create(&p).await.unwrap();
        file.write_all(b"not lost").await.unwrap();
        drop(file); // no flush: the pool writes the buffer in the background
    });
    // `run` waits for the default pool's submitted jobs before returning.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not lost");
}

#[test]
fn a_blocking_open_does_not_block_the_loop() {
    let dir = TempDir::new("fifo");
    let fifo = dir.0.join("pipe");
    // `mkfifo` is a POSIX command: every supported system has it.
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo failed");
    let writer_path = fifo.clone();
    let (ticks, contents) = evloop::run(async move {
        // Opening a FIFO for reading blocks until a writer opens it: on the loop thread this
        // would freeze every task.
        let reader = evloop::spawn(fs::read_to_string(fifo));
        let ticker = evloop::spawn(async {
            let mut ticks = 0;
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(200) {
                evloop::sleep(Duration::from_millis(5)).await;
                ticks += 1;
            }
            ticks
        });
        let ticks = ticker.await.unwrap();
        std::thread::spawn(move || std::fs::write(writer_path, "through the pipe").unwrap());
        (ticks, reader.await.unwrap().unwrap())
    });
    assert!(ticks >= 10, "the loop kept running: {ticks} ticks");
    assert_eq!(contents, "through the pipe");
}

#[test]
fn an_error_of_an_abandoned_operation_is_reported_by_the_next_one() {
    let dir = TempDir::new("lost-error");
    let path = dir.0.clone();
    evloop::run(async move {
        // Opening a directory succeeds; reading it fails with EISDIR.
        let mut file = File::open(&path).await.unwrap();
        let mut buf = [0u8; 8];
        // Start a read-ahead on the pool, then give up on the read before it ends.
        assert!(futures_lite::future::poll_once(file.read(&mut buf))
            .await
            .is_none());
        let err = file.flush().await.unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(rustix::io::Errno::ISDIR.raw_os_error())
        );
        // The file stays usable, and the error does not come back twice.
        file.flush().await.unwrap();
    });
}

/// The default pool's threads all held by `to_thread` jobs that wait for a gate: a file read
/// and a host-name lookup still complete (they run on the loop's I/O pool), and only then is
/// the gate opened.
#[test]
fn fs_calls_do_not_wait_behind_to_thread_jobs() {
    use std::sync::{Arc, Condvar, Mutex};
    let dir = TempDir::new("behind-jobs");
    let path = dir.0.join("small");
    std::fs::write(&path, b"abc").unwrap();
    evloop::run(async move {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        // More jobs than the default pool has threads (at most 32), so every thread is taken.
        let jobs: Vec<_> = (0..40)
            .map(|_| {
                let gate = gate.clone();
                evloop::to_thread(move || {
                    let (open, opened) = &*gate;
                    let mut open = open.lock().unwrap();
                    while !*open {
                        open = opened.wait(open).unwrap();
                    }
                })
            })
            .collect();
        let read = evloop::timeout(Duration::from_secs(30), fs::read(&path)).await;
        let lookup = evloop::timeout(
            Duration::from_secs(30),
            evloop::net::resolve("localhost:80"),
        )
        .await;
        // Open the gate before asserting, so that a failure does not leave the jobs waiting.
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        for job in jobs {
            job.await.unwrap();
        }
        let read = read.expect(
            "fs::read did not complete within 30 s while to_thread jobs held every default-pool \
             thread: it waited behind them",
        );
        assert_eq!(read.unwrap(), b"abc");
        let lookup = lookup.expect(
            "resolve did not complete within 30 s while to_thread jobs held every \
             default-pool thread: it waited behind them",
        );
        assert!(!lookup.unwrap().is_empty(), "localhost resolves");
    });
}

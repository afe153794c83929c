//! The access log writer: one control thread takes the cores' batches
//! (`dataplane/access_log.rs`), appends them to their destination (a file opened for append,
//! created if missing, or standard output) and sends each emptied batch back to its core.
//! Woken by the cores (every few full batches, and on their ticks), it takes every batch
//! queued and appends each destination's in `writev`s that end at `ALIGN` (64 KiB) offsets
//! of the file: the page cache then holds each 64 KiB between two such offsets in one folio,
//! where writes ending anywhere left it split into many small ones; and no write is larger,
//! so none asks for bigger folios (which cost several times more per byte on the benchmark
//! VM). See `write_aligned`; stdout and stderr get pieces of at most 64 KiB.
//! Behind a regular file's end, the writer starts the kernel's write-back of each MiB once
//! written (`sync_file_range`) and drops the pages `KEEP` behind the end from the page cache
//! (`posix_fadvise` `DONTNEED`): nothing reads a log back, so it does not fill the page cache
//! (only its last few MiB stay), and the next pages the log takes are mostly ones it freed, not
//! fresh memory (on the benchmark VM, whose free memory goes back to its host, the first
//! write to fresh memory costs a host fault: appending 64 KiB writes took 1.5-2.8 times the
//! CPU per MiB without this).
//! See `Behind`.
//! SIGUSR1 (`reopen`) closes every file, so the next batch opens the path again: rename the
//! file, send SIGUSR1, and new lines go to a new file (log rotation).
//!
//! A destination that blocks (a FIFO nobody reads, a stalled disk) blocks only this thread:
//! the cores' batches run out and they drop lines and count them.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, IoSlice, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::log::log;
use crate::config::LogDestination;
use crate::dataplane::Shared;
use crate::dataplane::access_log::{LogBatch, MAX_BATCHES};
use crate::dataplane::handover::{Nothing, Taker};

/// File writes end at multiples of this offset (`write_aligned`).
const ALIGN: u64 = 64 * 1024;

/// Write-back is started a MiB at a time (`Behind`).
const CHUNK: u64 = 1 << 20;

/// A file's pages more than this far behind its end are dropped from the page cache.
const KEEP: u64 = 8 << 20;

/// How often an idle writer looks at the reopen flag.
const IDLE_CHECK: Duration = Duration::from_millis(200);

#[derive(Default)]
pub struct LogWriter {
    reopen: AtomicBool,
}

impl LogWriter {
    /// Start the writer on the cores' hand-over channel (once per process).
    pub fn spawn(shared: &Arc<Shared>) -> Arc<LogWriter> {
        let writer = Arc::new(LogWriter::default());
        if let Some(rx) = shared.take_access_logs() {
            let w = writer.clone();
            let shared = shared.clone();
            let spawned = std::thread::Builder::new()
                .name("tollgate-access-log".into())
                .spawn(move || w.run(rx, &shared));
            if let Err(e) = spawned {
                log(format!("access log: cannot start the writer: {e}"));
            }
        }
        writer
    }

    /// Close every file; the next line for each opens its path again (SIGUSR1).
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Release);
    }

    fn run(&self, rx: Taker<Box<LogBatch>>, shared: &Shared) {
        // Room for every batch of every core: the writer does not allocate in steady state.
        let most = MAX_BATCHES * shared.log_dropped.len().max(1);
        let mut out = Output {
            slices: Vec::with_capacity(most),
            ..Output::default()
        };
        #[allow(clippy::vec_box)]
        let mut queued: Vec<Box<LogBatch>> = Vec::with_capacity(most);
        loop {
            let next = rx.recv_timeout(IDLE_CHECK);
            if self.reopen.swap(false, Ordering::AcqRel) {
                out.files.clear();
                out.failing.clear();
            }
            match next {
                Ok(b) => queued.push(b),
                Err(Nothing::Timeout) => continue,
                Err(Nothing::Disconnected) => return,
            }
            // Everything else already queued too: one write per destination for all of it.
            queued.extend(rx.try_iter());
            let mut lost = 0;
            let mut rest = &mut queued[..];
            while let Some(first) = rest.first() {
                // The batches for `first`'s destination to the front, in the order they came
                // (each core's lines stay in order).
                let dest = first.destination.clone();
                let mut n = 1;
                for i in 1..rest.len() {
                    let same = &rest[i].destination;
                    if Arc::ptr_eq(same, &dest) || **same == *dest {
                        rest[n..=i].rotate_right(1);
                        n += 1;
                    }
                }
                let (group, others) = rest.split_at_mut(n);
                lost += out.write(&dest, group);
                rest = others;
            }
            if lost > 0
                && let Some(c) = shared.log_dropped.first()
            {
                c.0.fetch_add(lost, Ordering::Relaxed);
            }
            for mut batch in queued.drain(..) {
                batch.lines.clear();
                let home = batch.home.clone();
                let _ = home.try_send(batch);
            }
        }
    }
}

/// The writer's open files, and the destinations whose last open or write failed (reported
/// once until it works).
#[derive(Default)]
struct Output {
    files: HashMap<LogDestination, (File, Behind)>,
    failing: HashMap<LogDestination, String>,
    /// The `writev` list, kept between writes (empty).
    slices: Vec<IoSlice<'static>>,
}

/// Append `batches` to `file` in `writev`s that each end at the next `ALIGN` boundary of the
/// file (the last: where the bytes end), `slices` being the reused list; on failure, the
/// bytes written before it.
fn write_aligned<'a>(
    file: &mut (impl Write + Seek),
    batches: &'a [Box<LogBatch>],
    slices: &mut Vec<IoSlice<'a>>,
) -> Result<u64, (usize, std::io::Error)> {
    // Opened for append: the end is where the next write goes (0 if it cannot be read: the
    // pieces are then merely not aligned).
    let at = file.seek(SeekFrom::End(0)).unwrap_or(0);
    write_pieces(file, at, batches, slices)
}

/// `write_aligned` from offset `at` (0 for stdout and stderr, whose offset is not ours to
/// know: pieces of at most `ALIGN` bytes, so a redirection to a file gets no large folios);
/// returns the offset after the last byte.
fn write_pieces<'a>(
    file: &mut impl Write,
    mut at: u64,
    batches: &'a [Box<LogBatch>],
    slices: &mut Vec<IoSlice<'a>>,
) -> Result<u64, (usize, std::io::Error)> {
    let mut written = 0;
    let (mut batch, mut offset) = (0, 0);
    loop {
        slices.clear();
        let mut room = (ALIGN - at % ALIGN) as usize;
        let mut len = 0;
        while room > 0 && batch < batches.len() {
            let rest = &batches[batch].lines[offset..];
            let take = rest.len().min(room);
            if take > 0 {
                slices.push(IoSlice::new(&rest[..take]));
            }
            (room, len, offset) = (room - take, len + take, offset + take);
            if offset == batches[batch].lines.len() {
                (batch, offset) = (batch + 1, 0);
            }
        }
        if len == 0 {
            return Ok(at);
        }
        write_all_vectored(file, slices).map_err(|(n, e)| (written + n, e))?;
        written += len;
        at += len as u64;
    }
}

impl Output {
    /// Append the batches' lines to `dest` (a file: `write_aligned`; stdout, stderr:
    /// `write_pieces`); returns the lines lost to a failure.
    fn write(&mut self, dest: &LogDestination, batches: &[Box<LogBatch>]) -> usize {
        let mut slices = recycle(std::mem::take(&mut self.slices));
        let result = match dest {
            LogDestination::Stdout => {
                write_pieces(&mut std::io::stdout().lock(), 0, batches, &mut slices).map(drop)
            }
            LogDestination::Stderr => {
                write_pieces(&mut std::io::stderr().lock(), 0, batches, &mut slices).map(drop)
            }
            LogDestination::Spans => Ok(()),
            LogDestination::File(path) => {
                if !self.files.contains_key(dest) {
                    match OpenOptions::new().create(true).append(true).open(path) {
                        Ok(f) => {
                            let behind = Behind::new(&f);
                            self.files.insert(dest.clone(), (f, behind));
                        }
                        Err(e) => {
                            let message = format!("cannot open {}: {e}", path.display());
                            report(&mut self.failing, dest, message);
                        }
                    }
                }
                match self.files.get_mut(dest) {
                    Some((f, behind)) => {
                        write_aligned(f, batches, &mut slices).map(|end| behind.advance(f, end))
                    }
                    None => Err((0, std::io::Error::other("not open"))),
                }
            }
        };
        self.slices = recycle(slices);
        match result {
            Ok(()) => {
                self.failing.remove(dest);
                0
            }
            Err((written, e)) => {
                if self.files.remove(dest).is_some() {
                    report(&mut self.failing, dest, format!("write failed: {e}"));
                }
                unwritten_lines(batches, written)
            }
        }
    }
}

/// How far behind a regular file's end the writer has started write-back and dropped pages
/// (offsets, multiples of `CHUNK`). Both calls only advise the kernel: one that fails, or
/// a page still dirty or being written when it is dropped (it stays cached), loses nothing.
#[derive(Debug, PartialEq)]
struct Behind {
    /// Write-back was started for everything before this offset.
    started: u64,
    /// Pages before this offset were dropped.
    dropped: u64,
    /// False for anything but a regular file (a FIFO, a device), or once a call failed.
    on: bool,
}

impl Behind {
    /// From the file's end as opened (the file's older pages are not the writer's to drop).
    fn new(file: &File) -> Behind {
        let regular = file.metadata().ok().filter(|m| m.file_type().is_file());
        let end = regular.as_ref().map_or(0, |m| m.len());
        let at = end - end % CHUNK;
        Behind {
            started: at,
            dropped: at,
            on: regular.is_some(),
        }
    }

    /// The file now ends at `end`: start write-back of each whole `CHUNK` before it, and drop
    /// the chunks more than `KEEP` behind the last started.
    fn advance(&mut self, file: &File, end: u64) {
        use std::os::fd::AsRawFd;
        if !self.on {
            return;
        }
        if end < self.started {
            // Truncated (copytruncate rotation): start again from the new end.
            *self = Behind {
                started: end - end % CHUNK,
                dropped: end - end % CHUNK,
                on: true,
            };
        }
        let fd = file.as_raw_fd();
        while self.started + CHUNK <= end {
            if !start_writeback(fd, self.started) {
                self.on = false;
                return;
            }
            self.started += CHUNK;
        }
        while self.dropped + CHUNK + KEEP <= self.started {
            if !drop_pages(fd, self.dropped) {
                self.on = false;
                return;
            }
            self.dropped += CHUNK;
        }
    }
}

/// Start write-back of the `CHUNK` at `at` of `fd` (`sync_file_range`, not waiting).
#[allow(unsafe_code)]
fn start_writeback(fd: std::os::fd::RawFd, at: u64) -> bool {
    let (at, len) = (at as libc::off64_t, CHUNK as libc::off64_t);
    // SAFETY: a plain system call on an open descriptor; no memory is passed.
    unsafe { libc::sync_file_range(fd, at, len, libc::SYNC_FILE_RANGE_WRITE) == 0 }
}

/// Drop the clean pages of the `CHUNK` at `at` of `fd` from the page cache.
#[allow(unsafe_code)]
fn drop_pages(fd: std::os::fd::RawFd, at: u64) -> bool {
    let (at, len) = (at as libc::off_t, CHUNK as libc::off_t);
    // SAFETY: as `start_writeback`.
    unsafe { libc::posix_fadvise(fd, at, len, libc::POSIX_FADV_DONTNEED) == 0 }
}

/// `slices` emptied, its buffer kept for slices of another lifetime (collected in place: no
/// allocation).
fn recycle<'a>(mut slices: Vec<IoSlice<'_>>) -> Vec<IoSlice<'a>> {
    slices.clear();
    slices.into_iter().map(|_| IoSlice::new(&[])).collect()
}

/// Write every byte of `bufs` (writev, again after a partial write) and flush; on failure,
/// the bytes written before it.
fn write_all_vectored(
    w: &mut impl Write,
    mut bufs: &mut [IoSlice<'_>],
) -> Result<(), (usize, std::io::Error)> {
    let mut written = 0;
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match w.write_vectored(bufs) {
            Ok(0) => return Err((written, ErrorKind::WriteZero.into())),
            Ok(n) => {
                written += n;
                IoSlice::advance_slices(&mut bufs, n);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err((written, e)),
        }
    }
    w.flush().map_err(|e| (written, e))
}

/// Lines of `batches` not (wholly) among their first `written` bytes.
fn unwritten_lines(batches: &[Box<LogBatch>], mut written: usize) -> usize {
    let mut lost = 0;
    for b in batches {
        let skip = written.min(b.lines.len());
        written -= skip;
        lost += memchr::memchr_iter(b'\n', &b.lines[skip..]).count();
    }
    lost
}

fn report(failing: &mut HashMap<LogDestination, String>, dest: &LogDestination, message: String) {
    if failing.get(dest) != Some(&message) {
        log(format!(
            "access log: {message}; lines for it are lost until it works"
        ));
        failing.insert(dest.clone(), message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes at most 5 bytes a call, and is interrupted every other call.
    #[derive(Default)]
    struct Trickle {
        got: Vec<u8>,
        calls: usize,
        fail_after: Option<usize>,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(2) {
                return Err(ErrorKind::Interrupted.into());
            }
            if self.fail_after.is_some_and(|n| self.got.len() >= n) {
                return Err(std::io::Error::other("disk full"));
            }
            let n = buf.len().min(5);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn recycled_slices_keep_their_buffer() {
        let data = [b'x'; 4];
        let mut slices = Vec::with_capacity(16);
        slices.push(IoSlice::new(&data));
        let at = slices.as_ptr() as usize;
        let kept: Vec<IoSlice<'static>> = recycle(slices);
        assert_eq!((kept.len(), kept.capacity()), (0, 16));
        assert_eq!(kept.as_ptr() as usize, at);
    }

    #[test]
    fn partial_writes_continue_where_they_stopped() {
        let parts: [&[u8]; 4] = [b"one\ntwo\n", b"", b"three\n", b"four\nfive\n"];
        let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let mut w = Trickle::default();
        assert!(write_all_vectored(&mut w, &mut slices).is_ok());
        assert_eq!(w.got, b"one\ntwo\nthree\nfour\nfive\n");
    }

    /// A file that records where each `writev` began and how long it was.
    #[derive(Default)]
    struct Recorder {
        got: Vec<u8>,
        writes: Vec<(usize, usize)>,
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> std::io::Result<usize> {
            let at = self.got.len();
            bufs.iter().for_each(|b| self.got.extend_from_slice(b));
            self.writes.push((at, self.got.len() - at));
            Ok(self.got.len() - at)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Seek for Recorder {
        fn seek(&mut self, _: SeekFrom) -> std::io::Result<u64> {
            Ok(self.got.len() as u64)
        }
    }

    #[test]
    fn file_writes_end_at_aligned_offsets() {
        let (home, _back) = std::sync::mpsc::sync_channel(1);
        let batch = |n: usize, byte: u8| {
            Box::new(LogBatch {
                destination: Arc::new(LogDestination::Stdout),
                lines: vec![byte; n],
                home: home.clone(),
            })
        };
        let batches = [
            batch(70_000, b'a'),
            batch(0, b'b'),
            batch(10, b'c'),
            batch(150_000, b'd'),
        ];
        let mut file = Recorder {
            got: vec![b'-'; 1000],
            ..Recorder::default()
        };
        let mut slices = Vec::new();
        assert!(write_aligned(&mut file, &batches, &mut slices).is_ok());
        let mut expected = vec![b'-'; 1000];
        batches
            .iter()
            .for_each(|b| expected.extend_from_slice(&b.lines));
        assert!(file.got == expected, "the bytes, in order");
        let align = ALIGN as usize;
        let (last, rest) = file.writes.split_last().unwrap();
        assert_eq!(rest[0], (1000, align - 1000));
        for &(at, len) in rest {
            assert!(
                len <= align && (at + len).is_multiple_of(align),
                "{at} + {len}"
            );
        }
        assert_eq!(last.0 + last.1, expected.len());
        assert_eq!(file.writes.len(), expected.len().div_ceil(align));
        // Stdout, stderr: from offset 0, pieces of at most ALIGN.
        let mut out = Recorder::default();
        assert!(write_pieces(&mut out, 0, &batches, &mut slices).is_ok());
        assert!(out.got == expected[1000..], "the bytes, in order");
        assert!(out.writes.iter().all(|&(_, len)| len <= align));
        assert_eq!(out.writes.len(), out.got.len().div_ceil(align));
    }

    /// A scratch file for one test, removed when dropped.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let path = std::env::temp_dir()
                .join(format!("tollgate-access-log-{name}-{}", std::process::id()));
            let _ = std::fs::remove_file(&path);
            Scratch(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Append `mib` MiB of 128-byte lines to `dest` through `out`, 64 KiB batches at a time,
    /// the first line numbered `from`; returns the next number.
    fn append(out: &mut Output, dest: &LogDestination, from: usize, mib: usize) -> usize {
        let (home, _back) = std::sync::mpsc::sync_channel(1);
        let mut n = from;
        for _ in 0..mib * 16 {
            let mut lines = Vec::with_capacity(64 * 1024);
            for _ in 0..512 {
                lines.extend_from_slice(format!("{n:0127}\n").as_bytes());
                n += 1;
            }
            let batch = Box::new(LogBatch {
                destination: Arc::new(dest.clone()),
                lines,
                home: home.clone(),
            });
            assert_eq!(out.write(dest, &[batch]), 0, "no line lost");
        }
        n
    }

    /// Which of `path`'s pages are in the page cache (`mincore` over a shared mapping).
    #[allow(unsafe_code)]
    fn resident(path: &std::path::Path) -> Vec<bool> {
        use std::os::fd::AsRawFd;
        let file = File::open(path).unwrap();
        let len = file.metadata().unwrap().len() as usize;
        let page = 4096;
        let mut vec = vec![0u8; len.div_ceil(page)];
        // SAFETY: a read-only shared mapping of `len` bytes of an open file, only passed to
        // mincore (which writes one byte per page into `vec`, sized for that) and unmapped.
        unsafe {
            let at = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(at, libc::MAP_FAILED);
            assert_eq!(libc::mincore(at, len, vec.as_mut_ptr()), 0);
            libc::munmap(at, len);
        }
        vec.iter().map(|v| v & 1 == 1).collect()
    }

    #[test]
    fn written_pages_behind_the_end_leave_the_page_cache() {
        let scratch = Scratch::new("behind");
        let dest = LogDestination::File(scratch.0.clone());
        let mut out = Output::default();
        let n = append(&mut out, &dest, 0, 16);
        // The first 16 MiB are now on disk, so clean: those the writer drops while it writes
        // the next 16 must leave the page cache (a dirty page would stay, by design).
        File::open(&scratch.0).unwrap().sync_data().unwrap();
        let n = append(&mut out, &dest, n, 16);
        let mib = (CHUNK / 4096) as usize;
        let pages = resident(&scratch.0);
        assert_eq!(pages.len(), 32 * mib);
        let kept = pages[8 * mib..16 * mib].iter().filter(|r| **r).count();
        assert_eq!(kept, 0, "pages of MiB 8-16 still cached");
        // Nothing is lost or reordered.
        let text = std::fs::read(&scratch.0).unwrap();
        assert_eq!(text.len(), n * 128);
        for (i, line) in text.chunks(128).enumerate() {
            assert_eq!(line, format!("{i:0127}\n").as_bytes());
        }
    }

    #[test]
    fn dropping_behind_starts_again_after_a_truncation_and_skips_what_is_not_a_file() {
        let scratch = Scratch::new("truncated");
        let dest = LogDestination::File(scratch.0.clone());
        let mut out = Output::default();
        append(&mut out, &dest, 0, 3);
        let behind = |out: &Output| {
            let (_, b) = &out.files[&dest];
            (b.started, b.dropped, b.on)
        };
        assert_eq!(behind(&out), (3 * CHUNK, 0, true));
        // copytruncate: the file is emptied under the writer (opened for append, it writes
        // at the new end).
        std::fs::OpenOptions::new()
            .write(true)
            .open(&scratch.0)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&mut out, &dest, 0, 2);
        assert_eq!(behind(&out), (2 * CHUNK, 0, true));
        assert_eq!(std::fs::metadata(&scratch.0).unwrap().len(), 2 * CHUNK);
        // A file opened with 1.5 MiB in it: its own pages are not dropped; start at 1 MiB.
        out.files.clear();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&scratch.0)
            .unwrap()
            .set_len(CHUNK + CHUNK / 2)
            .unwrap();
        append(&mut out, &dest, 0, 1);
        assert_eq!(behind(&out), (2 * CHUNK, CHUNK, true));
        // Not a regular file: nothing is asked of the kernel.
        let null = File::options().write(true).open("/dev/null").unwrap();
        assert!(!Behind::new(&null).on);
    }

    #[test]
    fn a_failed_write_counts_the_lines_not_written() {
        let (home, _back) = std::sync::mpsc::sync_channel(1);
        let batch = |lines: &[u8]| {
            Box::new(LogBatch {
                destination: Arc::new(LogDestination::Stdout),
                lines: lines.to_vec(),
                home: home.clone(),
            })
        };
        let batches = [batch(b"one\ntwo\n"), batch(b"three\nfour\n")];
        let mut slices: Vec<IoSlice<'_>> = batches.iter().map(|b| IoSlice::new(&b.lines)).collect();
        let mut w = Trickle {
            fail_after: Some(10),
            ..Trickle::default()
        };
        let Err((written, _)) = write_all_vectored(&mut w, &mut slices) else {
            panic!("the write failed");
        };
        // "one\ntwo\nthree" went out, without the newline of "three": two lines are lost.
        assert_eq!(written, 13);
        assert_eq!(unwritten_lines(&batches, written), 2);
        assert_eq!(unwritten_lines(&batches, 0), 4);
        assert_eq!(unwritten_lines(&batches, 4), 3);
    }
}

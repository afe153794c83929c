//! The access log writer: one control thread takes the cores' batches
//! (`dataplane/access_log.rs`), appends them to their destination (a file opened for append,
//! created if missing, or standard output) and sends each emptied batch back to its core.
//! Woken by the cores (every few full batches, and on their ticks), it takes every batch
//! queued and appends each destination's in `writev`s that end at `ALIGN` (64 KiB) offsets
//! of the file: the page cache then holds each 64 KiB between two such offsets in one folio,
//! where writes ending anywhere left it split into many small ones; and no write is larger,
//! so none asks for bigger folios (which cost several times more per byte on the benchmark
//! VM). See `write_aligned`; stdout and stderr get pieces of at most 64 KiB.
//!
//! Behind a regular file's end, the writer starts the kernel's write-back of each MiB once
//! written (`sync_file_range`) and drops the pages `KEEP` behind the end from the page cache
//! (`posix_fadvise` `DONTNEED`): nothing reads a log back, so it does not fill the page cache
//! (only its last few MiB stay), and the next pages the log takes are mostly ones it freed,
//! not fresh memory (on the benchmark VM, whose free memory goes back to its host, the first
//! write to fresh memory costs a host fault: appending 64 KiB writes took 1.5-2.9 times the
//! CPU per MiB without this). See `Behind`.
//!
//! SIGUSR1 (`reopen`) closes every file, so the next batch opens the path again: rename the
//! file, send SIGUSR1, and new lines go to a new file (log rotation).
//!
//! A destination that blocks (a FIFO nobody reads, a stalled disk; starting write-back, too,
//! once the device's queue is full) blocks only this thread: the cores' batches run out and
//! they drop lines and count them.

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
#[derive(Debug)]
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
        Behind::from_end(regular.as_ref().map_or(0, |m| m.len()), regular.is_some())
    }

    /// Nothing started or dropped yet before the `CHUNK` that holds `end`.
    fn from_end(end: u64, on: bool) -> Behind {
        let at = end - end % CHUNK;
        Behind {
            started: at,
            dropped: at,
            on,
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
            *self = Behind::from_end(end, true);
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
mod tests;

//! Dropping a log file's pages behind its end, off the writer's thread.
//!
//! Behind a regular file's end, write-back of each MiB written is started
//! (`sync_file_range`) and the pages `KEEP` behind the end are dropped from the page cache
//! (`posix_fadvise` `DONTNEED`): nothing reads a log back, so it does not fill the page cache
//! (only its last few MiB stay), and the next pages the log takes are mostly ones it freed,
//! not fresh memory (on the benchmark VM, whose free memory goes back to its host, the first
//! write to fresh memory costs a host fault: appending 64 KiB writes took 1.5-2.9 times the
//! CPU per MiB without this).
//!
//! Both calls can block: starting write-back once the device's queue is full, dropping
//! pages when some are still being written (the kernel then drains every CPU's page lists
//! and waits for it). So they run on a thread of their own (`spawn`), which the writer tells
//! what it wrote (the writes that reach or begin a `CHUNK`: `worth_telling`) through a
//! bounded channel without waiting: when the advice thread is behind, a message is skipped
//! (the next one covers it), and the writer never waits for the disk on its account. The
//! advice thread holds each file (an `Arc`) until the writer has closed it
//! (`Tracked::prune`).

use std::fs::File;
use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

use crate::control::log::log;

/// Write-back is started a MiB at a time (`Behind`).
pub(super) const CHUNK: u64 = 1 << 20;

/// A file's pages more than this far behind its end are dropped from the page cache.
pub(super) const KEEP: u64 = 8 << 20;

/// Messages the advice thread may be behind before the writer skips one.
const QUEUE: usize = 64;

/// How often an idle advice thread lets go of files the writer has closed.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

/// The bytes `range` of `file` were just written.
pub(super) type Written = (Arc<File>, Range<u64>);

/// Whether the advice thread needs to hear of a write of `range`: one that ends in another
/// `CHUNK` than it began, or at a chunk's end (there is write-back to start), or that begins
/// a chunk (so a file emptied under the writer, copytruncate, is seen at its first write).
/// The writer tells it of no other: two messages (and wake-ups) a MiB, not one per write.
/// Appends are contiguous, so the first write told began in the chunk where the writer's
/// first write to the file did, which is where `Behind::new` starts.
pub(super) fn worth_telling(range: &Range<u64>) -> bool {
    range.start / CHUNK != range.end / CHUNK || range.start.is_multiple_of(CHUNK)
}

/// The writer's end of the advice thread.
pub(super) struct Advisor(SyncSender<Written>);

impl Advisor {
    /// Start the advice thread (`None` if it cannot start: pages are then simply not dropped).
    pub(super) fn spawn() -> Option<Advisor> {
        let (tx, rx) = sync_channel(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("tollgate-log-advice".into())
            .spawn(move || run(&rx));
        match spawned {
            Ok(_) => Some(Advisor(tx)),
            Err(e) => {
                log(format!(
                    "access log: cannot start the page-cache advice thread: {e}"
                ));
                None
            }
        }
    }

    /// Tell the advice thread, without waiting (skipped when it is behind).
    pub(super) fn tell(&self, written: Written) {
        let _ = self.0.try_send(written);
    }
}

fn run(rx: &Receiver<Written>) {
    let mut tracked = Tracked::default();
    loop {
        match rx.recv_timeout(PRUNE_EVERY) {
            Ok((file, range)) => tracked.take(file, range),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        tracked.prune();
    }
}

/// The files the advice thread follows, each with how far it got.
#[derive(Default)]
pub(super) struct Tracked {
    pub(super) files: Vec<(Arc<File>, Behind)>,
}

impl Tracked {
    /// `range` of `file` was written: start write-back and drop pages behind its end.
    pub(super) fn take(&mut self, file: Arc<File>, range: Range<u64>) {
        let at = match self.files.iter().position(|(f, _)| Arc::ptr_eq(f, &file)) {
            Some(i) => i,
            None => {
                let behind = Behind::new(&file, range.start);
                self.files.push((file, behind));
                self.files.len() - 1
            }
        };
        let (f, behind) = &mut self.files[at];
        behind.advance(f, range.end);
    }

    /// Let go of the files the writer has closed (only this thread still holds them).
    pub(super) fn prune(&mut self) {
        self.files.retain(|(f, _)| Arc::strong_count(f) > 1);
    }
}

/// How far behind a regular file's end write-back was started and pages were dropped
/// (offsets, multiples of `CHUNK`). Both calls only advise the kernel: one that fails, or
/// a page still dirty or being written when it is dropped (it stays cached), loses nothing.
#[derive(Debug)]
pub(super) struct Behind {
    /// Write-back was started for everything before this offset.
    pub(super) started: u64,
    /// Pages before this offset were dropped.
    pub(super) dropped: u64,
    /// False for anything but a regular file (a FIFO, a device), or once a call failed.
    pub(super) on: bool,
}

impl Behind {
    /// From `from`, where the writer's first write to the file began (the file's older
    /// pages are not the writer's to drop).
    pub(super) fn new(file: &File, from: u64) -> Behind {
        let regular = file.metadata().is_ok_and(|m| m.file_type().is_file());
        Behind::from_end(from, regular)
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
    pub(super) fn advance(&mut self, file: &File, end: u64) {
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

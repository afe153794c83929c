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
//! Behind a regular file's end, the pages written are dropped from the page cache, by a
//! thread of its own the writer tells what it wrote without waiting (`behind.rs`).
//!
//! SIGUSR1 (`reopen`) closes every file, so the next batch opens the path again: rename the
//! file, send SIGUSR1, and new lines go to a new file (log rotation).
//!
//! A destination that blocks (a FIFO nobody reads, a stalled disk) blocks only this thread:
//! the cores' batches run out and they drop lines and count them.

mod behind;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, IoSlice, Seek, SeekFrom, Write};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::log::log;
use crate::config::LogDestination;
use crate::dataplane::Shared;
use crate::dataplane::access_log::{LogBatch, MAX_BATCHES};
use crate::dataplane::handover::{Nothing, Taker};
use behind::{Advisor, Written};

/// File writes end at multiples of this offset (`write_aligned`).
const ALIGN: u64 = 64 * 1024;

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
        // Started with the first file written (`behind.rs`).
        let mut advisor: Option<Option<Advisor>> = None;
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
            if !out.written.is_empty() {
                let a = advisor.get_or_insert_with(Advisor::spawn);
                for w in out.written.drain(..) {
                    if let Some(a) = a {
                        a.tell(w);
                    }
                }
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
    files: HashMap<LogDestination, Arc<File>>,
    /// What was written to files since the advice thread was last told (`behind.rs`).
    written: Vec<Written>,
    failing: HashMap<LogDestination, String>,
    /// The `writev` list, kept between writes (empty).
    slices: Vec<IoSlice<'static>>,
}

/// Append `batches` to `file` in `writev`s that each end at the next `ALIGN` boundary of the
/// file (the last: where the bytes end), `slices` being the reused list; the file's range
/// written, or on failure the bytes written before it.
fn write_aligned<'a>(
    file: &mut (impl Write + Seek),
    batches: &'a [Box<LogBatch>],
    slices: &mut Vec<IoSlice<'a>>,
) -> Result<Range<u64>, (usize, std::io::Error)> {
    // Opened for append: the end is where the next write goes (0 if it cannot be read: the
    // pieces are then merely not aligned).
    let at = file.seek(SeekFrom::End(0)).unwrap_or(0);
    write_pieces(file, at, batches, slices).map(|end| at..end)
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
                            self.files.insert(dest.clone(), Arc::new(f));
                        }
                        Err(e) => {
                            let message = format!("cannot open {}: {e}", path.display());
                            report(&mut self.failing, dest, message);
                        }
                    }
                }
                match self.files.get_mut(dest) {
                    Some(f) => write_aligned(&mut &**f, batches, &mut slices).map(|range| {
                        if behind::worth_telling(&range) {
                            self.written.push((f.clone(), range));
                        }
                    }),
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

//! One core's log batches (access and execution log lines; a second set for spans) on their
//! way to the writer thread and back.
//!
//! Never blocks and never allocates in steady state: a core's batches are shared by the
//! destinations it writes, and are made when a destination gets its first line in a snapshot
//! generation: `MIN_BATCHES`, or two per such destination (one being filled, one at the
//! writer) plus `SLACK`, at most `MAX_BATCHES`. Each batch reserves `2 × BATCH_BYTES` (128 KiB)
//! of address space, of which only what lines fill becomes resident (about `BATCH_BYTES`
//! once it has been full): at most 896 KiB resident per core for one destination, 2 MiB
//! for ten, 4 MiB at the bound. When no batch is free (the writer is behind or stuck) the line
//! is dropped and counted (`Shared::log_dropped`, metric
//! `tollgate_access_log_lines_dropped_total`). Full batches wake the writer every `WAKE_EVERY`.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use crate::config::{LogDestination, Snapshot};
use crate::dataplane::handover::Giver;

/// Bytes a batch holds before it is handed over (the writer appends what it took for a
/// destination at once); its capacity is twice that, so a line up to `BATCH_BYTES` long never
/// makes it grow.
pub const BATCH_BYTES: usize = 64 * 1024;
/// Batches a core makes at its first line: one destination's (room for the writer to fall
/// behind a little, with `WAKE_EVERY` batches queued before it is woken).
pub const MIN_BATCHES: usize = PER_DESTINATION + SLACK;
/// Batches made per destination a core writes: one being filled, one at the writer.
const PER_DESTINATION: usize = 2;
/// Batches made beyond `PER_DESTINATION` each: the ones queued before the writer is woken
/// (`WAKE_EVERY`) and 4 more.
pub(super) const SLACK: usize = WAKE_EVERY + 4;
/// Full batches a core hands over before it wakes the writer, which then takes them all at
/// once: one park and one wake-up (a futex wake on the core, a context switch) for several
/// batches, where it had one per batch. 8 rather than 4: the writer's own CPU per line fell
/// by about a fifth (each wake-up also pays for a cold thread and a short write). The ticker
/// (`hand_over_all`), a full channel and a core out of free batches wake it whatever the
/// count.
pub(super) const WAKE_EVERY: usize = 8;
/// The most batches one core owns (in use, queued for the writer, or free): the capacity of
/// its home channel and, per core, of the shared hand-over channel (`Shared::access_logs`).
pub const MAX_BATCHES: usize = 64;

/// Lines for one destination, on their way to the writer and back.
pub struct LogBatch {
    pub destination: Arc<LogDestination>,
    pub lines: Vec<u8>,
    pub home: SyncSender<Box<LogBatch>>,
}

/// Where every core hands its batches (held in `Shared`); the taker sends them back home
/// (the core only `try_recv`s from home, so neither side ever waits on a lock).
pub type BatchSender = Giver<Box<LogBatch>>;

/// One core's access log batches.
pub struct CoreLogs {
    /// The snapshot generation `open` is indexed for.
    generation: u64,
    /// The batch being filled, per destination of that snapshot.
    open: Vec<Option<Box<LogBatch>>>,
    /// Destinations of that snapshot that had a line, and how many: what the pool is sized by.
    seen: Vec<bool>,
    active: usize,
    /// Boxed: a batch travels to the writer and back by pointer.
    #[allow(clippy::vec_box)]
    free: Vec<Box<LogBatch>>,
    allocated: usize,
    home: SyncSender<Box<LogBatch>>,
    back: Receiver<Box<LogBatch>>,
    to_writer: BatchSender,
    /// Batches handed over since the writer was last woken.
    unwoken: usize,
}

impl CoreLogs {
    pub fn new(to_writer: BatchSender) -> CoreLogs {
        let (home, back) = sync_channel(MAX_BATCHES);
        CoreLogs {
            generation: 0,
            open: Vec::new(),
            seen: Vec::new(),
            active: 0,
            free: Vec::new(),
            allocated: 0,
            home,
            back,
            to_writer,
            unwoken: 0,
        }
    }

    /// Add one line for `destination` (an index into `snap.log_destinations`: a stage's
    /// `AccessLog::destination` or `Snapshot::execution_log`), rendered by `render`. Returns how many
    /// lines were dropped: 1 if this one was (no free batch: the writer is behind), more
    /// when a reload found batches the writer had not taken.
    pub fn line(
        &mut self,
        snap: &Snapshot,
        destination: u32,
        render: impl FnOnce(&mut Vec<u8>),
    ) -> usize {
        let mut dropped = 0;
        if snap.generation != self.generation {
            self.hand_over_all();
            for mut b in self.open.drain(..).flatten() {
                dropped += memchr::memchr_iter(b'\n', &b.lines).count();
                b.lines.clear();
                self.free.push(b);
            }
            self.generation = snap.generation;
            self.open.resize_with(snap.log_destinations.len(), || None);
            self.seen.clear();
            self.seen.resize(snap.log_destinations.len(), false);
            self.active = 0;
        }
        let d = destination as usize;
        if d >= self.open.len() {
            return dropped + 1;
        }
        // Full from before: the writer did not take it at the last attempt; try again.
        if self.open[d]
            .as_ref()
            .is_some_and(|b| b.lines.len() >= BATCH_BYTES)
        {
            self.hand_over(d);
        }
        if self.open[d].is_none() {
            if !self.seen[d] {
                self.seen[d] = true;
                self.active += 1;
                self.grow(snap, d);
            }
            let batch = self.free.pop().or_else(|| self.back.try_recv().ok());
            self.open[d] = match batch {
                Some(mut b) => {
                    b.destination = snap.log_destinations[d].clone();
                    Some(b)
                }
                None => {
                    // Every batch is out: the writer may be holding some it was not woken for.
                    self.wake_writer();
                    return dropped + 1;
                }
            };
        }
        let slot = &mut self.open[d];
        let Some(batch) = slot.as_mut() else {
            return dropped + 1;
        };
        if batch.lines.len() >= BATCH_BYTES {
            return dropped + 1;
        }
        render(&mut batch.lines);
        batch.lines.push(b'\n');
        if batch.lines.len() >= BATCH_BYTES {
            self.hand_over(d);
        }
        dropped
    }

    /// Make the batches `active` destinations need, all at once: one first needed later (the
    /// writer briefly behind) would allocate on the request path in steady state.
    fn grow(&mut self, snap: &Snapshot, d: usize) {
        let want = (PER_DESTINATION * self.active + SLACK).clamp(MIN_BATCHES, MAX_BATCHES);
        if self.allocated >= want {
            return;
        }
        // Room for every batch to come back, so `free` never grows on the request path.
        self.free.reserve(want.saturating_sub(self.free.len()));
        while self.allocated < want {
            self.allocated += 1;
            self.free.push(Box::new(LogBatch {
                destination: snap.log_destinations[d].clone(),
                lines: Vec::with_capacity(2 * BATCH_BYTES),
                home: self.home.clone(),
            }));
        }
    }

    /// Batches made so far.
    #[cfg(test)]
    pub(super) fn allocated(&self) -> usize {
        self.allocated
    }

    /// Hand every non-empty batch to the writer (the worker's ticker).
    pub fn hand_over_all(&mut self) {
        for d in 0..self.open.len() {
            self.hand_over(d);
        }
        self.wake_writer();
        while let Ok(b) = self.back.try_recv() {
            self.free.push(b);
        }
    }

    fn hand_over(&mut self, d: usize) {
        let Some(batch) = self.open[d].take() else {
            return;
        };
        if batch.lines.is_empty() {
            self.free.push(batch);
            return;
        }
        match self.to_writer.try_send_quietly(batch) {
            Ok(()) => {
                self.unwoken += 1;
                if self.unwoken >= WAKE_EVERY {
                    self.wake_writer();
                }
            }
            Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) => {
                self.wake_writer();
                self.open[d] = Some(b);
            }
        }
    }

    fn wake_writer(&mut self) {
        if self.unwoken > 0 {
            self.unwoken = 0;
            self.to_writer.wake();
        }
    }
}

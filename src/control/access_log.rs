//! The access log writer: one control thread takes the cores' batches
//! (`dataplane/access_log.rs`), appends them to their destination (a file opened for append,
//! created if missing, or standard output) and sends each emptied batch back to its core.
//! SIGUSR1 (`reopen`) closes every file, so the next batch opens the path again: rename the
//! file, send SIGUSR1, and new lines go to a new file (log rotation).
//!
//! A destination that blocks (a FIFO nobody reads, a stalled disk) blocks only this thread:
//! the cores' batches run out and they drop lines and count them.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use super::log::log;
use crate::config::LogDestination;
use crate::dataplane::Shared;
use crate::dataplane::access_log::LogBatch;

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

    fn run(&self, rx: Receiver<Box<LogBatch>>, shared: &Shared) {
        let mut files: HashMap<LogDestination, File> = HashMap::new();
        // Destinations whose last open or write failed (reported once until it works).
        let mut failing: HashMap<LogDestination, String> = HashMap::new();
        loop {
            let next = rx.recv_timeout(IDLE_CHECK);
            if self.reopen.swap(false, Ordering::AcqRel) {
                files.clear();
                failing.clear();
            }
            let mut batch = match next {
                Ok(b) => b,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let dest = &*batch.destination;
            let result = match dest {
                LogDestination::Stdout => std::io::stdout().lock().write_all(&batch.lines),
                LogDestination::Stderr => std::io::stderr().lock().write_all(&batch.lines),
                LogDestination::Spans => Ok(()),
                LogDestination::File(path) => {
                    if !files.contains_key(dest) {
                        match OpenOptions::new().create(true).append(true).open(path) {
                            Ok(f) => {
                                files.insert(dest.clone(), f);
                            }
                            Err(e) => {
                                report(
                                    &mut failing,
                                    dest,
                                    format!("cannot open {}: {e}", path.display()),
                                );
                            }
                        }
                    }
                    match files.get_mut(dest) {
                        Some(f) => f.write_all(&batch.lines),
                        None => Err(std::io::Error::other("not open")),
                    }
                }
            };
            match result {
                Ok(()) => {
                    failing.remove(dest);
                }
                Err(e) => {
                    if files.remove(dest).is_some() {
                        report(&mut failing, dest, format!("write failed: {e}"));
                    }
                    let lost = memchr::memchr_iter(b'\n', &batch.lines).count();
                    if let Some(c) = shared.log_dropped.first() {
                        c.0.fetch_add(lost, Ordering::Relaxed);
                    }
                }
            }
            batch.lines.clear();
            let home = batch.home.clone();
            let _ = home.try_send(batch);
        }
    }
}

fn report(failing: &mut HashMap<LogDestination, String>, dest: &LogDestination, message: String) {
    if failing.get(dest) != Some(&message) {
        log(format!(
            "access log: {message}; lines for it are lost until it works"
        ));
        failing.insert(dest.clone(), message);
    }
}

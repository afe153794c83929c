//! `--record-dir`: per accepted connection, `conn-<n>.bin` with exactly the bytes received.
//!
//! Bytes are appended as they are read (before the mock reacts to them), so by the time a
//! client sees a response the file already holds the request that caused it. Blocking file
//! writes are fine here: recording is a test feature, never on in benchmarks.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// Shared by every worker: the directory and the connection counter (counting whether or not
/// recording is on, so `echo` over TLS can name the connection).
#[derive(Debug)]
pub struct Recorder {
    dir: Option<PathBuf>,
    seq: AtomicU64,
}

/// One connection's recording (nothing when recording is off).
pub struct Recording(Option<File>);

impl Recorder {
    pub fn new(dir: Option<PathBuf>) -> Recorder {
        Recorder {
            dir,
            seq: AtomicU64::new(0),
        }
    }

    /// Number a newly accepted connection (1 is the first) and start its recording,
    /// `conn-<n>.bin`.
    pub fn connection(&self) -> (u64, Recording) {
        let n = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let Some(dir) = &self.dir else {
            return (n, Recording(None));
        };
        match File::create(dir.join(format!("conn-{n}.bin"))) {
            Ok(f) => (n, Recording(Some(f))),
            Err(e) => {
                eprintln!("upstream: cannot record connection {n}: {e}");
                (n, Recording(None))
            }
        }
    }
}

impl Recording {
    #[inline]
    pub fn bytes(&mut self, data: &[u8]) {
        if let Some(f) = &mut self.0
            && f.write_all(data).is_err()
        {
            self.0 = None;
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(f) = &mut self.0 {
            let _ = f.flush();
        }
    }
}

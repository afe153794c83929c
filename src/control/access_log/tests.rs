use super::behind::{Behind, CHUNK, Tracked, worth_telling};
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
        let path =
            std::env::temp_dir().join(format!("tollgate-access-log-{name}-{}", std::process::id()));
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
/// the first line numbered `from`, each write told to `tracked` at once (as the advice
/// thread takes them, in order); returns the next number.
fn append(
    out: &mut Output,
    tracked: &mut Tracked,
    dest: &LogDestination,
    from: usize,
    mib: usize,
) -> usize {
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
        for (file, range) in out.written.drain(..) {
            tracked.take(file, range);
        }
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
    let (mut out, mut tracked) = (Output::default(), Tracked::default());
    let n = append(&mut out, &mut tracked, &dest, 0, 16);
    // The first 16 MiB are now on disk, so clean: those the writer drops while it writes
    // the next 16 must leave the page cache (a dirty page would stay, by design).
    File::open(&scratch.0).unwrap().sync_data().unwrap();
    let n = append(&mut out, &mut tracked, &dest, n, 16);
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
fn the_advice_thread_drops_what_it_is_told_was_written() {
    use super::behind::Advisor;
    let scratch = Scratch::new("advice");
    let file = Arc::new(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&scratch.0)
            .unwrap(),
    );
    let mib = vec![b'x'; CHUNK as usize];
    for i in 0..32 {
        (&*file).write_all(&mib).unwrap();
        if i == 15 {
            file.sync_data().unwrap(); // the first 16 MiB clean: dropping them must work
        }
    }
    let advisor = Advisor::spawn().expect("the advice thread starts");
    advisor.tell((file.clone(), 0..32 * CHUNK));
    let pages = (CHUNK / 4096) as usize;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let kept = resident(&scratch.0)[..16 * pages]
            .iter()
            .filter(|r| **r)
            .count();
        if kept == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{kept} pages of the first 16 MiB still cached after 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_advice_thread_hears_only_of_writes_that_reach_or_begin_a_chunk() {
    const K64: u64 = 64 * 1024;
    assert!(worth_telling(&(0..K64)), "the first write of a chunk");
    assert!(!worth_telling(&(K64..2 * K64)), "within a chunk");
    assert!(worth_telling(&(CHUNK - K64..CHUNK)), "up to a chunk's end");
    assert!(
        worth_telling(&(CHUNK - 10..CHUNK + 10)),
        "across a chunk's end"
    );
    assert!(!worth_telling(&(CHUNK + 10..CHUNK + 20)));
}

#[test]
fn dropping_behind_starts_again_after_a_truncation_and_skips_what_is_not_a_file() {
    let scratch = Scratch::new("truncated");
    let dest = LogDestination::File(scratch.0.clone());
    let (mut out, mut tracked) = (Output::default(), Tracked::default());
    append(&mut out, &mut tracked, &dest, 0, 3);
    let behind = |tracked: &Tracked| {
        let [(_, b)] = &tracked.files[..] else {
            panic!("one file followed, not {}", tracked.files.len());
        };
        (b.started, b.dropped, b.on)
    };
    assert_eq!(behind(&tracked), (3 * CHUNK, 0, true));
    // copytruncate: the file is emptied under the writer (opened for append, it writes
    // at the new end).
    std::fs::OpenOptions::new()
        .write(true)
        .open(&scratch.0)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&mut out, &mut tracked, &dest, 0, 2);
    assert_eq!(behind(&tracked), (2 * CHUNK, 0, true));
    assert_eq!(std::fs::metadata(&scratch.0).unwrap().len(), 2 * CHUNK);
    // Reopened (SIGUSR1): the advice thread lets go of the closed file once the writer has.
    out.files.clear();
    tracked.prune();
    assert!(tracked.files.is_empty(), "the closed file is let go");
    // A file opened with 1.5 MiB in it: its own pages are not dropped; start at 1 MiB.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&scratch.0)
        .unwrap()
        .set_len(CHUNK + CHUNK / 2)
        .unwrap();
    append(&mut out, &mut tracked, &dest, 0, 1);
    assert_eq!(behind(&tracked), (2 * CHUNK, CHUNK, true));
    // An open file is kept.
    tracked.prune();
    assert_eq!(tracked.files.len(), 1);
    // Not a regular file: nothing is asked of the kernel.
    let null = File::options().write(true).open("/dev/null").unwrap();
    assert!(!Behind::new(&null, 0).on);
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

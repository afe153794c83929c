//! A reusable read buffer with a consumed-prefix cursor, filled with monoio's
//! ownership-passing reads. One per connection and per pooled upstream connection.

use std::future::Future;
use std::io;

use monoio::BufResult;
use monoio::buf::{IoBuf, IoBufMut, SliceMut};
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, CancelHandle, CancelableAsyncReadRent,
};

pub struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
}

/// Why `fill` could not add bytes.
#[derive(Debug)]
pub enum FillError {
    /// The peer closed its side (read returned 0).
    Eof,
    /// The buffer is at `max` and the caller has not consumed anything.
    Full,
    /// A cancelable read was cancelled before any byte arrived.
    Canceled,
    Io,
}

impl ReadBuf {
    pub fn with_capacity(capacity: usize) -> ReadBuf {
        ReadBuf {
            buf: Vec::with_capacity(capacity),
            start: 0,
        }
    }

    /// Unconsumed bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }

    /// Mark `n` bytes as consumed.
    #[inline]
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
    }

    /// Before streaming a large body: when nothing is buffered, let the next reads take up
    /// to `want` bytes at once (fewer, larger reads). `shrink_if_idle` gives it back after
    /// the request.
    pub fn reserve_empty(&mut self, want: usize) {
        if self.is_empty() && self.buf.capacity() < want {
            self.buf = Vec::with_capacity(want);
            self.start = 0;
        }
    }

    /// Give back memory a large head made us take, keeping `keep` bytes of capacity.
    pub fn shrink_if_idle(&mut self, keep: usize) {
        if self.is_empty() && self.buf.capacity() > keep {
            self.buf = Vec::with_capacity(keep);
            self.start = 0;
        }
    }

    /// Read once more from `stream`, appending to the unconsumed bytes; grows the buffer up to
    /// `max` bytes of unconsumed data. Returns the number of bytes read.
    pub async fn fill<S: AsyncReadRent>(
        &mut self,
        stream: &mut S,
        max: usize,
    ) -> Result<usize, FillError> {
        self.fill_with(max, |spare| stream.read(spare)).await
    }

    /// `fill` with a read that `handle`'s canceller can stop. Awaited to completion after a
    /// cancel, it returns either the bytes that won the race (nothing is lost) or `Canceled`.
    pub async fn fill_cancelable<S: CancelableAsyncReadRent>(
        &mut self,
        stream: &mut S,
        max: usize,
        handle: CancelHandle,
    ) -> Result<usize, FillError> {
        self.fill_with(max, |spare| stream.cancelable_read(spare, handle))
            .await
    }

    /// Lend the buffer's spare capacity to `read` and take it back with what was read.
    async fn fill_with<F, R>(&mut self, max: usize, read: F) -> Result<usize, FillError>
    where
        F: FnOnce(SliceMut<Vec<u8>>) -> R,
        R: Future<Output = BufResult<usize, SliceMut<Vec<u8>>>>,
    {
        self.make_room(max)?;
        // While the buffer is lent to the kernel, `self` is an empty, consistent buffer: if
        // this future is dropped (a timeout), the bytes are gone but nothing is out of bounds.
        let start = std::mem::take(&mut self.start);
        let buf = std::mem::take(&mut self.buf);
        let len = buf.len();
        let cap = buf.capacity();
        let (res, slice) = read(buf.slice_mut(len..cap)).await;
        self.buf = slice.into_inner();
        self.start = start;
        match res {
            Ok(0) => Err(FillError::Eof),
            Ok(n) => Ok(n),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ECANCELED | libc::EINTR)) => {
                Err(FillError::Canceled)
            }
            Err(_) => Err(FillError::Io),
        }
    }

    /// The allocated capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Write the first `n` unconsumed bytes to `stream` and consume them.
    pub async fn write_prefix<S: AsyncWriteRent>(
        &mut self,
        stream: &mut S,
        n: usize,
    ) -> io::Result<()> {
        let start = std::mem::take(&mut self.start);
        let buf = std::mem::take(&mut self.buf);
        let end = (start + n).min(buf.len());
        let (res, slice) = stream.write_all(buf.slice(start..end)).await;
        self.buf = slice.into_inner();
        self.start = start;
        res?;
        self.consume(end - start);
        Ok(())
    }

    fn make_room(&mut self, max: usize) -> Result<(), FillError> {
        let cap = self.buf.capacity();
        if cap - self.buf.len() >= (cap / 4).max(1) {
            return Ok(());
        }
        if self.start > 0 {
            self.buf.copy_within(self.start.., 0);
            self.buf.truncate(self.buf.len() - self.start);
            self.start = 0;
        }
        let len = self.buf.len();
        if len < cap {
            return Ok(());
        }
        if len >= max {
            return Err(FillError::Full);
        }
        let want = (cap.max(4096) * 2).min(max);
        self.buf.reserve_exact(want - len);
        Ok(())
    }
}

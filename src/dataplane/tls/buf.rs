//! The two places TLS touches monoio's raw buffers: plaintext copied into a caller's
//! `IoBufMut`, and a caller's `IoBuf` viewed as a slice to encrypt. monoio's buffer traits
//! expose raw pointers only, so this needs `unsafe`; the invariants are those of the traits
//! (`monoio::buf::IoBuf`, `IoBufMut`), stated at each block.

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut, RawBuf};

/// The initialized bytes of `buf`.
#[allow(unsafe_code)]
pub fn as_slice<T: IoBuf>(buf: &T) -> &[u8] {
    // SAFETY: `IoBuf` promises `read_ptr()` points at `bytes_init()` initialized bytes that
    // stay valid and unmoved while `buf` is borrowed.
    unsafe { std::slice::from_raw_parts(buf.read_ptr(), buf.bytes_init()) }
}

/// Writes `src` into `buf` at offset `at` (which must be what was written before, within
/// `bytes_total()`); returns how many bytes fit. The caller ends with `set_filled`.
#[allow(unsafe_code)]
pub fn copy_at<T: IoBufMut>(buf: &mut T, at: usize, src: &[u8]) -> usize {
    let total = buf.bytes_total();
    let n = src.len().min(total.saturating_sub(at));
    if n > 0 {
        // SAFETY: `IoBufMut` promises `write_ptr()` is valid for writes of `bytes_total()`
        // bytes; `at + n <= bytes_total()`, and `src` (our own buffer) cannot overlap the
        // caller's buffer, which we own for the duration of the call.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), buf.write_ptr().add(at), n) };
    }
    n
}

/// Marks the first `n` bytes of `buf` initialized (after `copy_at` wrote them).
#[allow(unsafe_code)]
pub fn set_filled<T: IoBufMut>(buf: &mut T, n: usize) {
    debug_assert!(n <= buf.bytes_total());
    // SAFETY: `copy_at` wrote bytes `0..n` (every call starts where the previous ended), and
    // `n <= bytes_total()`.
    unsafe { buf.set_init(n) };
}

/// The first buffer of a vectored read (monoio-rustls does the same): a read fills at most
/// that one.
#[allow(unsafe_code)]
pub fn first_mut<T: IoVecBufMut>(buf: &mut T) -> Option<RawBuf> {
    // SAFETY: the iovecs stay valid while `buf` is owned by the caller of the read, which
    // holds it until the `RawBuf` is dropped (within the same read call).
    unsafe { RawBuf::new_from_iovec_mut(buf) }
}

/// The first buffer of a vectored write.
#[allow(unsafe_code)]
pub fn first<T: IoVecBuf>(buf: &T) -> Option<RawBuf> {
    // SAFETY: as `first_mut`: `buf` outlives the `RawBuf`, which is only read from.
    unsafe { RawBuf::new_from_iovec(buf) }
}

/// Marks `n` bytes of a vectored read initialized.
#[allow(unsafe_code)]
pub fn set_filled_vec<T: IoVecBufMut>(buf: &mut T, n: usize) {
    // SAFETY: the read wrote `n` bytes into the first iovec, and `set_init` accounts them to
    // the iovecs in order.
    unsafe { buf.set_init(n) };
}

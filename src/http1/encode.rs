//! Small encoders for the write path, appending into a reused `Vec<u8>`.
//! CONTRACT: signatures fixed; bodies to be written.

/// `0\r\n\r\n`
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Append `{len:x}\r\n`.
pub fn write_chunk_header(out: &mut Vec<u8>, len: usize) {
    let _ = (out, len);
    todo!("http1::write_chunk_header")
}

/// Append `n` in decimal without allocating.
pub fn write_decimal(out: &mut Vec<u8>, n: u64) {
    let _ = (out, n);
    todo!("http1::write_decimal")
}

//! The body of a signed request: its SHA-256 once it is all in the read buffer, and reading
//! the rest of it there first (see the module docs of `iam.rs`).

use super::super::auth::sigv4;
use super::super::conn::{self, Conn};
use super::super::readbuf::FillError;
use super::super::stream::ClientStream;
use crate::config::ServerLimits;
use crate::http1::{ChunkedDecoder, Framing, RequestHead};

/// SHA-256 of the request body, `None` while it is not all in `data` (or is malformed).
pub(super) fn payload_sha256(
    head: &RequestHead,
    data: &[u8],
    limits: &ServerLimits,
) -> Option<[u8; 32]> {
    let body = data.get(head.head_len..)?;
    match head.framing {
        Framing::None => Some(sigv4::payload_sha256(b"")),
        Framing::Length(n) => body
            .get(..usize::try_from(n).ok()?)
            .map(sigv4::payload_sha256),
        Framing::Chunked => {
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
            chunked_end(body, limits, |d| ctx.update(d)).ok()??;
            let mut out = [0u8; 32];
            out.copy_from_slice(ctx.finish().as_ref());
            Some(out)
        }
    }
}

/// Decode the chunked body at the start of `body` without consuming it: `Ok(Some(len))` when
/// it is complete (`len` framed bytes), `Ok(None)` when more is needed, `Err(status)` when
/// it is malformed (400) or over `maxBodyBytes` (413). `data` sees each payload piece.
pub(crate) fn chunked_end(
    body: &[u8],
    limits: &ServerLimits,
    mut data: impl FnMut(&[u8]),
) -> Result<Option<usize>, u16> {
    let mut dec = ChunkedDecoder::new(limits.http.max_chunk_ext, limits.http.max_trailer_bytes);
    let (mut off, mut total) = (0usize, 0u64);
    loop {
        let d = dec.decode(&body[off..]).map_err(|_| 400u16)?;
        if let Some((s, e)) = d.data {
            total += (e - s) as u64;
            data(&body[off + s..off + e]);
        }
        if total.saturating_add(dec.chunk_remaining()) > limits.max_body_bytes {
            return Err(413);
        }
        off += d.consumed;
        if d.done {
            return Ok(Some(off));
        }
        if d.consumed == 0 {
            return Ok(None);
        }
    }
}

/// Read the rest of the body into the read buffer (after the head, nothing consumed), so
/// the signature can be checked over it. `Err(Some(status))`: answer that and close;
/// `Err(None)`: the client went away.
pub async fn read_body<S: ClientStream>(
    stream: &mut S,
    conn: &mut Conn,
    limits: &ServerLimits,
) -> Result<(), Option<u16>> {
    let head_len = conn.head.head_len;
    // Chunk framing may add to the payload; allow some slack over the body limit.
    let framed_max = |n: u64| head_len.saturating_add(usize::try_from(n).unwrap_or(usize::MAX));
    let max = match conn.head.framing {
        Framing::None => return Ok(()),
        Framing::Length(n) => framed_max(n),
        Framing::Chunked => framed_max(
            limits
                .max_body_bytes
                .saturating_add(limits.max_body_bytes / 4 + 64 * 1024),
        ),
    };
    if conn.head.expect_continue && conn.rb.data().len() <= head_len {
        conn.wb.clear();
        conn.wb.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        if !conn::write_all(stream, &mut conn.wb, limits.send_timeout).await {
            return Err(None);
        }
    }
    loop {
        let have = conn.rb.data().len().saturating_sub(head_len);
        let complete = match conn.head.framing {
            Framing::Length(n) => have as u64 >= n,
            _ => chunked_end(&conn.rb.data()[head_len..], limits, |_| {})
                .map_err(Some)?
                .is_some(),
        };
        if complete {
            return Ok(());
        }
        let fill = monoio::time::timeout(limits.body_timeout, conn.rb.fill(stream, max)).await;
        match fill {
            Err(_) => return Err(Some(408)),
            Ok(Ok(_)) => {}
            Ok(Err(FillError::Full)) => return Err(Some(413)),
            Ok(Err(_)) => return Err(None),
        }
    }
}

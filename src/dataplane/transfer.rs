//! Moving bodies: client → upstream (request) and upstream → client (response), through the
//! connections' reused buffers, with bounded memory and per-read timeouts.

use std::time::Duration;

use super::caching::Fill;
use super::conn::{self, Conn};
use super::pool::UpstreamConn;
use super::proxy::UpstreamError;
use super::readbuf::FillError;
use super::stream::ClientStream;
use crate::config::ServerLimits;
use crate::http1::{self, Framing, ResponseFraming};

/// Buffer growth cap while streaming a body.
const STREAM_BUF: usize = 64 * 1024;
/// Flush re-encoded chunks once this much is pending.
const FLUSH_AT: usize = 32 * 1024;
/// A `Content-Length` body with more than this left to read is read `STREAM_BUF` at a time:
/// one 100 MB upload takes 1,600 reads instead of 12,800. Smaller bodies keep the
/// connection's buffer (no allocation per request).
const STREAM_ABOVE: u64 = 32 * 1024;

/// Send the rest of the client's request body to the upstream. The head (and any body bytes
/// that were coalesced into it) already went out; the caller bounds the upstream side with
/// the integration deadline, client reads have their own body timeout.
pub async fn request_body<S: ClientStream>(
    client: &mut S,
    conn: &mut Conn,
    up: &mut UpstreamConn,
    framing: Framing,
    limits: &ServerLimits,
) -> Result<(), UpstreamError> {
    match framing {
        Framing::None => Ok(()),
        Framing::Length(n) => {
            let mut left = n;
            while left > 0 {
                if conn.rb.is_empty() {
                    if left > STREAM_ABOVE {
                        conn.rb.reserve_empty(STREAM_BUF);
                    }
                    fill_from_client(client, conn, up, limits).await?;
                }
                let take = (left as usize).min(conn.rb.data().len());
                conn.rb
                    .write_prefix(&mut up.stream, take)
                    .await
                    .map_err(|_| UpstreamError::Failure)?;
                left -= take as u64;
            }
            Ok(())
        }
        Framing::Chunked => {
            conn.decoder.reset();
            conn.up.clear();
            let mut total: u64 = 0;
            loop {
                if !conn.rb.is_empty() {
                    let d = conn
                        .decoder
                        .decode(conn.rb.data())
                        .map_err(|_| UpstreamError::ClientBody(400))?;
                    if let Some((s, e)) = d.data {
                        total += (e - s) as u64;
                        if total > limits.max_body_bytes {
                            return Err(UpstreamError::ClientBody(413));
                        }
                        http1::write_chunk_header(&mut conn.up, e - s);
                        conn.up.extend_from_slice(&conn.rb.data()[s..e]);
                        conn.up.extend_from_slice(b"\r\n");
                    }
                    conn.rb.consume(d.consumed);
                    // A declared chunk size over the limit is refused before its data
                    // arrives (RELIABILITY P09: `ffffffffffffffff` must not wait or wrap).
                    if total.saturating_add(conn.decoder.chunk_remaining()) > limits.max_body_bytes
                    {
                        return Err(UpstreamError::ClientBody(413));
                    }
                    if d.done {
                        conn.up.extend_from_slice(http1::LAST_CHUNK);
                        return flush_to_upstream(up, &mut conn.up).await;
                    }
                    if d.consumed > 0 {
                        if conn.up.len() >= FLUSH_AT {
                            flush_to_upstream(up, &mut conn.up).await?;
                        }
                        continue;
                    }
                }
                if !conn.up.is_empty() {
                    flush_to_upstream(up, &mut conn.up).await?;
                }
                fill_from_client(client, conn, up, limits).await?;
            }
        }
    }
}

/// Wait for more body bytes from the client — or for the upstream to speak first: an
/// upstream that answers before the body is complete (RELIABILITY U11, e.g. a 413) stops the
/// upload, and its answer is relayed.
async fn fill_from_client<S: ClientStream>(
    client: &mut S,
    conn: &mut Conn,
    up: &UpstreamConn,
    limits: &ServerLimits,
) -> Result<(), UpstreamError> {
    let fill = monoio::time::timeout(limits.body_timeout, conn.rb.fill(client, STREAM_BUF));
    monoio::select! {
        r = fill => match r {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(FillError::Full)) => Err(UpstreamError::ClientBody(400)),
            Ok(Err(_)) => Err(UpstreamError::ClientGone),
            Err(_) => Err(UpstreamError::ClientBody(408)),
        },
        _ = up.stream.readable() => Err(UpstreamError::EarlyResponse),
    }
}

async fn flush_to_upstream(up: &mut UpstreamConn, buf: &mut Vec<u8>) -> Result<(), UpstreamError> {
    let res = conn::write_vec(&mut up.stream, buf).await;
    buf.clear();
    res.map_err(|_| UpstreamError::Failure)
}

/// Which side broke a response body that was already being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFailure {
    Client,
    Upstream,
}

/// Write the response head in `conn.wb`, then the body from the upstream. `chunk` re-frames
/// chunked or close-delimited bodies as chunked for an HTTP/1.1 client. `fill` gets a copy
/// of every body byte (de-chunked) for the stage cache.
#[allow(clippy::too_many_arguments)]
pub async fn response_body<S: ClientStream>(
    client: &mut S,
    conn: &mut Conn,
    up: &mut UpstreamConn,
    framing: ResponseFraming,
    chunk: bool,
    limits: &ServerLimits,
    idle: Duration,
    mut fill: Option<&mut Fill>,
    sent: &mut u64,
) -> Result<(), BodyFailure> {
    let mut keep = |data: &[u8]| {
        if let Some(f) = fill.as_deref_mut() {
            f.push(data);
        }
    };
    match framing {
        ResponseFraming::None => flush_to_client(client, &mut conn.wb, limits).await,
        ResponseFraming::Length(n) => {
            let mut left = n;
            let take = (left as usize).min(up.rb.data().len()).min(STREAM_BUF);
            keep(&up.rb.data()[..take]);
            conn.wb.extend_from_slice(&up.rb.data()[..take]);
            up.rb.consume(take);
            left -= take as u64;
            flush_to_client(client, &mut conn.wb, limits).await?;
            while left > 0 {
                if up.rb.is_empty() {
                    fill_from_upstream(up, idle).await?;
                }
                let take = (left as usize).min(up.rb.data().len());
                keep(&up.rb.data()[..take]);
                match monoio::time::timeout(limits.send_timeout, up.rb.write_prefix(client, take))
                    .await
                {
                    Ok(Ok(())) => {}
                    _ => return Err(BodyFailure::Client),
                }
                left -= take as u64;
            }
            Ok(())
        }
        ResponseFraming::Chunked => {
            conn.decoder.reset();
            loop {
                if !up.rb.is_empty() {
                    let d = conn
                        .decoder
                        .decode(up.rb.data())
                        .map_err(|_| BodyFailure::Upstream)?;
                    if let Some((s, e)) = d.data {
                        *sent += (e - s) as u64;
                        keep(&up.rb.data()[s..e]);
                        push_data(&mut conn.wb, &up.rb.data()[s..e], chunk);
                    }
                    up.rb.consume(d.consumed);
                    if d.done {
                        if chunk {
                            conn.wb.extend_from_slice(http1::LAST_CHUNK);
                        }
                        return flush_to_client(client, &mut conn.wb, limits).await;
                    }
                    if d.consumed > 0 {
                        if conn.wb.len() >= FLUSH_AT {
                            flush_to_client(client, &mut conn.wb, limits).await?;
                        }
                        continue;
                    }
                }
                if !conn.wb.is_empty() {
                    flush_to_client(client, &mut conn.wb, limits).await?;
                }
                fill_from_upstream(up, idle).await?;
            }
        }
        ResponseFraming::Close => loop {
            if !up.rb.is_empty() {
                push_data(&mut conn.wb, up.rb.data(), chunk);
                let n = up.rb.data().len();
                *sent += n as u64;
                up.rb.consume(n);
            }
            flush_to_client(client, &mut conn.wb, limits).await?;
            match monoio::time::timeout(idle, up.rb.fill(&mut up.stream, STREAM_BUF)).await {
                Ok(Ok(_)) => {}
                Ok(Err(FillError::Eof)) => {
                    if chunk {
                        conn.wb.extend_from_slice(http1::LAST_CHUNK);
                    }
                    return flush_to_client(client, &mut conn.wb, limits).await;
                }
                _ => return Err(BodyFailure::Upstream),
            }
        },
    }
}

fn push_data(wb: &mut Vec<u8>, data: &[u8], chunk: bool) {
    if data.is_empty() {
        return;
    }
    if chunk {
        http1::write_chunk_header(wb, data.len());
        wb.extend_from_slice(data);
        wb.extend_from_slice(b"\r\n");
    } else {
        wb.extend_from_slice(data);
    }
}

async fn fill_from_upstream(up: &mut UpstreamConn, idle: Duration) -> Result<(), BodyFailure> {
    match monoio::time::timeout(idle, up.rb.fill(&mut up.stream, STREAM_BUF)).await {
        Ok(Ok(_)) => Ok(()),
        _ => Err(BodyFailure::Upstream),
    }
}

async fn flush_to_client<S: ClientStream>(
    client: &mut S,
    wb: &mut Vec<u8>,
    limits: &ServerLimits,
) -> Result<(), BodyFailure> {
    if conn::write_all(client, wb, limits.send_timeout).await {
        Ok(())
    } else {
        Err(BodyFailure::Client)
    }
}

//! Reading and writing through the stream: large echoes, cancelled reads, parking.

use std::future::{Future, poll_fn};
use std::io::{Read, Write};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, CancelableAsyncReadRent, Canceller,
};

use super::*;
use crate::dataplane::readbuf::{FillError, ReadBuf};

const DEADLINE: Duration = Duration::from_secs(5);
const REQUEST: usize = 150_000;
const RESPONSE: usize = 200_000;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

fn tls13(pki: &Pki) -> Arc<ClientConfig> {
    client_config(&pki.ca.cert, &[&rustls::version::TLS13], None)
}

/// Reads exactly `n` bytes through `ReadBuf`, as the connection code does.
async fn read_exact(s: &mut TlsStream, rb: &mut ReadBuf, n: usize) -> Result<Vec<u8>, String> {
    while rb.data().len() < n {
        rb.fill(s, 1 << 20).await.map_err(|e| format!("{e:?}"))?;
    }
    let got = rb.data()[..n].to_vec();
    rb.consume(n);
    Ok(got)
}

#[test]
fn echo_of_more_than_100_kb_each_way() {
    let pki = Pki::new();
    let server = Server::start(
        pki.cert_set(UnknownSni::ServeDefault),
        2,
        DEADLINE,
        |r| async {
            let mut s = r.map_err(|e| format!("{e:?}"))?;
            // Plain `read` into fresh buffers, counting reads: many records, many reads.
            let mut got = Vec::new();
            let mut reads = 0;
            while got.len() < REQUEST {
                let (res, buf) = s.read(Vec::with_capacity(16 * 1024)).await;
                match res.map_err(|e| e.to_string())? {
                    0 => return Err("early EOF".to_string()),
                    n => got.extend_from_slice(&buf[..n]),
                }
                reads += 1;
            }
            if got != pattern(REQUEST, 1) {
                return Err("request corrupted".into());
            }
            let (res, _) = s.write_all(pattern(RESPONSE, 2)).await;
            res.map_err(|e| e.to_string())?;
            s.shutdown().await.map_err(|e| e.to_string())?;
            // After `close_notify` from the client: EOF.
            let (res, _) = s.read(Vec::with_capacity(64)).await;
            Ok((reads, res.map_err(|e| e.to_string())?))
        },
    );
    for sni in ["api.example.com", "rsa.example.net"] {
        let mut c = connect(server.addr, tls13(&pki), sni).unwrap();
        c.write_all(&pattern(REQUEST, 1)).unwrap();
        c.flush().unwrap();
        let mut body = Vec::new();
        c.read_to_end(&mut body).unwrap();
        assert_eq!(body.len(), RESPONSE);
        assert!(body == pattern(RESPONSE, 2), "response corrupted");
        c.conn.send_close_notify();
        c.flush().unwrap();
        let (reads, eof) = server.next().unwrap();
        assert!(reads >= REQUEST / (16 * 1024), "{reads} reads");
        assert_eq!(eof, 0);
    }
}

#[test]
fn cancelled_read_returns_ecanceled_and_keeps_bytes() {
    let pki = Pki::new();
    let server = Server::start(
        pki.cert_set(UnknownSni::ServeDefault),
        1,
        DEADLINE,
        |r| async {
            let mut s = r.map_err(|e| format!("{e:?}"))?;
            let mut rb = ReadBuf::with_capacity(8192);
            // Nothing arrives: the cancelled read ends with `Canceled` (ECANCELED underneath).
            let canceller = Canceller::new();
            let first = {
                let mut read = pin!(rb.fill_cancelable(&mut s, 1 << 20, canceller.handle()));
                match monoio::time::timeout(Duration::from_millis(100), read.as_mut()).await {
                    Ok(r) => return Err(format!("read ended early: {r:?}")),
                    Err(_) => {
                        let _ = canceller.cancel();
                        read.await
                    }
                }
            };
            if !matches!(first, Err(FillError::Canceled)) {
                return Err(format!("expected Canceled, got {first:?}"));
            }
            // A bare cancelled read says ECANCELED.
            let gone = Canceller::new();
            let handle = gone.handle();
            let _ = gone.cancel();
            let (res, _) = s.cancelable_read(Vec::with_capacity(64), handle).await;
            if res.as_ref().map_err(|e| e.raw_os_error()) != Err(Some(libc::ECANCELED)) {
                return Err(format!("expected ECANCELED, got {res:?}"));
            }
            let (res, _) = s.write_all(b"go".to_vec()).await;
            res.map_err(|e| e.to_string())?;
            // The client sends one record in two halves. A read cancelled while the first half
            // is already there wins the race for it: the bytes must not be lost (the record
            // would not decrypt), and the read still ends with `Canceled`.
            s.readable(false).await.map_err(|e| e.to_string())?;
            let canceller = Canceller::new();
            let raced = {
                let mut read = pin!(rb.fill_cancelable(&mut s, 1 << 20, canceller.handle()));
                match poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await {
                    Poll::Ready(r) => r,
                    Poll::Pending => {
                        let _ = canceller.cancel();
                        read.await
                    }
                }
            };
            let outcomes = vec![format!("{raced:?}")];
            let got = read_exact(&mut s, &mut rb, 13).await?;
            if got != b"first message" {
                return Err(format!("lost bytes: {:?}", String::from_utf8_lossy(&got)));
            }
            let (res, _) = s.write_all(b"done".to_vec()).await;
            res.map_err(|e| e.to_string())?;
            s.shutdown().await.map_err(|e| e.to_string())?;
            Ok(outcomes)
        },
    );
    let mut c = connect(server.addr, tls13(&pki), "api.example.com").unwrap();
    let mut go = [0u8; 2];
    c.read_exact(&mut go).unwrap();
    assert_eq!(&go, b"go");
    // One record, written in two halves with a pause.
    c.conn.writer().write_all(b"first message").unwrap();
    let mut record = Vec::new();
    while c.conn.wants_write() {
        c.conn.write_tls(&mut record).unwrap();
    }
    let half = record.len() / 2;
    c.sock.write_all(&record[..half]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    c.sock.write_all(&record[half..]).unwrap();
    let mut done = Vec::new();
    c.read_to_end(&mut done).unwrap();
    assert_eq!(done, b"done");
    assert_eq!(server.next().unwrap(), ["Err(Canceled)"]);
}

#[test]
fn parked_connection_continues_reading() {
    let pki = Pki::new();
    let server = Server::start(
        pki.cert_set(UnknownSni::ServeDefault),
        1,
        DEADLINE,
        |r| async {
            let mut s = r.map_err(|e| format!("{e:?}"))?;
            let mut rb = ReadBuf::with_capacity(8192);
            let ping = read_exact(&mut s, &mut rb, 5).await?;
            let (res, _) = s.write_all([b"pong:", &ping[..]].concat()).await;
            res.map_err(|e| e.to_string())?;
            // Idle: give the buffers back and wait for readability with none.
            s.park();
            let parked = s.buffered_capacity();
            let ready_at_once = s.readable(false).await.map_err(|e| e.to_string())?;
            let ping = read_exact(&mut s, &mut rb, 5).await?;
            let (res, _) = s.write_all([b"pong:", &ping[..]].concat()).await;
            res.map_err(|e| e.to_string())?;
            // Plaintext left in rustls by a short read: parking keeps it, `readable` says so at
            // once (the client sends nothing more), and the next reads return it.
            let (res, buf) = s.read(Vec::with_capacity(4)).await;
            let mut got = buf[..res.map_err(|e| e.to_string())?].to_vec();
            s.park();
            let pending = monoio::time::timeout(Duration::from_secs(2), s.readable(false))
                .await
                .map_err(|_| "readable did not see the pending plaintext".to_string())?
                .map_err(|e| e.to_string())?;
            while got.len() < 10 {
                let (res, buf) = s.read(Vec::with_capacity(4)).await;
                got.extend_from_slice(&buf[..res.map_err(|e| e.to_string())?]);
            }
            s.shutdown().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((parked, ready_at_once, pending, got))
        },
    );
    let mut c = connect(server.addr, tls13(&pki), "api.example.com").unwrap();
    let mut pong = [0u8; 10];
    c.write_all(b"ping1").unwrap();
    c.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"pong:ping1");
    std::thread::sleep(Duration::from_millis(200));
    c.write_all(b"ping2").unwrap();
    c.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"pong:ping2");
    c.write_all(b"abcdefghij").unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    let (parked, ready_at_once, pending, got) = server.next().unwrap();
    assert_eq!(parked, 0, "park released the ciphertext buffers");
    assert!(
        !ready_at_once,
        "nothing was buffered: the socket woke the parked stream"
    );
    assert!(pending, "buffered plaintext makes the stream ready at once");
    assert_eq!(got, b"abcdefghij");
}

//! The client side (`ClientTls`, for `https://` upstreams) against the server side on
//! another thread: a large echo both ways through `ReadBuf`, session resumption with one
//! shared config, and the handshake's failures (untrusted certificate, wrong name, a peer
//! that closes or does not speak TLS) as errors, never a hang.

use std::io::{Read, Write};
use std::net::TcpListener;

use monoio::io::AsyncWriteRentExt;

use super::*;
use crate::dataplane::readbuf::ReadBuf;
use crate::dataplane::tls::ClientTls;

const DEADLINE: Duration = Duration::from_secs(5);
const SIZE: usize = 120_000;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

/// Runs `f` on a monoio runtime in this thread.
fn run<F: Future>(f: F) -> F::Output {
    monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build()
        .unwrap()
        .block_on(f)
}

async fn connect(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    name: &str,
) -> Result<ClientTls, HandshakeError> {
    let tcp = monoio::net::TcpStream::connect_addr(addr).await.unwrap();
    let name = ServerName::try_from(name.to_owned()).unwrap();
    let conn = ClientConnection::new(config.clone(), name).unwrap();
    match monoio::time::timeout(PATIENCE, ClientTls::connect(tcp, conn)).await {
        Ok(r) => r,
        Err(_) => panic!("the client handshake hung"),
    }
}

/// The server echoes `SIZE` bytes back (xor 1), then reports whether the session was resumed.
async fn echo(r: Result<TlsStream, HandshakeError>) -> Result<bool, String> {
    let mut s = r.map_err(|e| format!("{e:?}"))?;
    let mut rb = ReadBuf::with_capacity(16 * 1024);
    while rb.data().len() < SIZE {
        rb.fill(&mut s, 1 << 20)
            .await
            .map_err(|e| format!("{e:?}"))?;
    }
    let back: Vec<u8> = rb.data()[..SIZE].iter().map(|b| b ^ 1).collect();
    let (res, _) = s.write_all(back).await;
    res.map_err(|e| e.to_string())?;
    Ok(s.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed))
}

#[test]
fn echo_both_ways_and_resumption_across_connections() {
    let pki = Pki::new();
    let server = Server::start(pki.cert_set(UnknownSni::Refuse), 2, DEADLINE, echo);
    let config = client_config(&pki.ca.cert, &[&rustls::version::TLS13], None);
    for resumed in [false, true] {
        let got = run(async {
            let mut s = connect(server.addr, &config, "api.example.com")
                .await
                .unwrap();
            assert_eq!(s.alpn(), Some(&b"http/1.1"[..]));
            let (res, _) = s.write_all(pattern(SIZE, 0)).await;
            res.unwrap();
            let mut rb = ReadBuf::with_capacity(16 * 1024);
            while rb.data().len() < SIZE {
                rb.fill(&mut s, 1 << 20).await.unwrap();
            }
            rb.data().to_vec()
        });
        assert_eq!(got, pattern(SIZE, 1));
        assert_eq!(server.next(), Ok(resumed), "resumed: {resumed}");
    }
}

#[test]
fn untrusted_or_misnamed_certificates_fail_the_handshake() {
    let pki = Pki::new();
    let server = Server::start(
        pki.cert_set(UnknownSni::ServeDefault),
        2,
        DEADLINE,
        |r| async move { r.is_err() },
    );
    let stranger = client_config(&pki.other_ca.cert, &[&rustls::version::TLS13], None);
    let e = run(connect(server.addr, &stranger, "api.example.com")).err();
    assert!(
        matches!(
            &e,
            Some(HandshakeError::Tls(rustls::Error::InvalidCertificate(_)))
        ),
        "{e:?}"
    );
    // Served the default certificate for a name it does not cover.
    let trusting = client_config(&pki.ca.cert, &[&rustls::version::TLS12], None);
    let e = run(connect(server.addr, &trusting, "nobody.test")).err();
    assert!(
        matches!(
            &e,
            Some(HandshakeError::Tls(rustls::Error::InvalidCertificate(_)))
        ),
        "{e:?}"
    );
    assert!(server.next() && server.next(), "the server saw both alerts");
}

#[test]
fn a_peer_that_closes_or_speaks_http_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        // The first closes at once; the second answers the ClientHello with plain HTTP.
        drop(listener.accept().unwrap());
        let (mut s, _) = listener.accept().unwrap();
        let mut hello = [0u8; 512];
        let _ = s.read(&mut hello);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        std::thread::sleep(Duration::from_millis(200));
    });
    let pki = Pki::new();
    let config = client_config(&pki.ca.cert, &[&rustls::version::TLS13], None);
    let e = run(connect(addr, &config, "api.example.com")).err();
    assert!(
        matches!(e, Some(HandshakeError::Closed | HandshakeError::Io(_))),
        "{e:?}"
    );
    let e = run(connect(addr, &config, "api.example.com")).err();
    assert!(matches!(e, Some(HandshakeError::Tls(_))), "{e:?}");
    peer.join().unwrap();
}

//! RELIABILITY T01: handshake abuse is cut by the deadline or ends at once, never spins or
//! panics.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant as StdInstant};

use super::*;

const DEADLINE: Duration = Duration::from_secs(1);
/// Slack for a loaded 2-core machine; a deadline that did not work would take far longer.
const SLACK: Duration = Duration::from_millis(1500);

/// The handshake's outcome, as a name.
async fn outcome(r: Result<TlsStream, HandshakeError>) -> String {
    match r {
        Ok(_) => "Ok".into(),
        Err(HandshakeError::Tls(_)) => "Tls".into(),
        Err(HandshakeError::Io(_)) => "Io".into(),
        Err(e) => format!("{e:?}"),
    }
}

/// The bytes of a real ClientHello for `sni`.
fn client_hello(pki: &Pki, sni: &str) -> Vec<u8> {
    let config = client_config(&pki.ca.cert, &[&rustls::version::TLS13], None);
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    let mut conn = ClientConnection::new(config, name).unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    hello
}

fn raw(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    tcp
}

/// Everything the server sends until it closes.
fn drain(tcp: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = tcp.read_to_end(&mut got);
    got
}

#[test]
fn trickled_client_hello_is_cut_by_the_deadline() {
    let pki = Pki::new();
    let server = Server::start(pki.cert_set(UnknownSni::ServeDefault), 1, DEADLINE, outcome);
    let hello = client_hello(&pki, "api.example.com");
    let mut tcp = raw(server.addr);
    let start = StdInstant::now();
    let mut writer = tcp.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        let mut sent = 0;
        for b in hello {
            if writer.write_all(&[b]).is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(200));
            if sent == 30 {
                break;
            }
        }
        sent
    });
    assert_eq!(server.next(), "TimedOut");
    let elapsed = start.elapsed();
    assert!(
        elapsed >= DEADLINE - Duration::from_millis(100),
        "{elapsed:?}"
    );
    assert!(elapsed < DEADLINE + SLACK, "{elapsed:?}");
    // The server closed without answering.
    assert!(drain(&mut tcp).is_empty());
    let sent = trickle.join().unwrap();
    assert!(
        sent < 30,
        "the trickle went on after the close: {sent} bytes"
    );
}

#[test]
fn half_open_handshakes_all_end_by_the_deadline() {
    const CONNS: usize = 20;
    let pki = Pki::new();
    let server = Server::start(
        pki.cert_set(UnknownSni::ServeDefault),
        CONNS,
        DEADLINE,
        outcome,
    );
    let hello = client_hello(&pki, "api.example.com");
    let start = StdInstant::now();
    let mut open = Vec::new();
    for i in 0..CONNS {
        let mut tcp = raw(server.addr);
        // Half say nothing, half stop in the middle of their ClientHello.
        if i % 2 == 1 {
            tcp.write_all(&hello[..hello.len() / 2]).unwrap();
        }
        open.push(tcp);
    }
    for _ in 0..CONNS {
        assert_eq!(server.next(), "TimedOut");
    }
    let elapsed = start.elapsed();
    assert!(elapsed < DEADLINE + SLACK, "{elapsed:?}");
    for tcp in &mut open {
        assert!(drain(tcp).is_empty());
    }
}

#[test]
fn malformed_client_hello_gets_an_alert_and_no_panic() {
    const ROUNDS: usize = 40;
    let pki = Pki::new();
    let server = Server::start(
        pki.cert_set(UnknownSni::ServeDefault),
        2 * ROUNDS,
        DEADLINE,
        outcome,
    );
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..ROUNDS {
        // A valid record header and handshake header (ClientHello, length right), then
        // random bytes: a parse error, answered with an alert.
        let body: Vec<u8> = (0..120).map(|_| rng.next_u8()).collect();
        let mut msg = vec![0x16, 0x03, 0x01, 0x00, 124, 0x01, 0x00, 0x00, 120];
        msg.extend_from_slice(&body);
        let mut tcp = raw(server.addr);
        tcp.write_all(&msg).unwrap();
        let answer = drain(&mut tcp);
        assert_eq!(
            answer.first(),
            Some(&0x15),
            "an alert record: {answer:02x?}"
        );
        assert_eq!(server.next(), "Tls");

        // A valid record header, then random bytes: an error (or, if the random handshake
        // length asks for more, the deadline), never a panic.
        let mut msg = vec![0x16, 0x03, 0x01, 0x00, 0x80];
        msg.extend((0..0x80).map(|_| rng.next_u8()));
        let mut tcp = raw(server.addr);
        tcp.write_all(&msg).unwrap();
        let _ = drain(&mut tcp);
        let got = server.next();
        assert!(["Tls", "Io", "TimedOut"].contains(&got.as_str()), "{got}");
    }
}

#[test]
fn close_notify_or_eof_during_the_handshake_ends_it_at_once() {
    let pki = Pki::new();
    let server = Server::start(pki.cert_set(UnknownSni::ServeDefault), 3, PATIENCE, outcome);
    let hello = client_hello(&pki, "api.example.com");
    // `close_notify` (warning alert 0) right after the ClientHello, socket kept open.
    let close_notify = [0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00];
    let start = StdInstant::now();
    let mut tcp = raw(server.addr);
    tcp.write_all(&hello).unwrap();
    tcp.write_all(&close_notify).unwrap();
    let got = server.next();
    assert!(got == "Closed" || got == "Tls", "{got}");
    assert!(start.elapsed() < SLACK, "{:?}", start.elapsed());
    drop(tcp);

    // In the middle of the ClientHello: its first 32 bytes as a record of their own.
    let start = StdInstant::now();
    let mut tcp = raw(server.addr);
    tcp.write_all(&[0x16, 0x03, 0x01, 0x00, 32]).unwrap();
    tcp.write_all(&hello[5..37]).unwrap();
    tcp.write_all(&close_notify).unwrap();
    let got = server.next();
    assert!(got == "Closed" || got == "Tls", "{got}");
    assert!(start.elapsed() < SLACK, "{:?}", start.elapsed());
    drop(tcp);

    // EOF after the ClientHello.
    let start = StdInstant::now();
    let mut tcp = raw(server.addr);
    tcp.write_all(&hello).unwrap();
    tcp.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.next(), "Closed");
    assert!(start.elapsed() < SLACK, "{:?}", start.elapsed());
}

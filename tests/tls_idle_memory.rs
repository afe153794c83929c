//! Idle TLS connections must be cheap (issue 6; DESIGN §4 "nothing unbounded"): after a
//! request, a parked `TlsStream` gives back its ciphertext buffers. A counting allocator
//! measures the heap bytes the server thread holds per connection, active and parked.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::time::Instant;
use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tollgate::dataplane::tls::{CertSet, DomainTls, SecurityPolicy, TlsStream, UnknownSni};

struct Counting;

thread_local! {
    /// Heap bytes allocated and not yet freed by this thread.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = LIVE.try_with(|l| l.set(l.get() + delta));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

const CONNS: usize = 32;
/// The request each connection sends before it idles: a full 16 KiB record.
const REQUEST: usize = 16 * 1024;

#[test]
fn a_parked_tls_connection_holds_no_ciphertext_buffers() {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["idle.test".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let domains = [DomainTls {
        names: vec!["idle.test".into()],
        chain_pem: cert.pem().into_bytes(),
        key_pem: key.serialize_pem().into_bytes(),
        truststore_pem: None,
        policy: SecurityPolicy::Tls12,
        cipher_suites: None,
    }];
    let certs = CertSet::new(&domains, 0, UnknownSni::ServeDefault).unwrap();
    let (addr_tx, addr_rx) = mpsc::channel();
    let (report_tx, report_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = monoio::net::TcpListener::bind("127.0.0.1:0").unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let mut streams = Vec::with_capacity(CONNS);
            let mut scratch = Vec::with_capacity(REQUEST);
            let base = live();
            for _ in 0..CONNS {
                let (tcp, _) = listener.accept().await.unwrap();
                let deadline = Instant::now() + Duration::from_secs(5);
                let mut s = TlsStream::accept(tcp, &certs, deadline).await.unwrap();
                // One full-size record: rustls' deframer grows to hold it.
                let mut got = 0;
                while got < REQUEST {
                    let (res, buf) = s.read(std::mem::take(&mut scratch)).await;
                    got += res.unwrap();
                    scratch = buf;
                }
                let (res, _) = s.write_all(&b"pong"[..]).await;
                res.unwrap();
                streams.push(s);
            }
            let active = (live() - base) / CONNS as isize;
            for s in &mut streams {
                s.park();
            }
            let parked = (live() - base) / CONNS as isize;
            report_tx.send((active, parked)).unwrap();
            // Keep the connections until the test has its numbers.
            monoio::time::sleep(Duration::from_secs(1)).await;
        });
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let mut clients = Vec::new();
    for _ in 0..CONNS {
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let name = ServerName::try_from("idle.test").unwrap();
        let conn = ClientConnection::new(config.clone(), name).unwrap();
        let mut c = StreamOwned::new(conn, tcp);
        c.write_all(&[b'x'; REQUEST]).unwrap();
        let mut pong = [0u8; 4];
        c.read_exact(&mut pong).unwrap();
        assert_eq!(&pong, b"pong");
        clients.push(c);
    }
    let (active, parked) = report_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let inline = std::mem::size_of::<TlsStream>() as isize;
    eprintln!("per TLS connection: {inline} B inline + heap {active} B active, {parked} B parked");
    // Parking gives back at least the 17 KiB read buffer, the write buffer and what rustls'
    // deframer grew to for the full record.
    assert!(
        active - parked >= 17 * 1024,
        "active {active} B, parked {parked} B"
    );
    // What stays is rustls' own state (a 4 KiB deframer buffer, keys, queues, the session
    // cache entries of the tickets sent) and the socket.
    assert!(parked < 12 * 1024, "parked {parked} B");
}

//! `upstream` used in-process, as the gateway's tests and benches can.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use upstream::{Config, Mode};

#[test]
fn start_serves_on_every_worker_and_stop_closes_the_listeners() {
    let mut config = Config::new(([127, 0, 0, 1], 0).into(), Mode::Fixed);
    config.workers = 2.try_into().unwrap();
    config.body = b"ok".to_vec();
    let running = upstream::start(config).expect("start");
    let addr = running.addr();
    assert_ne!(addr.port(), 0);
    // SO_REUSEPORT spreads connections over both workers; every one is answered.
    for _ in 0..8 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    }
    running.stop();
    let err = TcpStream::connect(addr).expect_err("stopped");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

//! The fixed mode is the benchmark origin: after a warm-up, requests on a keep-alive
//! connection (single and pipelined) must not allocate. The mock runs in this process under a
//! counting global allocator; the client uses preallocated buffers.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use upstream::{Config, Mode};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn fixed_mode_does_not_allocate_per_request() {
    let mut config = Config::new(([127, 0, 0, 1], 0).into(), Mode::Fixed);
    config.body = vec![b'x'; 100];
    let running = upstream::start(config).expect("start");
    let mut s = TcpStream::connect(running.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let one: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let three: &[u8] =
        b"GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\n\r\n";
    let response_len = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n".len() + 100;
    let mut buf = vec![0u8; 3 * response_len];
    let mut round = |s: &mut TcpStream| {
        s.write_all(one).unwrap();
        s.read_exact(&mut buf[..response_len]).unwrap();
        s.write_all(three).unwrap();
        s.read_exact(&mut buf).unwrap();
    };
    for _ in 0..50 {
        round(&mut s);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..500 {
        round(&mut s);
    }
    let allocated = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(allocated, 0, "2000 requests allocated {allocated} times");
    assert!(buf.ends_with(&[b'x'; 100]));
    drop(s);
    running.stop();
}

//! Black-box tests of the `upstream` binary: what a client sees in each mode.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::*;

const FIXED: &[u8] = b"HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 5\r\n\r\nhello";

#[test]
fn fixed_answers_three_pipelined_requests_in_order_and_keeps_the_connection() {
    let up = Backend::start(&["--body", "hello", "--header", "x-a: 1"]);
    let mut s = up.connect();
    // A bodiless GET, a Content-Length body, a chunked body: all in one write.
    send(
        &mut s,
        b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n\
          POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nGET \
          POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert_eq!(read_n(&mut s, 3 * FIXED.len()), FIXED.repeat(3));
    // The body bytes "GET " were skipped, not parsed: nothing more arrives...
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut extra = [0u8; 1];
    assert!(s.read(&mut extra).is_err(), "no response to a body");
    // ...and the connection is still usable; HEAD gets the head only.
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    send(&mut s, b"HEAD /4 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(read_n(&mut s, FIXED.len() - 5), &FIXED[..FIXED.len() - 5]);
    send(&mut s, b"GET /5 HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(read_to_eof(&mut s), FIXED);
}

#[test]
fn fixed_with_curl_body_size_status_and_keep_alive() {
    let up = Backend::start(&["--status", "201", "--body-size", "1000", "--workers", "2"]);
    let url = format!("http://{}/a", up.addr);
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "5", "-v", &url, &url])
        .output()
        .expect("run curl");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stdout.matches("HTTP/1.1 201 Created\r\n").count(),
        2,
        "{stdout}"
    );
    assert_eq!(stdout.matches(&"x".repeat(1000)).count(), 2);
    assert!(stderr.contains("Re-using existing connection"), "{stderr}");
}

#[test]
fn echo_returns_the_exact_request_bytes_and_the_request_line() {
    let up = Backend::start(&["--mode", "echo"]);
    let mut s = up.connect();
    let req1: &[u8] =
        b"POST /echo?q=1 HTTP/1.1\r\nHost: gw.test\r\nX-Odd:  sp \r\nContent-Length: 3\r\n\r\nabc";
    let req2: &[u8] =
        b"PUT /two HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nhi\r\n0\r\n\r\n";
    send(&mut s, &[req1, req2].concat());
    for (req, line) in [
        (req1, "POST /echo?q=1 HTTP/1.1"),
        (req2, "PUT /two HTTP/1.1"),
    ] {
        let head = format!(
            "HTTP/1.1 200 OK\r\nx-echo-request-line: {line}\r\ncontent-length: {}\r\n\r\n",
            req.len()
        );
        let got = read_n(&mut s, head.len() + req.len());
        assert_eq!(String::from_utf8_lossy(&got[..head.len()]), head);
        assert_eq!(&got[head.len()..], req);
    }
}

#[test]
fn then_close_answers_without_saying_so_then_closes() {
    let up = Backend::start(&["--mode", "echo"]);
    let mut s = up.connect();
    let req: &[u8] = b"GET /last HTTP/1.1\r\nx-upstream-then-close: 1\r\n\r\n";
    send(&mut s, req);
    let got = read_to_eof(&mut s);
    let head = format!(
        "HTTP/1.1 200 OK\r\nx-echo-request-line: GET /last HTTP/1.1\r\ncontent-length: {}\r\n\r\n",
        req.len()
    );
    assert_eq!(
        got,
        [head.as_bytes(), req].concat(),
        "one response, no Connection: close, EOF"
    );
}

#[test]
fn recording_holds_exactly_the_bytes_of_each_connection() {
    let dir = temp_dir("record");
    let up = Backend::start(&[
        "--body",
        "hello",
        "--header",
        "x-a: 1",
        "--record-dir",
        dir.to_str().unwrap(),
    ]);
    let reqs: [&[u8]; 2] = [
        b"GET /first HTTP/1.1\r\n\r\nGET /again HTTP/1.1\r\n\r\n",
        b"POST /second HTTP/1.1\r\nContent-Length: 2\r\n\r\n\x00\xff",
    ];
    for (i, req) in reqs.iter().enumerate() {
        let mut s = up.connect();
        send(&mut s, req);
        let want = if i == 0 { 2 } else { 1 };
        assert_eq!(read_n(&mut s, want * FIXED.len()), FIXED.repeat(want));
        drop(s);
        let file = dir.join(format!("conn-{}.bin", i + 1));
        assert!(
            eventually(|| std::fs::read(&file).ok().as_deref() == Some(*req)),
            "{} holds {:?}",
            file.display(),
            std::fs::read(&file).map(|b| String::from_utf8_lossy(&b).into_owned())
        );
    }
    assert!(!dir.join("conn-3.bin").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn close_after_reads_n_bytes_then_sends_fin_without_answering() {
    let dir = temp_dir("close-after");
    let up = Backend::start(&[
        "--mode",
        "close-after",
        "10",
        "--record-dir",
        dir.to_str().unwrap(),
    ]);
    let mut s = up.connect();
    send(&mut s, b"GET /0123456789 HTTP/1.1\r\n\r\n");
    assert_eq!(read_to_eof(&mut s), b"", "FIN and no byte of response");
    let rec = std::fs::read(dir.join("conn-1.bin")).unwrap();
    assert!(rec.len() >= 10 && b"GET /0123456789 HTTP/1.1\r\n\r\n".starts_with(&rec));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reset_after_reads_n_bytes_then_resets() {
    let up = Backend::start(&["--mode", "reset-after", "5"]);
    let mut s = up.connect();
    send(&mut s, b"GET / HTTP/1.1\r\n\r\n");
    let mut buf = [0u8; 64];
    let err = s.read(&mut buf).expect_err("a reset, not data or EOF");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
}

#[test]
fn stall_reads_the_request_and_never_answers() {
    let dir = temp_dir("stall");
    let up = Backend::start(&["--mode", "stall", "--record-dir", dir.to_str().unwrap()]);
    let mut s = up.connect();
    let req = b"GET /stall HTTP/1.1\r\n\r\n";
    send(&mut s, req);
    assert!(eventually(|| std::fs::read(dir.join("conn-1.bin"))
        .ok()
        .as_deref()
        == Some(&req[..])));
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    let err = s.read(&mut buf).expect_err("no answer, no close");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn early_answers_413_after_n_body_bytes_and_closes() {
    let up = Backend::start(&["--mode", "early", "--after", "4"]);
    let mut s = up.connect();
    send(
        &mut s,
        b"POST /up HTTP/1.1\r\nContent-Length: 100000\r\n\r\n0123456789",
    );
    let got = read_to_eof(&mut s);
    assert_eq!(
        got,
        b"HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    );
}

#[test]
fn delay_drip_and_raw_send_their_bytes() {
    let fixed = ["--body", "hello", "--header", "x-a: 1"];
    for mode in [
        vec!["--mode", "delay", "50"],
        vec!["--mode", "drip", "--chunk", "7", "--interval", "2"],
    ] {
        let up = Backend::start(&[mode.as_slice(), &fixed].concat());
        let mut s = up.connect();
        let started = std::time::Instant::now();
        send(&mut s, b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        assert_eq!(read_n(&mut s, 2 * FIXED.len()), FIXED.repeat(2), "{mode:?}");
        if mode[1] == "delay" {
            assert!(started.elapsed() >= Duration::from_millis(100));
        }
    }
    let dir = temp_dir("raw");
    let file = dir.join("resp.bin");
    std::fs::write(
        &file,
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    )
    .unwrap();
    let up = Backend::start(&["--mode", "raw", "--bytes-file", file.to_str().unwrap()]);
    let mut s = up.connect();
    send(&mut s, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(read_to_eof(&mut s), std::fs::read(&file).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refuse_binds_nothing() {
    let up = Backend::start(&["--mode", "refuse"]);
    let err = TcpStream::connect_timeout(&up.addr, IO_TIMEOUT).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn blackhole_fills_its_queue_then_connects_time_out() {
    let up = Backend::start(&["--mode", "blackhole"]);
    let mut held = Vec::new();
    let mut timed_out = false;
    for _ in 0..6 {
        match TcpStream::connect_timeout(&up.addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(e) => {
                assert!(
                    matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock),
                    "{e}"
                );
                timed_out = true;
                break;
            }
        }
    }
    assert!(timed_out, "{} connects all succeeded", held.len());
    let s = held
        .first_mut()
        .expect("the queue takes at least one connection");
    send(s, b"GET / HTTP/1.1\r\n\r\n");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(s.read(&mut [0u8; 8]).is_err(), "never answered");
}

#[test]
fn sigterm_stops_the_process_cleanly() {
    let mut up = Backend::start(&["--mode", "stall"]);
    let _held = up.connect();
    let status = up.terminate().expect("exits within 5 s");
    assert!(status.success(), "{status}");
}

#[test]
fn bad_arguments_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_upstream"))
        .args(["--mode", "drip"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--chunk"));
}

#[test]
fn connection_close_answers_then_fins_even_with_bytes_after_it() {
    let up = Backend::start(&["--body", "hello", "--header", "x-a: 1"]);
    let mut s = up.connect();
    // The second request must not be answered, and the unread bytes must not turn the close
    // into a reset that would destroy the first response.
    send(
        &mut s,
        b"GET /1 HTTP/1.1\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
    );
    assert_eq!(read_to_eof(&mut s), FIXED);
}

#[test]
fn a_malformed_head_is_closed_without_an_answer() {
    for mode in ["fixed", "echo"] {
        let up = Backend::start(&["--mode", mode]);
        let mut s = up.connect();
        send(&mut s, b"\x00\x01garbage\r\n\r\n");
        assert_eq!(read_to_eof(&mut s), b"", "{mode}");
    }
    // Pipelined behind a good request: the good one is answered first.
    let up = Backend::start(&["--body", "hello", "--header", "x-a: 1"]);
    let mut s = up.connect();
    send(&mut s, b"GET / HTTP/1.1\r\n\r\n\x00bad\r\n\r\n");
    assert_eq!(read_to_eof(&mut s), FIXED);
}

#[test]
fn echo_answers_head_without_a_body() {
    let up = Backend::start(&["--mode", "echo"]);
    let mut s = up.connect();
    let req = b"HEAD /h HTTP/1.1\r\nConnection: close\r\n\r\n";
    send(&mut s, req);
    let want = format!(
        "HTTP/1.1 200 OK\r\nx-echo-request-line: HEAD /h HTTP/1.1\r\ncontent-length: {}\r\n\r\n",
        req.len()
    );
    assert_eq!(String::from_utf8_lossy(&read_to_eof(&mut s)), want);
}

use super::*;

/// Feeds `input` in pieces of `step` bytes (as reads would deliver it, keeping unused bytes)
/// and returns every response that ended.
fn feed(input: &[u8], step: usize, head_request: bool) -> Result<Vec<Done>, ProtocolError> {
    let mut r = ResponseReader::default();
    let mut out = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    for piece in input.chunks(step) {
        buf.extend_from_slice(piece);
        let mut pos = 0;
        loop {
            let (used, done) = r.advance(&buf[pos..], head_request)?;
            pos += used;
            if let Some(d) = done {
                out.push(d);
            } else if used == 0 || pos == buf.len() {
                break;
            }
        }
        buf.drain(..pos);
    }
    out.extend(r.eof());
    Ok(out)
}

const OK: Done = Done {
    status: 200,
    close: false,
};

#[test]
fn content_length_and_pipelined_responses_at_every_split() {
    let two = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 500 X\r\ncontent-length: 0\r\n\r\n";
    for step in 1..two.len() {
        let got = feed(two, step, false).unwrap();
        assert_eq!(
            got,
            [
                OK,
                Done {
                    status: 500,
                    close: false
                }
            ],
            "step {step}"
        );
    }
}

#[test]
fn chunked_with_extensions_and_trailers_at_every_split() {
    let msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    for step in 1..msg.len() {
        let got = feed(msg, step, false).unwrap();
        assert_eq!(
            got,
            [
                OK,
                Done {
                    status: 204,
                    close: false
                }
            ],
            "step {step}"
        );
    }
}

#[test]
fn bodiless_responses_and_interim_heads() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
    assert_eq!(feed(head, 7, true).unwrap(), [OK]);
    let cont = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
    assert_eq!(feed(cont, 3, false).unwrap(), [OK]);
    let not_modified = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
    assert_eq!(feed(not_modified, 100, false).unwrap()[0].status, 304);
}

#[test]
fn close_is_reported_and_unframed_bodies_end_at_eof() {
    let close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        feed(close, 100, false).unwrap(),
        [Done {
            status: 200,
            close: true
        }]
    );
    let old = b"HTTP/1.0 200 OK\r\n\r\nbody until close";
    assert_eq!(
        feed(old, 4, false).unwrap(),
        [Done {
            status: 200,
            close: true
        }]
    );
    let ka = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(feed(ka, 100, false).unwrap(), [OK]);
}

#[test]
fn malformed_responses_are_protocol_errors() {
    let cases: [(&[u8], ProtocolError); 5] = [
        (b"HTTP/1.1 2x0 OK\r\n\r\n", ProtocolError::Head),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            ProtocolError::ContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            ProtocolError::ContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            ProtocolError::Chunk,
        ),
        (b"HTTP/1.1 101 Switching\r\n\r\n", ProtocolError::Upgrade),
    ];
    for (input, want) in cases {
        assert_eq!(
            feed(input, 1000, false),
            Err(want),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
    let huge = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
    assert_eq!(
        feed(&huge, MAX_HEAD * 2, false),
        Err(ProtocolError::HeadTooLarge)
    );
}

/// Mutated and truncated responses, split anywhere, never panic the reader.
#[test]
fn arbitrary_input_never_panics() {
    let seeds: [&[u8]; 3] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a\r\nhello\r\n0\r\nT: x\r\n\r\n",
        b"HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 204 No\r\nConnection: close\r\n\r\n",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet = b"0123456789abcdefHTP/1. \r\n:;chunkedContent-Length";
    for round in 0..20_000 {
        let mut input = seeds[round % seeds.len()].to_vec();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % input.len();
            match next() % 3 {
                0 => input[at] = alphabet[(next() as usize) % alphabet.len()],
                1 => input.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                _ => input.truncate(at.max(1)),
            }
        }
        let step = 1 + (next() as usize) % 16;
        let _ = feed(&input, step, next() % 5 == 0);
    }
}

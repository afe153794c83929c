//! Chunked decoder tests: RELIABILITY P09–P12. Every case runs on the whole input, one byte at
//! a time, and split in two at every offset; all must agree.

use super::*;

const EXT: usize = 16 * 1024;
const TRAILER: usize = 16 * 1024;

/// What a caller ends up with: the payload and the bytes left after the message (`done`), or
/// the payload so far and `None` when the input ended first.
type Outcome = Result<(Vec<u8>, Option<Vec<u8>>), BodyError>;

/// Feed `pieces` like a connection would: keep unconsumed bytes, append each read, decode until
/// the decoder needs more.
fn feed(dec: &mut ChunkedDecoder, pieces: &[&[u8]]) -> Outcome {
    let mut pending: Vec<u8> = Vec::new();
    let mut payload = Vec::new();
    let mut fed = 0;
    for piece in pieces {
        pending.extend_from_slice(piece);
        fed += piece.len();
        loop {
            let d = dec.decode(&pending)?;
            assert!(d.consumed <= pending.len());
            if let Some((s, e)) = d.data {
                assert!(s < e && e <= d.consumed, "{d:?}");
                payload.extend_from_slice(&pending[s..e]);
            }
            pending.drain(..d.consumed);
            if d.done {
                // Done is sticky and consumes nothing more.
                assert_eq!(
                    dec.decode(&pending),
                    Ok(Decoded {
                        consumed: 0,
                        data: None,
                        done: true
                    })
                );
                let all: Vec<u8> = pieces.concat();
                return Ok((payload, Some(all[fed - pending.len()..].to_vec())));
            }
            if d.consumed == 0 {
                break;
            }
        }
    }
    Ok((payload, None))
}

/// Decode `input` whole, byte by byte and split at every offset; all must agree.
fn decode_lim(input: &[u8], ext: usize, trailer: usize) -> Outcome {
    let whole = feed(&mut ChunkedDecoder::new(ext, trailer), &[input]);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let mut dec = ChunkedDecoder::new(ext, trailer);
    assert_eq!(
        feed(&mut dec, &bytes),
        whole,
        "byte by byte: {:?}",
        String::from_utf8_lossy(input)
    );
    // Every split offset for short inputs; a sample of them for long ones.
    for at in (0..=input.len()).filter(|at| input.len() < 4096 || at % 61 == 0) {
        // Reuse the decoder through `reset` to check it forgets the previous message.
        dec.reset();
        let (a, b) = input.split_at(at);
        assert_eq!(
            feed(&mut dec, &[a, b]),
            whole,
            "split at {at}: {:?}",
            String::from_utf8_lossy(input)
        );
    }
    whole
}

fn decode(input: &[u8]) -> Outcome {
    decode_lim(input, EXT, TRAILER)
}

fn done(payload: &[u8], rest: &[u8]) -> Outcome {
    Ok((payload.to_vec(), Some(rest.to_vec())))
}

fn is_malformed(o: &Outcome) -> bool {
    matches!(o, Err(BodyError::Malformed(_)))
}

#[test]
fn decodes_chunks_and_stops_at_the_end_of_the_message() {
    assert_eq!(
        decode(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
        done(b"hello world", b"")
    );
    assert_eq!(decode(b"0\r\n\r\n"), done(b"", b""));
    assert_eq!(
        decode(b"A\r\n0123456789\r\n0\r\n\r\nGET / HTTP/1.1\r\n"),
        done(b"0123456789", b"GET / HTTP/1.1\r\n")
    );
    assert_eq!(
        decode(b"a\r\n0123456789\r\n000\r\n\r\n"),
        done(b"0123456789", b"")
    );
    // P09: leading zeros beyond 16 digits are fine while the value fits.
    assert_eq!(
        decode(b"00000000000000000000001\r\nx\r\n0\r\n\r\n"),
        done(b"x", b"")
    );
}

#[test]
fn incomplete_input_is_not_done() {
    // P11 (d): no last chunk before EOF.
    assert_eq!(decode(b"1\r\nZ\r\n"), Ok((b"Z".to_vec(), None)));
    assert_eq!(decode(b"5\r\nhel"), Ok((b"hel".to_vec(), None)));
    assert_eq!(decode(b"0\r\nX-T: a\r\n"), Ok((Vec::new(), None)));
    assert_eq!(decode(b""), Ok((Vec::new(), None)));
}

#[test]
fn chunk_size_grammar() {
    // P09
    for bad in [
        &b"\r\n"[..],
        b";ext\r\n",
        b"0x5\r\n",
        b"+5\r\n",
        b"-0\r\n",
        b" 5\r\n",
        b"5\n",
        b"5\r\r;x",
        b"f0000000000000003\r\n",
        b"5 \r\n",
        b"5\t\r\n",
        b"g\r\n",
        b"5;\r\n",
        b"\n",
    ] {
        let mut input = bad.to_vec();
        input.extend_from_slice(b"hello\r\n0\r\n\r\n");
        assert!(
            is_malformed(&decode(&input)),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // 16 significant digits fit: the decoder accepts, the caller's body limit answers 413.
    let mut dec = ChunkedDecoder::new(EXT, TRAILER);
    let d = dec.decode(b"ffffffffffffffff\r\nabc").unwrap();
    assert_eq!((d.consumed, d.data, d.done), (21, Some((18, 21)), false));
    assert_eq!(dec.chunk_remaining(), u64::MAX - 3);
    let mut dec = ChunkedDecoder::new(EXT, TRAILER);
    assert_eq!(
        dec.decode(b"0000ffffffffffffffff\r\n").map(|d| d.consumed),
        Ok(22)
    );
    assert_eq!(dec.chunk_remaining(), u64::MAX);
}

#[test]
fn chunk_extensions() {
    // P10: valid extensions are skipped; CTL, LF, NUL or a bad shape is an error.
    for ok in [
        &b"5;a\r\n"[..],
        b"5;a=b\r\n",
        b"5 ; a = b ; c\r\n",
        b"5;a=\"q \\\" ;\xff\"\r\n",
        b"5;a=\"\"\r\n",
        b"5;a=b;c=\"d\"\r\n",
    ] {
        let mut input = ok.to_vec();
        input.extend_from_slice(b"hello\r\n0\r\n\r\n");
        assert_eq!(
            decode(&input),
            done(b"hello", b""),
            "{:?}",
            String::from_utf8_lossy(ok)
        );
    }
    for bad in [
        &b"1;a\nb\r\n"[..],
        b"1;a\x00b\r\n",
        b"1;a=\"x\ny\"\r\n",
        b"1;a=\"x\x7f\"\r\n",
        b"1;=b\r\n",
        b"1;a=\r\n",
        b"1;a b\r\n",
        b"1;a \r\n",
        b"1;a=b \r\n",
        b"1;a=\"b\"c\r\n",
        b"1;a=\"b\r\n",
        b"1;a,b\r\n",
        b"1;a=\"\\\x01\"\r\n",
    ] {
        let mut input = bad.to_vec();
        input.extend_from_slice(b"Z\r\n0\r\n\r\n");
        assert!(
            is_malformed(&decode(&input)),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn chunk_extension_bytes_are_capped_per_message() {
    // 10 bytes of extension per size line (`;abcdefghi` + CR): 20 for two chunks.
    let input = b"1;abcdefghi\r\nZ\r\n0;abcdefghi\r\n\r\n";
    assert_eq!(decode_lim(input, 20, TRAILER), done(b"Z", b""));
    assert_eq!(decode_lim(input, 19, TRAILER), Err(BodyError::TooLarge));
    assert_eq!(
        decode_lim(b"1;a\r\nZ\r\n0\r\n\r\n", 0, TRAILER),
        Err(BodyError::TooLarge)
    );
}

#[test]
fn chunk_data_must_end_with_crlf() {
    // P11 (a)–(c)
    for bad in [
        &b"4\r\nSEE-THIS\r\n0\r\n\r\n"[..],
        b"1\r\nZ0\r\n\r\n",
        b"1\r\nZ\n0\r\n\r\n",
        b"1\r\nZ\r0\r\n\r\n",
    ] {
        assert!(
            is_malformed(&decode(bad)),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn trailers_are_read_bounded_and_discarded() {
    // P12
    let input = b"1\r\nZ\r\n0\r\nX-T: a\r\nContent-Length: 99\r\nHost: evil\r\nTransfer-Encoding: x\r\n\r\nNEXT";
    assert_eq!(decode(input), done(b"Z", b"NEXT"));
    assert_eq!(decode(b"0\r\nX:\r\nY: \xa0\t\r\n\r\n"), done(b"", b""));
    let trailer = format!("X-Big: {}\r\n", "t".repeat(20 * 1024));
    let big = format!("0\r\n{trailer}\r\n");
    assert_eq!(decode(big.as_bytes()), Err(BodyError::TooLarge));
    // The limit is exact: field lines with their CRLFs, not the final empty line.
    assert_eq!(decode_lim(b"0\r\nX: a\r\n\r\n", 0, 6), done(b"", b""));
    assert_eq!(
        decode_lim(b"0\r\nX: a\r\n\r\n", 0, 5),
        Err(BodyError::TooLarge)
    );
    for bad in [
        &b"0\r\nX: a\nY: b\r\n\r\n"[..],
        b"0\r\nX: a\rb\r\n\r\n",
        b"0\r\nX: a\x00\r\n\r\n",
        b"0\r\n X: a\r\n\r\n",
        b"0\r\nX : a\r\n\r\n",
        b"0\r\n: a\r\n\r\n",
        b"0\r\nX\r\n\r\n",
        b"0\r\nX: a\r\n\n",
        b"0\r\n\n",
        b"0\r\n\r\r",
    ] {
        assert!(
            is_malformed(&decode(bad)),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn errors_are_sticky_and_reset_recovers() {
    let mut dec = ChunkedDecoder::new(EXT, TRAILER);
    let err = dec.decode(b"x\r\n").unwrap_err();
    assert_eq!(dec.decode(b"0\r\n\r\n"), Err(err));
    dec.reset();
    assert_eq!(
        dec.decode(b"0\r\n\r\n"),
        Ok(Decoded {
            consumed: 5,
            data: None,
            done: true
        })
    );
}

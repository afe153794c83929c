//! `parse_request` never panics; an accepted head has consistent spans; parsing a prefix
//! first (the resumed scan) gives the same result as parsing the whole input at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::http1::{Limits, RequestHead, Span, Status, TargetForm, parse_request};

const LIMITS: Limits = Limits {
    max_headers: 32,
    max_header_line: 2048,
    max_head_bytes: 8192,
    max_target: 1024,
    max_chunk_ext: 1024,
    max_trailer_bytes: 1024,
};

fuzz_target!(|data: &[u8]| {
    let mut head = RequestHead::with_limits(&LIMITS);
    let whole = parse_request(data, &LIMITS, &mut head);
    if whole == Ok(Status::Complete) {
        check_spans(data, &head);
    }

    // Split where the first byte says; the prefix must be Partial or the final answer.
    let split = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let mut resumed = RequestHead::with_limits(&LIMITS);
    match parse_request(&data[..split], &LIMITS, &mut resumed) {
        Ok(Status::Partial) => {
            assert_eq!(parse_request(data, &LIMITS, &mut resumed), whole);
            if whole == Ok(Status::Complete) {
                assert_eq!(resumed.head_len, head.head_len);
                assert_eq!(resumed.headers, head.headers);
                assert_eq!(resumed.framing, head.framing);
            }
        }
        Ok(Status::Complete) => {
            assert_eq!(whole, Ok(Status::Complete));
            assert_eq!(resumed.head_len, head.head_len);
        }
        Err(e) => assert_eq!(whole, Err(e)),
    }
});

fn check_spans(data: &[u8], head: &RequestHead) {
    let len = head.head_len;
    assert!(len <= data.len());
    let inside = |s: Span| {
        assert!(
            s.start <= s.end && s.end as usize <= len,
            "{s:?} beyond {len}"
        )
    };
    for s in [head.method, head.target, head.path] {
        inside(s);
    }
    assert!(!head.method.is_empty());
    let path = head.path.get(data);
    assert!(path.first() == Some(&b'/') || path == b"*", "path {path:?}");
    assert!(head.target.start <= head.path.start && head.path.end <= head.target.end);
    if let Some(q) = head.query {
        inside(q);
        assert!(head.path.end < q.start && q.end == head.target.end);
    }
    if let TargetForm::Absolute { authority } = head.form {
        inside(authority);
        assert!(head.target.start < authority.start && authority.end <= head.path.start);
    }
    assert!(head.headers.len() <= LIMITS.max_headers);
    for &(name, value) in &head.headers {
        inside(name);
        inside(value);
        assert!(!name.is_empty() && name.end < value.start);
    }
    if let Some(host) = head.host {
        inside(host);
    }
    assert_eq!(data.get(len - 4..len), Some(&b"\r\n\r\n"[..]));
}

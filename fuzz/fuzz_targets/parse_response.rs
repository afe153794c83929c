//! `parse_response` never panics and an accepted head has consistent spans.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::http1::{Limits, ResponseFraming, ResponseHead, Status, parse_response};

const LIMITS: Limits = Limits {
    max_headers: 32,
    max_header_line: 2048,
    max_head_bytes: 8192,
    max_target: 1024,
    max_chunk_ext: 1024,
    max_trailer_bytes: 1024,
};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else {
        return;
    };
    let was_head = flags & 1 == 1;
    let mut head = ResponseHead::with_limits(&LIMITS);
    if parse_response(input, &LIMITS, was_head, &mut head) != Ok(Status::Complete) {
        return;
    }
    let len = head.head_len;
    assert!(len <= input.len());
    assert!((100..=599).contains(&head.status));
    assert!(head.reason.start <= head.reason.end && head.reason.end as usize <= len);
    assert!(head.headers.len() <= LIMITS.max_headers);
    for &(n, v) in &head.headers {
        assert!(n.start < n.end && n.end as usize <= len);
        assert!(v.start <= v.end && v.end as usize <= len);
    }
    if was_head || matches!(head.status, 100..=199 | 204 | 304) {
        assert_eq!(head.framing, ResponseFraming::None);
    }
});

//! Request-head tests: RELIABILITY.md §1.1 P-cases decidable by the codec, L01–L03, and the
//! positive cases. Every input also goes through `parse`'s split check: each prefix, parsed
//! with a fresh head and with one head reused across growing prefixes (the resumed scan),
//! must be `Partial` or exactly the final result.

mod accept;
mod fields_oracle;
mod framing;
mod limits;
mod long_fields;
mod syntax;

use super::*;

const H: &str = "Host: gw.test\r\n";

fn limits() -> Limits {
    crate::http1::test_limits()
}

/// What a parse produced, owned, so results from different buffers and heads compare.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    method: Vec<u8>,
    target: Vec<u8>,
    form: TargetForm,
    path: Vec<u8>,
    query: Option<Vec<u8>>,
    version: Version,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    head_len: usize,
    framing: Framing,
    host: Option<Vec<u8>>,
    authority_host: Option<Vec<u8>>,
    close: bool,
    expect_continue: bool,
    upgrade: bool,
}

fn summarize(buf: &[u8], h: &RequestHead) -> Parsed {
    Parsed {
        method: h.method.get(buf).to_vec(),
        target: h.target.get(buf).to_vec(),
        form: h.form,
        path: h.path.get(buf).to_vec(),
        query: h.query.map(|q| q.get(buf).to_vec()),
        version: h.version,
        headers: h
            .headers
            .iter()
            .map(|(n, v)| (n.get(buf).to_vec(), v.get(buf).to_vec()))
            .collect(),
        head_len: h.head_len,
        framing: h.framing,
        host: h.host.map(|s| s.get(buf).to_vec()),
        authority_host: h.authority_host.map(|s| s.get(buf).to_vec()),
        close: h.close,
        expect_continue: h.expect_continue,
        upgrade: h.upgrade,
    }
}

fn once(buf: &[u8], lim: &Limits, head: &mut RequestHead) -> Result<Option<Parsed>, RequestError> {
    match parse_request(buf, lim, head)? {
        Status::Partial => Ok(None),
        Status::Complete => Ok(Some(summarize(buf, head))),
    }
}

/// Parse `buf` whole; check every prefix agrees (see the module doc); return the result.
fn parse_lim(buf: &[u8], lim: &Limits) -> Result<Parsed, RequestError> {
    let full = once(buf, lim, &mut RequestHead::with_limits(lim));
    let want = match &full {
        Ok(Some(p)) => Ok(Some(p)),
        Ok(None) => panic!(
            "complete input parsed as Partial: {:?}",
            String::from_utf8_lossy(buf)
        ),
        Err(e) => Err(*e),
    };
    let mut reused = RequestHead::with_limits(lim);
    for n in 0..=buf.len() {
        let prefix = &buf[..n];
        // A fresh head rescans the whole prefix: sample long inputs to keep this linear-ish.
        let fresh = (buf.len() < 4096 || n % 61 == 0 || buf.len() - n < 64)
            .then(|| once(prefix, lim, &mut RequestHead::with_limits(lim)));
        for got in fresh.into_iter().chain([once(prefix, lim, &mut reused)]) {
            match (&got, &want) {
                (Ok(None), _) => {}
                (Ok(Some(p)), Ok(Some(w))) if p == *w => {}
                (Err(e), Err(w)) if e == w => {}
                _ => panic!(
                    "prefix of {n}/{} bytes gave {got:?}, whole input {want:?}: {:?}",
                    buf.len(),
                    String::from_utf8_lossy(buf)
                ),
            }
        }
    }
    full.map(|p| p.unwrap_or_else(|| unreachable!()))
}

fn parse(buf: &[u8]) -> Result<Parsed, RequestError> {
    parse_lim(buf, &limits())
}

fn req(s: &str) -> Vec<u8> {
    s.replace("{H}", H).into_bytes()
}

fn status(buf: &[u8]) -> u16 {
    match parse(buf) {
        Ok(_) => 200,
        Err(e) => e.status(),
    }
}

#[track_caller]
fn expect_status(want: u16, cases: &[&[u8]]) {
    for &case in cases {
        assert_eq!(status(case), want, "{:?}", String::from_utf8_lossy(case));
    }
}

//! Sans-io request framing: where a request head ends and how long its body is, so the mock
//! can answer pipelined requests in order and skip bodies it does not care about.
//!
//! Lenient on purpose (this is a backend, not the gateway's strict front end): bare LF is
//! accepted in chunk lines, chunk extensions and trailers are skipped. No IO, no allocation.

/// What the framer consumed from the front of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// No complete unit at the front; read more.
    NeedMore,
    /// A request head of `len` bytes.
    Head { len: usize, info: HeadInfo },
    /// `len` bytes of body; the message is not over yet.
    Body { len: usize },
    /// The last `len` bytes of the message (0 for a bodiless request).
    End { len: usize },
    /// Not HTTP/1.x: the connection should be closed.
    Malformed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadInfo {
    /// Length of the request line, without its CRLF.
    pub line_len: usize,
    /// `HEAD` request: answer without a body.
    pub head_method: bool,
    /// The client asked to close after this response (`Connection: close`, or HTTP/1.0
    /// without `keep-alive`).
    pub close: bool,
    /// `x-upstream-then-close: 1`: the test asks the mock to close after answering without
    /// saying so (no `Connection: close` in the response), like a backend whose keep-alive
    /// timer fired.
    pub then_close: bool,
    pub body: BodyKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    None,
    Length(u64),
    Chunked,
}

/// Per-connection framing state. Lifecycle: `Head` → (`Length` | `Chunked` | `Bodiless`) →
/// `Head` again for the next pipelined request.
#[derive(Debug, Default)]
pub struct Framer {
    state: State,
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Head,
    Bodiless,
    Length(u64),
    Chunked(Chunked),
}

const MAX_HEADERS: usize = 128;

impl Framer {
    /// Consume one unit from the front of `data`.
    pub fn step(&mut self, data: &[u8]) -> Step {
        match &mut self.state {
            State::Head => match parse_head(data) {
                Ok(Some((len, info))) => {
                    self.state = match info.body {
                        BodyKind::None | BodyKind::Length(0) => State::Bodiless,
                        BodyKind::Length(n) => State::Length(n),
                        BodyKind::Chunked => State::Chunked(Chunked::default()),
                    };
                    Step::Head { len, info }
                }
                Ok(None) => Step::NeedMore,
                Err(()) => Step::Malformed,
            },
            State::Bodiless => {
                self.state = State::Head;
                Step::End { len: 0 }
            }
            State::Length(remaining) => {
                if data.is_empty() {
                    return Step::NeedMore;
                }
                let take = (*remaining).min(data.len() as u64);
                *remaining -= take;
                let len = take as usize;
                if *remaining == 0 {
                    self.state = State::Head;
                    Step::End { len }
                } else {
                    Step::Body { len }
                }
            }
            State::Chunked(c) => match c.feed(data) {
                Err(()) => Step::Malformed,
                Ok((len, true)) => {
                    self.state = State::Head;
                    Step::End { len }
                }
                Ok((0, false)) => Step::NeedMore,
                Ok((len, false)) => Step::Body { len },
            },
        }
    }

    /// True between messages (nothing of the next request consumed yet).
    pub fn at_head(&self) -> bool {
        matches!(self.state, State::Head)
    }
}

/// Parse a request head at the front of `data`: `Ok(None)` if incomplete.
fn parse_head(data: &[u8]) -> Result<Option<(usize, HeadInfo)>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(data) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let line_len = data
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| {
            if i > 0 && data[i - 1] == b'\r' {
                i - 1
            } else {
                i
            }
        })
        .unwrap_or(0);
    let mut body = BodyKind::None;
    let mut close = req.version == Some(0);
    let mut then_close = false;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            if body == BodyKind::None {
                body = BodyKind::Length(parse_decimal(h.value).ok_or(())?);
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if has_token(h.value, b"chunked") {
                body = BodyKind::Chunked;
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            if has_token(h.value, b"close") {
                close = true;
            } else if has_token(h.value, b"keep-alive") {
                close = false;
            }
        } else if h.name.eq_ignore_ascii_case("x-upstream-then-close") {
            then_close = h.value.trim_ascii() == b"1";
        }
    }
    let info = HeadInfo {
        line_len,
        head_method: req.method == Some("HEAD"),
        close,
        then_close,
        body,
    };
    Ok(Some((len, info)))
}

fn parse_decimal(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// Incremental chunked-body skipper.
#[derive(Debug)]
enum Chunked {
    Size { value: u64 },
    Ext { value: u64 },
    Data(u64),
    DataEnd,
    Trailer { line_empty: bool },
}

impl Default for Chunked {
    fn default() -> Chunked {
        Chunked::Size { value: 0 }
    }
}

impl Chunked {
    /// Skip bytes of `data`; returns how many were consumed and whether the body ended.
    fn feed(&mut self, data: &[u8]) -> Result<(usize, bool), ()> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            match self {
                Chunked::Size { value } => {
                    if let Some(d) = (b as char).to_digit(16) {
                        *value = value.checked_mul(16).ok_or(())? + u64::from(d);
                    } else if b == b';' || b == b' ' || b == b'\t' {
                        *self = Chunked::Ext { value: *value };
                    } else if b == b'\n' {
                        *self = after_size(*value);
                    } else if b != b'\r' {
                        return Err(());
                    }
                }
                Chunked::Ext { value } => {
                    if b == b'\n' {
                        *self = after_size(*value);
                    }
                }
                Chunked::Data(remaining) => {
                    let take = (*remaining).min((data.len() - i) as u64);
                    *remaining -= take;
                    i += take as usize;
                    if *remaining == 0 {
                        *self = Chunked::DataEnd;
                    }
                    continue;
                }
                Chunked::DataEnd => {
                    if b == b'\n' {
                        *self = Chunked::Size { value: 0 };
                    } else if b != b'\r' {
                        return Err(());
                    }
                }
                Chunked::Trailer { line_empty } => {
                    if b == b'\n' {
                        if *line_empty {
                            return Ok((i + 1, true));
                        }
                        *line_empty = true;
                    } else if b != b'\r' {
                        *line_empty = false;
                    }
                }
            }
            i += 1;
        }
        Ok((i, false))
    }
}

fn after_size(value: u64) -> Chunked {
    if value == 0 {
        Chunked::Trailer { line_empty: true }
    } else {
        Chunked::Data(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `input` split at `split`, returning the steps (NeedMore excluded).
    fn run(input: &[u8], split: usize) -> Vec<Step> {
        let mut f = Framer::default();
        let mut out = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        for part in [&input[..split], &input[split..]] {
            buf.extend_from_slice(part);
            loop {
                let s = f.step(&buf);
                let n = match s {
                    Step::NeedMore | Step::Malformed => 0,
                    Step::Head { len, .. } | Step::Body { len } | Step::End { len } => len,
                };
                if s == Step::NeedMore {
                    break;
                }
                out.push(s);
                if s == Step::Malformed {
                    return out;
                }
                buf.drain(..n);
            }
        }
        out
    }

    fn ends(steps: &[Step]) -> usize {
        steps
            .iter()
            .filter(|s| matches!(s, Step::End { .. }))
            .count()
    }

    #[test]
    fn pipelined_requests_with_every_body_kind_at_every_split() {
        let input: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
            POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
            POST /y HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n\
            HEAD /z HTTP/1.1\r\nConnection: close\r\nX-Upstream-Then-Close: 1\r\n\r\n";
        for split in 0..=input.len() {
            let steps = run(input, split);
            assert_eq!(ends(&steps), 4, "split {split}: {steps:?}");
            let consumed: usize = steps
                .iter()
                .map(|s| match s {
                    Step::Head { len, .. } | Step::Body { len } | Step::End { len } => *len,
                    _ => 0,
                })
                .sum();
            assert_eq!(consumed, input.len(), "split {split}");
            let heads: Vec<HeadInfo> = steps
                .iter()
                .filter_map(|s| match s {
                    Step::Head { info, .. } => Some(*info),
                    _ => None,
                })
                .collect();
            assert_eq!(heads[0].line_len, 14);
            assert_eq!(heads[1].body, BodyKind::Length(5));
            assert_eq!(heads[2].body, BodyKind::Chunked);
            assert!(heads[3].head_method && heads[3].close && !heads[0].close);
            assert!(heads[3].then_close && !heads[0].then_close);
        }
    }

    #[test]
    fn garbage_and_bad_lengths_are_malformed() {
        assert_eq!(run(b"\x00\x01 nonsense\r\n\r\n", 0), vec![Step::Malformed]);
        let bad_cl = run(b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 0);
        assert_eq!(bad_cl, vec![Step::Malformed]);
        let bad_chunk = run(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            0,
        );
        assert_eq!(bad_chunk.last(), Some(&Step::Malformed));
    }

    #[test]
    fn http10_closes_unless_keep_alive() {
        let s = run(b"GET / HTTP/1.0\r\n\r\n", 0);
        assert!(matches!(s[0], Step::Head { info, .. } if info.close));
        let s = run(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0);
        assert!(matches!(s[0], Step::Head { info, .. } if !info.close));
    }
}

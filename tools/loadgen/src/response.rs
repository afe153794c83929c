//! Sans-io HTTP/1.1 response reader: the head with httparse, then the body (Content-Length,
//! chunked, or until close) read and discarded. No IO, no clock, no allocation.
//!
//! Lifecycle: *Head* → (1xx: *Head* again) → *Length* | *Chunked* | *UntilClose* → *Head*.
//! `advance` reports how many bytes it used and, when a response ended, its `Done`.

/// A head larger than this is a protocol error (the read buffer holds at least this much).
pub const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    pub status: u16,
    /// The server said `Connection: close` (or spoke HTTP/1.0 without keep-alive).
    pub close: bool,
}

/// What was wrong with a response; counted as a protocol error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    Head,
    HeadTooLarge,
    ContentLength,
    Chunk,
    Upgrade,
}

#[derive(Debug, Default)]
pub struct ResponseReader {
    state: State,
    current: Option<Done>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Head,
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size {
        size: u64,
        digits: u8,
    },
    /// Chunk extension or the CR before the LF of the size line.
    SizeRest {
        size: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    /// At the start of a trailer line; an empty line ends the message.
    TrailerStart,
    TrailerLine,
    TrailerLf,
}

impl ResponseReader {
    /// Forget any partial response (a new connection).
    pub fn reset(&mut self) {
        *self = ResponseReader::default();
    }

    /// Consumes a prefix of `buf`. Returns the bytes used and `Some` when a response ended;
    /// `(0, None)` means more bytes are needed. `head_request`: the oldest request was HEAD.
    pub fn advance(
        &mut self,
        buf: &[u8],
        head_request: bool,
    ) -> Result<(usize, Option<Done>), ProtocolError> {
        match self.state {
            State::Head => self.head(buf, head_request),
            State::Length(left) => {
                let n = left.min(buf.len() as u64);
                self.state = State::Length(left - n);
                Ok((n as usize, if left == n { self.finish() } else { None }))
            }
            State::Chunked(chunk) => self.chunked(chunk, buf),
            State::UntilClose => Ok((buf.len(), None)),
        }
    }

    /// The connection reached EOF: a body delimited by the close ends here.
    pub fn eof(&mut self) -> Option<Done> {
        match self.state {
            State::UntilClose => self.finish(),
            _ => None,
        }
    }

    fn finish(&mut self) -> Option<Done> {
        self.state = State::Head;
        self.current.take()
    }

    fn head(
        &mut self,
        buf: &[u8],
        head_request: bool,
    ) -> Result<(usize, Option<Done>), ProtocolError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let used = match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
                return Err(ProtocolError::HeadTooLarge);
            }
            Ok(httparse::Status::Partial) => return Ok((0, None)),
            Err(httparse::Error::TooManyHeaders) => return Err(ProtocolError::HeadTooLarge),
            Err(_) => return Err(ProtocolError::Head),
        };
        let status = resp.code.ok_or(ProtocolError::Head)?;
        let mut close = resp.version == Some(0);
        let mut length = None;
        let mut chunked = false;
        for h in resp.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let v = std::str::from_utf8(h.value).map_err(|_| ProtocolError::ContentLength)?;
                let n: u64 = v.trim().parse().map_err(|_| ProtocolError::ContentLength)?;
                if length.is_some_and(|l| l != n) {
                    return Err(ProtocolError::ContentLength);
                }
                length = Some(n);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = last_token_is(h.value, b"chunked");
            } else if h.name.eq_ignore_ascii_case("connection") {
                if has_token(h.value, b"close") {
                    close = true;
                } else if has_token(h.value, b"keep-alive") {
                    close = false;
                }
            }
        }
        match status {
            101 => return Err(ProtocolError::Upgrade),
            100..=199 => return Ok((used, None)), // interim: the final head follows
            _ => {}
        }
        self.current = Some(Done { status, close });
        self.state = if head_request || status == 204 || status == 304 {
            State::Length(0)
        } else if chunked {
            State::Chunked(Chunk::Size { size: 0, digits: 0 })
        } else if let Some(n) = length {
            State::Length(n)
        } else {
            self.current = Some(Done {
                status,
                close: true,
            });
            State::UntilClose
        };
        if self.state == State::Length(0) {
            return Ok((used, self.finish()));
        }
        Ok((used, None))
    }

    fn chunked(
        &mut self,
        mut chunk: Chunk,
        buf: &[u8],
    ) -> Result<(usize, Option<Done>), ProtocolError> {
        let mut i = 0;
        while i < buf.len() {
            if let Chunk::Data(left) = chunk {
                let n = left.min((buf.len() - i) as u64);
                i += n as usize;
                chunk = if left == n {
                    Chunk::DataCr
                } else {
                    Chunk::Data(left - n)
                };
                continue;
            }
            let b = buf[i];
            i += 1;
            chunk = match (chunk, b) {
                (Chunk::Size { size, digits }, b) if b.is_ascii_hexdigit() => {
                    if digits >= 15 {
                        return Err(ProtocolError::Chunk);
                    }
                    let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                    Chunk::Size {
                        size: size * 16 + d,
                        digits: digits + 1,
                    }
                }
                (Chunk::Size { digits: 0, .. }, _) => return Err(ProtocolError::Chunk),
                (Chunk::Size { size, .. } | Chunk::SizeRest { size }, b'\n') => {
                    if size == 0 {
                        Chunk::TrailerStart
                    } else {
                        Chunk::Data(size)
                    }
                }
                (Chunk::Size { size, .. } | Chunk::SizeRest { size }, _) => {
                    Chunk::SizeRest { size }
                }
                (Chunk::DataCr, b'\r') => Chunk::DataLf,
                (Chunk::DataCr | Chunk::DataLf, b'\n') => Chunk::Size { size: 0, digits: 0 },
                (Chunk::DataCr | Chunk::DataLf, _) => return Err(ProtocolError::Chunk),
                (Chunk::TrailerStart, b'\r') => Chunk::TrailerLf,
                (Chunk::TrailerStart | Chunk::TrailerLf, b'\n') => {
                    return Ok((i, self.finish()));
                }
                (Chunk::TrailerLf, _) => return Err(ProtocolError::Chunk),
                (Chunk::TrailerLine, b'\n') => Chunk::TrailerStart,
                (Chunk::TrailerStart | Chunk::TrailerLine, _) => Chunk::TrailerLine,
                (Chunk::Data(_), _) => unreachable!("handled above"),
            };
        }
        self.state = State::Chunked(chunk);
        Ok((i, None))
    }
}

fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(|t| t.trim_ascii())
}

fn has_token(value: &[u8], token: &[u8]) -> bool {
    tokens(value).any(|t| t.eq_ignore_ascii_case(token))
}

fn last_token_is(value: &[u8], token: &[u8]) -> bool {
    tokens(value)
        .last()
        .is_some_and(|t| t.eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests;

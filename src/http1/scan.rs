//! Incremental structural scan of a message head, run before httparse.
//!
//! httparse accepts bare LF as a line end and only reports limits once the head is complete;
//! this scanner walks the bytes once, in order, and decides everything that depends only on
//! *position*: CRLF-only line ends (no bare LF, no bare CR), no obs-fold, the request-line
//! shape (`method SP target SP version`, single spaces), and every size limit. Because each
//! decision is made at the byte that causes it, a prefix of the input either is still
//! `Partial` or fails with exactly the error the whole input fails with.
//!
//! Lifecycle: `Scan::default()` → `run` until `Step::StartLine` (the caller checks the start
//! line) → `run` until `Step::Complete(head_len)`. `run` may stop with `Step::Partial` at any
//! point and be resumed later with a longer buffer that starts with the same bytes.

/// What the first line of the head is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// `method SP request-target SP HTTP-version`, shape checked byte by byte.
    Request,
    /// A status line: only its line end is checked here, httparse checks the rest.
    Response,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct ScanLimits {
    pub mode: Mode,
    /// The head, leading empty lines to the final CRLF included, is at most this long.
    pub max_head: usize,
    /// At most this many field lines.
    pub max_fields: usize,
    /// A field line without its CRLF is at most this long.
    pub max_line: usize,
    /// The request-target is at most this long.
    pub max_target: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ScanError {
    Bad(&'static str),
    /// A field line, the field count or the head is over its limit.
    TooLarge,
    /// The request-target is over its limit.
    UriTooLong,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// All bytes so far are fine; more are needed.
    Partial,
    /// The start line just ended (its CRLF consumed); `Scan::line` describes it.
    StartLine,
    /// The head is complete and `usize` bytes long.
    Complete(usize),
}

/// Offsets of the start line's parts. For a response only `start` and `end` are set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct StartLine {
    pub start: usize,
    pub target: usize,
    pub version: usize,
    /// Offset of the CR that ends the line.
    pub end: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum At {
    /// Before the start line; empty lines (CRLF) are skipped (RFC 9112 §2.2).
    #[default]
    Lead,
    LeadLf,
    Method,
    Target,
    Version,
    /// Response status line.
    Status,
    StartLf,
    LineStart,
    Field,
    FieldLf,
    EndLf,
    Done,
}

/// Longest method accepted; registered methods are at most 17 bytes.
pub(super) const MAX_METHOD: usize = 32;
/// `HTTP/x.y`
const VERSION_LEN: usize = 8;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Scan {
    /// Bytes of the buffer already scanned.
    pos: usize,
    at: At,
    line_start: usize,
    fields: usize,
    pub line: StartLine,
}

impl Scan {
    /// Take the scan state saved by an earlier partial parse of the same buffer, if it still
    /// fits `len` bytes; otherwise start from the beginning.
    pub(super) fn resume(saved: &mut Scan, len: usize) -> Scan {
        let scan = std::mem::take(saved);
        if scan.pos() > 0 && scan.pos() <= len {
            scan
        } else {
            Scan::default()
        }
    }

    /// Bytes already scanned: a resumed scan needs a buffer at least this long.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Scan on from where the last call stopped.
    pub fn run(&mut self, buf: &[u8], lim: &ScanLimits) -> Result<Step, ScanError> {
        if self.at == At::Done {
            return Ok(Step::Complete(self.pos));
        }
        if self.pos > 0 && self.pos >= lim.max_head {
            return Err(ScanError::TooLarge); // stopped at the limit after the start line
        }
        while let Some(&b) = buf.get(self.pos) {
            // Most of a head is field lines and the target: skip the bytes there that need no
            // decision (up to the line, target and head limits) in one search.
            let skip = match self.at {
                At::Field if !matches!(b, b'\r' | b'\n') => {
                    let stop = self
                        .line_start
                        .saturating_add(lim.max_line)
                        .min(lim.max_head.saturating_sub(1));
                    skip_to(buf, self.pos, stop, super::swar::find_cr_lf)
                }
                // A method is tchars up to its limit: the byte after them decides.
                At::Method if is_tchar(b) => {
                    let stop = self
                        .line
                        .start
                        .saturating_add(MAX_METHOD)
                        .min(lim.max_head.saturating_sub(1));
                    skip_to(buf, self.pos, stop, |rest| Some(tchar_run(rest)))
                }
                // `HTTP/x.y`: up to its length, only CR, LF, SP and HTAB need a decision.
                At::Version if !matches!(b, b'\r' | b'\n' | b' ' | b'\t') => {
                    let stop = self
                        .line
                        .version
                        .saturating_add(VERSION_LEN)
                        .min(lim.max_head.saturating_sub(1));
                    skip_to(buf, self.pos, stop, |rest| {
                        rest.iter()
                            .position(|&b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
                    })
                }
                At::Target if !matches!(b, b' ' | b'\r' | b'\n') => {
                    let stop = self
                        .line
                        .target
                        .saturating_add(lim.max_target)
                        .min(lim.max_head.saturating_sub(1));
                    skip_to(buf, self.pos, stop, super::swar::find_sp_cr_lf)
                }
                _ => self.pos,
            };
            if skip > self.pos {
                self.pos = skip;
                continue;
            }
            let pos = self.pos;
            self.pos += 1;
            match self.at {
                At::Lead => match b {
                    b'\r' => self.at = At::LeadLf,
                    b'\n' => return Err(ScanError::Bad("bare LF")),
                    _ => {
                        self.line.start = pos;
                        self.pos = pos; // look at `b` again as the first byte of the line
                        self.at = match lim.mode {
                            Mode::Request => At::Method,
                            Mode::Response => At::Status,
                        };
                    }
                },
                At::LeadLf | At::StartLf | At::FieldLf | At::EndLf if b != b'\n' => {
                    return Err(ScanError::Bad("bare CR"));
                }
                At::LeadLf => self.at = At::Lead,
                At::Method => match b {
                    b' ' if pos == self.line.start => return Err(ScanError::Bad("empty method")),
                    b' ' => {
                        self.line.target = pos + 1;
                        self.at = At::Target;
                    }
                    _ if !is_tchar(b) => return Err(ScanError::Bad("invalid method")),
                    _ if pos - self.line.start >= MAX_METHOD => {
                        return Err(ScanError::Bad("method too long"));
                    }
                    _ => {}
                },
                At::Target => match b {
                    b' ' if pos == self.line.target => {
                        return Err(ScanError::Bad("extra whitespace in request line"));
                    }
                    b' ' => {
                        self.line.version = pos + 1;
                        self.at = At::Version;
                    }
                    b'\r' | b'\n' => return Err(ScanError::Bad("request line without version")),
                    _ if pos - self.line.target >= lim.max_target => {
                        return Err(ScanError::UriTooLong);
                    }
                    _ => {}
                },
                At::Version => match b {
                    b'\r' => {
                        self.line.end = pos;
                        self.at = At::StartLf;
                    }
                    b'\n' => return Err(ScanError::Bad("bare LF")),
                    b' ' | b'\t' => return Err(ScanError::Bad("extra whitespace in request line")),
                    _ if pos - self.line.version >= VERSION_LEN => {
                        return Err(ScanError::Bad("invalid HTTP version"));
                    }
                    _ => {}
                },
                At::Status => match b {
                    b'\r' => {
                        self.line.end = pos;
                        self.at = At::StartLf;
                    }
                    b'\n' => return Err(ScanError::Bad("bare LF")),
                    _ => {}
                },
                At::StartLf => {
                    self.at = At::LineStart;
                    return Ok(Step::StartLine);
                }
                At::LineStart => match b {
                    b'\r' => self.at = At::EndLf,
                    b'\n' => return Err(ScanError::Bad("bare LF")),
                    b' ' | b'\t' => return Err(ScanError::Bad("obsolete line folding")),
                    _ => {
                        self.fields += 1;
                        if self.fields > lim.max_fields {
                            return Err(ScanError::TooLarge);
                        }
                        self.line_start = pos;
                        self.pos = pos; // the first byte of the field line, seen again
                        self.at = At::Field;
                    }
                },
                At::Field => match b {
                    b'\r' => self.at = At::FieldLf,
                    b'\n' => return Err(ScanError::Bad("bare LF")),
                    _ if pos - self.line_start >= lim.max_line => return Err(ScanError::TooLarge),
                    _ => {}
                },
                At::FieldLf => self.at = At::LineStart,
                At::EndLf => {
                    self.at = At::Done;
                    return Ok(Step::Complete(self.pos));
                }
                At::Done => {
                    self.pos = pos;
                    return Ok(Step::Complete(pos));
                }
            }
            // The head may be `max_head` bytes long, so reaching that many bytes without the
            // end of the head is already over the limit.
            if self.pos >= lim.max_head {
                return Err(ScanError::TooLarge);
            }
        }
        Ok(Step::Partial)
    }
}

/// The first position from `pos` that the byte-by-byte scan must look at: the next byte
/// `find` finds, or `stop` (where a limit applies), or the end of `buf` (partial). Bytes
/// before it are ones the scan would accept without a decision, so skipping them changes no
/// outcome. Always moves past `pos` when `pos < stop`, as `buf[pos]` is such a byte.
fn skip_to(buf: &[u8], pos: usize, stop: usize, find: impl Fn(&[u8]) -> Option<usize>) -> usize {
    let end = stop.min(buf.len());
    if pos >= end {
        return pos;
    }
    match buf.get(pos..end).and_then(find) {
        Some(i) => pos + i,
        None => end,
    }
}

/// RFC 9110 §5.6.2 `tchar` (one table load: names and methods are checked a byte at a time).
#[inline]
pub(super) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// The first position in `bytes` that is not a `tchar`, or its length.
#[inline]
pub(super) fn tchar_run(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(bytes.len())
}

static TCHAR: [bool; 256] = tchars();

const fn tchars() -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8,
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9'
            | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
            | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~');
        b += 1;
    }
    table
}

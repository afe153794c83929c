//! Chunked transfer-coding decoder (RFC 9112 §7.1), sans-io and strict.
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-size   = 1*HEXDIG                  ; ≤ 16 significant digits, leading zeros allowed
//! chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )
//! ```
//!
//! Lifecycle: `Size → (Ext…) → SizeLf → Data → DataCr → DataLf → Size …`; a zero size goes
//! `SizeLf → TrailerStart → (Trailer… → TrailerStart)* → EndLf → Done`. Any violation moves to
//! `Failed`, which repeats its error. Every byte is checked where it arrives, so input split at
//! any offset decodes to the same payload and the same error.
//!
//! Invariants of each `Decoded` returned for `input`: `consumed <= input.len()`; `data`, if
//! any, is a non-empty range inside `..consumed` holding payload only; nothing after the
//! final CRLF of the message is consumed (pipelined bytes stay with the caller); after
//! `done`, further calls consume nothing and report `done`.

use super::fields::{is_qdtext, is_quoted_pair_char};
use super::scan::is_tchar;

/// Why a body could not be decoded. Every variant means: reject (400) and close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Malformed chunk size line, data framing or trailer.
    Malformed(&'static str),
    /// Chunk extensions over `max_chunk_ext` or trailers over `max_trailer_bytes`.
    TooLarge,
}

/// One step of decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes consumed by this step (framing and data).
    pub consumed: usize,
    /// Payload bytes inside the consumed input, as a range of `input`.
    pub data: Option<(usize, usize)>,
    /// The last chunk and the (discarded) trailer block have been consumed.
    pub done: bool,
}

/// Strict incremental chunked decoder. Trailers are read, bounded and discarded.
#[derive(Clone, Debug, Default)]
pub struct ChunkedDecoder {
    max_chunk_ext: usize,
    max_trailer_bytes: usize,
    state: State,
    /// Chunk-extension bytes seen in this message: from the byte after the size to the CR.
    ext_bytes: usize,
    /// Trailer-section bytes seen in this message (field lines with their CRLFs).
    trailer_bytes: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    /// In the chunk size; `digits` significant hex digits so far (leading zeros skipped).
    #[default]
    SizeStart,
    Size {
        size: u64,
        digits: u8,
    },
    /// Extension parts; the chunk size is carried along.
    Ext(Ext, u64),
    /// CR of the size line seen.
    SizeLf(u64),
    Data(u64),
    DataCr,
    DataLf,
    TrailerStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    EndLf,
    Done,
    Failed(BodyError),
}

/// Where inside `chunk-ext` we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ext {
    /// Whitespace after the size: only more whitespace or `;` may follow.
    SizeWs,
    /// After `;`, before the name.
    PreName,
    Name,
    /// Whitespace after a name: `=` or `;` must follow.
    PostName,
    /// After `=`, before the value.
    PreValue,
    Token,
    Quoted,
    QuotedEscape,
    /// Right after a quoted-string: `;`, CR or whitespace.
    AfterQuoted,
    /// Whitespace after a value: only more whitespace or `;` may follow.
    PostValue,
}

const fn malformed(reason: &'static str) -> BodyError {
    BodyError::Malformed(reason)
}

/// A chunk size has at most this many significant hex digits (u64).
const MAX_SIZE_DIGITS: u8 = 16;

impl ChunkedDecoder {
    pub fn new(max_chunk_ext: usize, max_trailer_bytes: usize) -> ChunkedDecoder {
        ChunkedDecoder {
            max_chunk_ext,
            max_trailer_bytes,
            ..ChunkedDecoder::default()
        }
    }

    /// Reset for a new message, keeping the limits.
    pub fn reset(&mut self) {
        *self = ChunkedDecoder::new(self.max_chunk_ext, self.max_trailer_bytes);
    }

    /// Payload bytes of the current chunk still to come (0 between chunks). A caller can
    /// compare this against its body limit as soon as a chunk size is read (P09, 413).
    pub fn chunk_remaining(&self) -> u64 {
        match self.state {
            State::Data(n) => n,
            _ => 0,
        }
    }

    /// Decode from `input`. Call repeatedly with the unconsumed rest; `consumed == 0` with
    /// `done == false` means more input is needed. Total payload size is checked by the caller.
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, BodyError> {
        let mut pos = 0;
        while let Some(&b) = input.get(pos) {
            match self.state {
                State::Data(remaining) => {
                    let avail = input.len() - pos;
                    let take = usize::try_from(remaining).map_or(avail, |r| r.min(avail));
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data(left)
                    };
                    let end = pos + take;
                    return Ok(Decoded {
                        consumed: end,
                        data: Some((pos, end)),
                        done: false,
                    });
                }
                State::Done => break,
                State::Failed(e) => return Err(e),
                _ => {}
            }
            if let Err(e) = self.step(b) {
                self.state = State::Failed(e);
                return Err(e);
            }
            pos += 1;
        }
        match self.state {
            State::Failed(e) => Err(e),
            state => Ok(Decoded {
                consumed: pos,
                data: None,
                done: state == State::Done,
            }),
        }
    }

    /// Advance over one framing byte (never called in `Data`, `Done` or `Failed`).
    fn step(&mut self, b: u8) -> Result<(), BodyError> {
        self.state = match self.state {
            State::SizeStart => match hex(b) {
                Some(d) => State::Size {
                    size: u64::from(d),
                    digits: u8::from(d != 0),
                },
                None => return Err(malformed("chunk size must start with a hex digit")),
            },
            State::Size { size, digits } => match hex(b) {
                Some(d) => {
                    let digits = digits + u8::from(digits > 0 || d != 0);
                    if digits > MAX_SIZE_DIGITS {
                        return Err(malformed("chunk size overflows"));
                    }
                    State::Size {
                        size: size << 4 | u64::from(d),
                        digits,
                    }
                }
                None => self.after_size(b, size)?,
            },
            State::Ext(ext, size) => {
                self.ext_bytes += usize::from(b != b'\r');
                if self.ext_bytes > self.max_chunk_ext {
                    return Err(BodyError::TooLarge);
                }
                ext_step(ext, b, size)?
            }
            State::SizeLf(size) => match (b, size) {
                (b'\n', 0) => State::TrailerStart,
                (b'\n', n) => State::Data(n),
                _ => return Err(malformed("CR not followed by LF")),
            },
            State::DataCr if b == b'\r' => State::DataLf,
            State::DataCr => return Err(malformed("chunk data not followed by CRLF")),
            State::DataLf | State::TrailerLf | State::EndLf if b != b'\n' => {
                return Err(malformed("CR not followed by LF"));
            }
            State::DataLf => State::SizeStart,
            State::TrailerStart => match b {
                b'\r' => State::EndLf,
                _ if is_tchar(b) => self.trailer_byte(State::TrailerName)?,
                b' ' | b'\t' => return Err(malformed("obsolete line folding in trailer")),
                _ => return Err(malformed("invalid trailer field name")),
            },
            State::TrailerName => match b {
                b':' => self.trailer_byte(State::TrailerValue)?,
                _ if is_tchar(b) => self.trailer_byte(State::TrailerName)?,
                _ => return Err(malformed("invalid trailer field name")),
            },
            State::TrailerValue => match b {
                b'\r' => self.trailer_byte(State::TrailerLf)?,
                b'\t' | b' '..=0x7e | 0x80..=0xff => self.trailer_byte(State::TrailerValue)?,
                _ => return Err(malformed("invalid trailer field value")),
            },
            State::TrailerLf => self.trailer_byte(State::TrailerStart)?,
            State::EndLf => State::Done,
            // Handled by `decode` before calling `step`.
            State::Data(_) | State::Done | State::Failed(_) => self.state,
        };
        Ok(())
    }

    /// The first byte after the size digits.
    fn after_size(&mut self, b: u8, size: u64) -> Result<State, BodyError> {
        let ext = match b {
            b'\r' => return Ok(State::SizeLf(size)),
            b';' => Ext::PreName,
            b' ' | b'\t' => Ext::SizeWs,
            _ => return Err(malformed("invalid byte after chunk size")),
        };
        self.ext_bytes += 1;
        if self.ext_bytes > self.max_chunk_ext {
            return Err(BodyError::TooLarge);
        }
        Ok(State::Ext(ext, size))
    }

    /// Count one trailer byte against the limit.
    fn trailer_byte(&mut self, next: State) -> Result<State, BodyError> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > self.max_trailer_bytes {
            return Err(BodyError::TooLarge);
        }
        Ok(next)
    }
}

/// One byte inside `chunk-ext`.
fn ext_step(ext: Ext, b: u8, size: u64) -> Result<State, BodyError> {
    let ws = b == b' ' || b == b'\t';
    let next = match (ext, b) {
        (Ext::SizeWs | Ext::PostName | Ext::PostValue | Ext::AfterQuoted, b';') => Ext::PreName,
        (Ext::SizeWs | Ext::PreName | Ext::PostName | Ext::PreValue | Ext::PostValue, _) if ws => {
            ext
        }
        (Ext::PreName | Ext::Name, _) if is_tchar(b) => Ext::Name,
        (Ext::Name, b';') | (Ext::Token, b';') => Ext::PreName,
        (Ext::Name, _) if ws => Ext::PostName,
        (Ext::Name | Ext::PostName, b'=') => Ext::PreValue,
        (Ext::PreValue, b'"') => Ext::Quoted,
        (Ext::PreValue | Ext::Token, _) if is_tchar(b) => Ext::Token,
        (Ext::Token | Ext::AfterQuoted, _) if ws => Ext::PostValue,
        (Ext::Name | Ext::Token | Ext::AfterQuoted, b'\r') => return Ok(State::SizeLf(size)),
        (Ext::Quoted, b'"') => Ext::AfterQuoted,
        (Ext::Quoted, b'\\') => Ext::QuotedEscape,
        (Ext::Quoted, _) if is_qdtext(b) => Ext::Quoted,
        (Ext::QuotedEscape, _) if is_quoted_pair_char(b) => Ext::Quoted,
        _ => return Err(malformed("invalid chunk extension")),
    };
    Ok(State::Ext(next, size))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests;

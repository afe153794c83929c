//! A JSON scanner over a function's result, in place: it accepts exactly what
//! `serde_json::from_slice::<Value>` accepts (strict grammar, UTF-8 in strings, no control
//! characters, paired surrogates, numbers in `f64` range, nesting under 128) and hands out
//! byte ranges of values, so the reader (`response.rs`) copies only what it writes. Strings
//! are unescaped into a caller's buffer; numbers go through `serde_json::Number` (the same
//! parse and rendering `Value` used). Nothing here allocates but what the caller's buffers
//! grow by.

use std::ops::Range;

/// Not JSON (as `serde_json` says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bad;

/// What a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool(bool),
    Number,
    String,
    Array,
    Object,
}

/// `serde_json`'s recursion limit: this many nested arrays and objects fail.
const MAX_DEPTH: u32 = 128;

/// A position in `s`.
pub struct Scan<'a> {
    s: &'a [u8],
    i: usize,
    depth: u32,
}

/// The whole of `s` is one JSON value (surrounding whitespace allowed).
pub fn validate(s: &[u8]) -> Result<(), Bad> {
    let mut sc = Scan::new(s);
    sc.ws();
    sc.skip()?;
    sc.ws();
    match sc.i == s.len() {
        true => Ok(()),
        false => Err(Bad),
    }
}

/// The kind of the (valid) value that starts at `s[0]`.
pub fn kind(s: &[u8]) -> Kind {
    match s.first() {
        Some(b'n') => Kind::Null,
        Some(b't') => Kind::Bool(true),
        Some(b'f') => Kind::Bool(false),
        Some(b'"') => Kind::String,
        Some(b'[') => Kind::Array,
        Some(b'{') => Kind::Object,
        _ => Kind::Number,
    }
}

/// The number that is all of `s`, as `Value` holds it.
pub fn number(s: &[u8]) -> Result<serde_json::Number, Bad> {
    serde_json::from_slice(s).map_err(|_| Bad)
}

impl<'a> Scan<'a> {
    pub fn new(s: &'a [u8]) -> Scan<'a> {
        Scan::at(s, 0)
    }

    /// At `s[i]`.
    pub fn at(s: &'a [u8], i: usize) -> Scan<'a> {
        Scan { s, i, depth: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    pub fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        let ate = self.peek() == Some(b);
        self.i += usize::from(ate);
        ate
    }

    /// Skips one value (no whitespace before it), checking it; returns its range.
    pub fn skip(&mut self) -> Result<Range<usize>, Bad> {
        let start = self.i;
        match self.peek().ok_or(Bad)? {
            b'n' => self.literal(b"null")?,
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            b'"' => self.string(None)?,
            b'[' => {
                self.enter()?;
                let mut items = self.items(b'[', b']')?;
                while items.next(self)? {
                    self.skip()?;
                }
                self.depth -= 1;
            }
            b'{' => {
                self.enter()?;
                let mut members = self.members()?;
                while members.next(self)? {
                    self.string(None)?;
                    self.colon()?;
                    self.skip()?;
                }
                self.depth -= 1;
            }
            b'-' | b'0'..=b'9' => {
                self.number_end()?;
                number(&self.s[start..self.i])?;
            }
            _ => return Err(Bad),
        }
        Ok(start..self.i)
    }

    fn enter(&mut self) -> Result<(), Bad> {
        self.depth += 1;
        match self.depth < MAX_DEPTH {
            true => Ok(()),
            false => Err(Bad),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Bad> {
        match self.s[self.i..].starts_with(word) {
            true => {
                self.i += word.len();
                Ok(())
            }
            false => Err(Bad),
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number_end(&mut self) -> Result<(), Bad> {
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Bad),
        }
        if self.eat(b'.') {
            self.some_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            self.some_digits()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Result<(), Bad> {
        let start = self.i;
        self.digits();
        match self.i > start {
            true => Ok(()),
            false => Err(Bad),
        }
    }

    fn colon(&mut self) -> Result<(), Bad> {
        self.ws();
        if !self.eat(b':') {
            return Err(Bad);
        }
        self.ws();
        Ok(())
    }

    /// At `open`: the items of an array (or members of an object, `members`).
    pub fn items(&mut self, open: u8, close: u8) -> Result<Items, Bad> {
        if !self.eat(open) {
            return Err(Bad);
        }
        Ok(Items {
            close,
            first: true,
            done: false,
        })
    }

    pub fn members(&mut self) -> Result<Items, Bad> {
        self.items(b'{', b'}')
    }

    /// An object member's key (unescaped onto `out`) and the range of its value; `None`
    /// after the last.
    pub fn member(
        &mut self,
        items: &mut Items,
        out: &mut Vec<u8>,
    ) -> Result<Option<Range<usize>>, Bad> {
        if !items.next(self)? {
            return Ok(None);
        }
        self.string(Some(out))?;
        self.colon()?;
        self.skip().map(Some)
    }

    /// A string at the cursor, checked; unescaped onto `out` when given.
    pub fn string(&mut self, mut out: Option<&mut Vec<u8>>) -> Result<(), Bad> {
        if !self.eat(b'"') {
            return Err(Bad);
        }
        let s = self.s;
        let mut run = self.i;
        loop {
            let Some(&b) = s.get(self.i) else {
                return Err(Bad);
            };
            match b {
                b'"' | b'\\' => {
                    let raw = &s[run..self.i];
                    std::str::from_utf8(raw).map_err(|_| Bad)?;
                    if let Some(o) = out.as_deref_mut() {
                        o.extend_from_slice(raw);
                    }
                    self.i += 1;
                    if b == b'"' {
                        return Ok(());
                    }
                    self.escape(out.as_deref_mut())?;
                    run = self.i;
                }
                0..=0x1f => return Err(Bad),
                _ => self.i += 1,
            }
        }
    }

    /// After a `\`.
    fn escape(&mut self, out: Option<&mut Vec<u8>>) -> Result<(), Bad> {
        let b = self.peek().ok_or(Bad)?;
        self.i += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let n = self.hex4()?;
                let code = match n {
                    0xDC00..=0xDFFF => return Err(Bad),
                    0xD800..=0xDBFF => {
                        if !(self.eat(b'\\') && self.eat(b'u')) {
                            return Err(Bad);
                        }
                        let n2 = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&n2) {
                            return Err(Bad);
                        }
                        (((n - 0xD800) << 10) | (n2 - 0xDC00)) + 0x1_0000
                    }
                    n => n,
                };
                char::from_u32(code).ok_or(Bad)?
            }
            _ => return Err(Bad),
        };
        if let Some(o) = out {
            let mut utf8 = [0u8; 4];
            o.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, Bad> {
        let digits = self.s.get(self.i..self.i + 4).ok_or(Bad)?;
        let mut n = 0;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or(Bad)?;
            n = n << 4 | v;
        }
        self.i += 4;
        Ok(n)
    }
}

/// Walks the items of an array or the members of an object.
pub struct Items {
    close: u8,
    first: bool,
    done: bool,
}

impl Items {
    /// Moves to the next item: true when there is one (the cursor on it).
    pub fn next(&mut self, sc: &mut Scan<'_>) -> Result<bool, Bad> {
        if self.done {
            return Ok(false);
        }
        sc.ws();
        if self.first {
            self.first = false;
            if sc.eat(self.close) {
                self.done = true;
                return Ok(false);
            }
            return Ok(true);
        }
        if sc.eat(self.close) {
            self.done = true;
            return Ok(false);
        }
        if !sc.eat(b',') {
            return Err(Bad);
        }
        sc.ws();
        Ok(true)
    }
}

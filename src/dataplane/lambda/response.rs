//! Reading a function's result as API Gateway does (SPEC-NOTES §1.3).
//!
//! Payload 1.0 (REST, and HTTP APIs with 1.0): exactly `{statusCode, headers,
//! multiValueHeaders, body, isBase64Encoded}`. An unknown key, a wrong type, `{}` or anything
//! but an object is malformed; a missing `statusCode` is 200; a numeric string is a status;
//! header values may be strings, numbers or booleans; `multiValueHeaders` come first, then
//! `headers`, merged case-insensitively under the `multiValueHeaders` spelling.
//!
//! Payload 2.0: an object with `statusCode` is read as `{statusCode, headers, cookies, body,
//! isBase64Encoded}` (other keys are ignored); anything else is the *inferred* format:
//! status 200, `content-type: application/json`, the value as the body (a JSON string is the
//! body itself, any other value its JSON text).
//!
//! As `serde_json::Value` read it (`reference.rs`, the old reader, checks this one): a key
//! that repeats holds its last value at its first place. Read in place (`scan.rs`) into a
//! [`ProxyResponse`] the core keeps, whose buffers keep their capacity: no allocation per
//! result in steady state, except an inferred 2.0 array or object (re-serialized through a
//! `Value`).

mod scan;

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

use std::io::Write as _;
use std::ops::Range;

use base64::Engine as _;

use crate::config::PayloadVersion;
use scan::{Kind, Scan, kind};

/// A function's result, ready to write; reused from one result to the next.
#[derive(Debug, Default)]
pub struct ProxyResponse {
    pub status: u16,
    /// Header names and values, cookies (and keys while reading), unescaped.
    text: Vec<u8>,
    /// In order, in `text`; a name may repeat (each is one header line).
    headers: Vec<(Range<u32>, Range<u32>)>,
    /// 2.0 `cookies`: one `Set-Cookie` each.
    cookies: Vec<Range<u32>>,
    body: Vec<u8>,
    /// Where a base64 body is decoded.
    spare: Vec<u8>,
    /// `isBase64Encoded`: the body is base64 text, decoded by [`ProxyResponse::decode_body`]
    /// when the request allows it.
    pub base64: bool,
    /// `"Content-Type": null` in `headers`: no default `Content-Type` is added (what API
    /// Gateway does, aws/aws-sam-cli#1218 [OBS]).
    pub no_content_type: bool,
    /// While reading: an object's members (key in `text`, value in the result).
    members: Vec<(Range<u32>, Range<usize>)>,
    /// While reading: header items before merging (name, value in `text`; `None` for a
    /// name with an empty list).
    items: Vec<(Range<u32>, Option<Range<u32>>)>,
}

/// `isBase64Encoded` with a body that is not base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotBase64;

/// Response headers the gateway writes itself (framing, connection management, `Date`).
const OWN_HEADERS: [&str; 8] = [
    "connection",
    "content-length",
    "date",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
];

/// Buffers over this are given back after a result.
const KEEP: usize = 64 * 1024;

/// The top-level members the reader looks at (the last of each), in the result.
#[derive(Default)]
struct Top {
    members: usize,
    unknown: bool,
    status: Option<Range<usize>>,
    headers: Option<Range<usize>>,
    multi: Option<Range<usize>>,
    body: Option<Range<usize>>,
    base64: Option<Range<usize>>,
    cookies: Option<Range<usize>>,
}

/// Reads `result` into a new response; `Err` names what is malformed (for the log).
pub fn read(format: PayloadVersion, result: &[u8]) -> Result<ProxyResponse, &'static str> {
    let mut r = ProxyResponse::default();
    r.read(format, result)?;
    Ok(r)
}

fn at(r: &Range<u32>) -> Range<usize> {
    r.start as usize..r.end as usize
}

impl ProxyResponse {
    /// Reads `result` into this response (what it held before is gone).
    pub fn read(&mut self, format: PayloadVersion, result: &[u8]) -> Result<(), &'static str> {
        self.status = 200;
        self.text.clear();
        self.headers.clear();
        self.cookies.clear();
        self.body.clear();
        self.base64 = false;
        self.no_content_type = false;
        scan::validate(result).map_err(|_| "the result is not JSON")?;
        let start = result.len() - result.trim_ascii_start().len();
        let (object, top) = match kind(&result[start..]) {
            Kind::Object => (true, self.top(result, start)),
            _ => (false, Top::default()),
        };
        match format {
            PayloadVersion::V1 => self.v1(result, object, top),
            PayloadVersion::V2 if object && top.status.is_some() => self.v2(result, top),
            PayloadVersion::V2 => self.inferred(result, start),
        }
    }

    /// Gives back buffers a large result made grow.
    pub fn shrink(&mut self) {
        for b in [&mut self.text, &mut self.body, &mut self.spare] {
            if b.capacity() > KEEP {
                *b = Vec::new();
            }
        }
        if self.headers.capacity() + self.members.capacity() + self.items.capacity() > 1024 {
            (self.headers, self.members, self.items) = Default::default();
        }
        if self.cookies.capacity() > 1024 {
            self.cookies = Vec::new();
        }
    }

    /// Decodes a base64 body when `allowed` (REST: the request's first `Accept` type is a
    /// binary media type; HTTP APIs: always). `Err` when it is not valid base64.
    pub fn decode_body(&mut self, allowed: bool) -> Result<(), NotBase64> {
        if !self.base64 || !allowed {
            return Ok(());
        }
        let engine = &base64::engine::general_purpose::STANDARD;
        self.spare.clear();
        engine
            .decode_vec(self.body.trim_ascii(), &mut self.spare)
            .map_err(|_| NotBase64)?;
        std::mem::swap(&mut self.body, &mut self.spare);
        self.base64 = false;
        Ok(())
    }

    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (&self.text[at(n)], &self.text[at(v)]))
    }

    pub fn cookies(&self) -> impl Iterator<Item = &[u8]> {
        self.cookies.iter().map(|c| &self.text[at(c)])
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.headers()
            .any(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
    }

    fn top(&mut self, result: &[u8], start: usize) -> Top {
        let mut top = Top::default();
        let mut sc = Scan::at(result, start);
        let Ok(mut items) = sc.members() else {
            return top;
        };
        let mark = self.text.len();
        while let Ok(Some(value)) = sc.member(&mut items, &mut self.text) {
            top.members += 1;
            let slot = match &self.text[mark..] {
                b"statusCode" => &mut top.status,
                b"headers" => &mut top.headers,
                b"multiValueHeaders" => &mut top.multi,
                b"body" => &mut top.body,
                b"isBase64Encoded" => &mut top.base64,
                b"cookies" => &mut top.cookies,
                _ => {
                    top.unknown = true;
                    self.text.truncate(mark);
                    continue;
                }
            };
            *slot = Some(value);
            self.text.truncate(mark);
        }
        top
    }

    fn v1(&mut self, result: &[u8], object: bool, top: Top) -> Result<(), &'static str> {
        if !object {
            return Err("the result is not a JSON object");
        }
        if top.members == 0 {
            return Err("the result is an empty object");
        }
        if top.unknown || top.cookies.is_some() {
            return Err(
                "the result has a key other than statusCode, headers, multiValueHeaders, body and isBase64Encoded",
            );
        }
        self.items.clear();
        match top.multi.as_ref().map(|r| (kind(&result[r.start..]), r)) {
            None | Some((Kind::Null, _)) => {}
            Some((Kind::Object, r)) => {
                self.object(result, r.start)?;
                for i in 0..self.members.len() {
                    let Some(values) = self.last_of(i) else {
                        continue;
                    };
                    let name = self.members[i].0.clone();
                    match kind(&result[values.start..]) {
                        Kind::Null => continue,
                        Kind::Array => {}
                        _ => return Err("a multiValueHeaders entry is not a list"),
                    }
                    let before = self.items.len();
                    let mut sc = Scan::at(result, values.start);
                    let mut list = sc.items(b'[', b']').map_err(|_| "the result is not JSON")?;
                    while list.next(&mut sc).map_err(|_| "the result is not JSON")? {
                        let v = sc.skip().map_err(|_| "the result is not JSON")?;
                        let v = self
                            .scalar(result, v)
                            .ok_or("a multiValueHeaders value is not a string")?;
                        self.items.push((name.clone(), Some(v)));
                    }
                    if self.items.len() == before {
                        self.items.push((name, None));
                    }
                }
            }
            Some(_) => return Err("multiValueHeaders is not an object"),
        }
        self.single_headers(result, top.headers.as_ref())?;
        self.flatten()?;
        self.status = status(&mut self.text, result, top.status.as_ref())?;
        self.read_body(result, top.body.as_ref())?;
        self.base64 = base64_flag(result, top.base64.as_ref())?;
        self.no_content_type = self.null_content_type(result, top.headers.as_ref());
        Ok(())
    }

    fn v2(&mut self, result: &[u8], top: Top) -> Result<(), &'static str> {
        self.items.clear();
        self.single_headers(result, top.headers.as_ref())?;
        match top.cookies.as_ref().map(|r| (kind(&result[r.start..]), r)) {
            None | Some((Kind::Null, _)) => {}
            Some((Kind::Array, r)) => {
                let mut sc = Scan::at(result, r.start);
                let mut list = sc.items(b'[', b']').map_err(|_| "the result is not JSON")?;
                while list.next(&mut sc).map_err(|_| "the result is not JSON")? {
                    let v = sc.skip().map_err(|_| "the result is not JSON")?;
                    if kind(&result[v.start..]) != Kind::String {
                        return Err("a cookie is not a string");
                    }
                    let c = self.scalar(result, v).ok_or("a cookie is not a string")?;
                    self.cookies.push(c);
                }
            }
            Some(_) => return Err("cookies is not a list"),
        }
        if self.cookies().any(|c| !value_ok(c)) {
            return Err("a cookie has a control character");
        }
        self.status = status(&mut self.text, result, top.status.as_ref())?;
        self.flatten()?;
        self.read_body(result, top.body.as_ref())?;
        self.base64 = base64_flag(result, top.base64.as_ref())?;
        self.no_content_type = self.null_content_type(result, top.headers.as_ref());
        Ok(())
    }

    /// 2.0 without `statusCode`: the value is the body.
    fn inferred(&mut self, result: &[u8], start: usize) -> Result<(), &'static str> {
        let value = &result[start..];
        match kind(value) {
            Kind::String => {
                let mut sc = Scan::at(result, start);
                sc.string(Some(&mut self.body))
                    .map_err(|_| "the result is not JSON")?;
            }
            Kind::Null => self.body.extend_from_slice(b"null"),
            Kind::Bool(b) => self
                .body
                .extend_from_slice(if b { b"true" } else { b"false" }),
            Kind::Number => {
                let end = value.trim_ascii_end().len();
                let n = scan::number(&value[..end]).map_err(|_| "the result is not JSON")?;
                let _ = write!(self.body, "{n}");
            }
            // Rare: a repeated key keeps its last value at its first place, as `Value` did.
            Kind::Array | Kind::Object => {
                let v: serde_json::Value =
                    serde_json::from_slice(result).map_err(|_| "the result is not JSON")?;
                let _ = serde_json::to_writer(&mut self.body, &v);
            }
        }
        let name = self.push(b"content-type");
        let value = self.push(b"application/json");
        self.headers.push((name, value));
        Ok(())
    }

    fn push(&mut self, bytes: &[u8]) -> Range<u32> {
        let start = self.text.len() as u32;
        self.text.extend_from_slice(bytes);
        start..self.text.len() as u32
    }

    /// The object at `start`'s members into `members`.
    fn object(&mut self, result: &[u8], start: usize) -> Result<(), &'static str> {
        self.members.clear();
        let mut sc = Scan::at(result, start);
        let mut items = sc.members().map_err(|_| "the result is not JSON")?;
        loop {
            let key = self.text.len() as u32;
            let value = sc
                .member(&mut items, &mut self.text)
                .map_err(|_| "the result is not JSON")?;
            let Some(value) = value else { break };
            self.members.push((key..self.text.len() as u32, value));
        }
        Ok(())
    }

    /// Member `i`'s value when it is the first with its key: the last with that key's.
    fn last_of(&self, i: usize) -> Option<Range<usize>> {
        let key = &self.text[at(&self.members[i].0)];
        let same = |m: &(Range<u32>, Range<usize>)| &self.text[at(&m.0)] == key;
        if self.members[..i].iter().any(same) {
            return None;
        }
        self.members[i..]
            .iter()
            .rev()
            .find(|m| same(m))
            .map(|m| m.1.clone())
    }

    /// A header value: a string, a number or a boolean (rendered `true`/`false`), into
    /// `text`.
    fn scalar(&mut self, result: &[u8], v: Range<usize>) -> Option<Range<u32>> {
        let start = self.text.len() as u32;
        match kind(&result[v.start..]) {
            Kind::String => Scan::at(result, v.start)
                .string(Some(&mut self.text))
                .ok()?,
            Kind::Number => {
                let n = scan::number(&result[v]).ok()?;
                let _ = write!(self.text, "{n}");
            }
            Kind::Bool(b) => self
                .text
                .extend_from_slice(if b { b"true" } else { b"false" }),
            _ => return None,
        }
        Some(start..self.text.len() as u32)
    }

    /// `headers`: each value not null onto `items`.
    fn single_headers(
        &mut self,
        result: &[u8],
        headers: Option<&Range<usize>>,
    ) -> Result<(), &'static str> {
        let r = match headers.map(|r| (kind(&result[r.start..]), r)) {
            None | Some((Kind::Null, _)) => return Ok(()),
            Some((Kind::Object, r)) => r,
            Some(_) => return Err("headers is not an object"),
        };
        self.object(result, r.start)?;
        let first = self.items.len();
        for i in 0..self.members.len() {
            let Some(v) = self.last_of(i) else { continue };
            if kind(&result[v.start..]) == Kind::Null {
                continue;
            }
            let name = self.members[i].0.clone();
            let Some(value) = self.scalar(result, v) else {
                self.items.truncate(first);
                return Err("a header value is not a string");
            };
            self.items.push((name, Some(value)));
        }
        Ok(())
    }

    /// `items` merged case-insensitively (the first spelling wins, the groups in the order
    /// their names first appear) into `headers`, checked; the gateway's own dropped.
    fn flatten(&mut self) -> Result<(), &'static str> {
        let text = &self.text;
        let name = |i: usize| &text[at(&self.items[i].0)];
        for i in 0..self.items.len() {
            let n = name(i);
            if (0..i).any(|j| name(j).eq_ignore_ascii_case(n)) {
                continue;
            }
            if !name_ok(n) {
                return Err("a header name is not a valid HTTP token");
            }
            if OWN_HEADERS
                .iter()
                .any(|h| n.eq_ignore_ascii_case(h.as_bytes()))
            {
                continue;
            }
            for k in i..self.items.len() {
                let (other, value) = &self.items[k];
                let Some(value) = value else { continue };
                if !text[at(other)].eq_ignore_ascii_case(n) {
                    continue;
                }
                if !value_ok(&text[at(value)]) {
                    return Err("a header value has a control character");
                }
                self.headers.push((self.items[i].0.clone(), value.clone()));
            }
        }
        Ok(())
    }

    fn read_body(&mut self, result: &[u8], v: Option<&Range<usize>>) -> Result<(), &'static str> {
        match v.map(|r| (kind(&result[r.start..]), r)) {
            None | Some((Kind::Null, _)) => Ok(()),
            Some((Kind::String, r)) => Scan::at(result, r.start)
                .string(Some(&mut self.body))
                .map_err(|_| "the result is not JSON"),
            Some(_) => Err("body is not a string"),
        }
    }

    /// `"Content-Type": null` in `headers` (read and checked before).
    fn null_content_type(&mut self, result: &[u8], headers: Option<&Range<usize>>) -> bool {
        let Some(r) = headers.filter(|r| kind(&result[r.start..]) == Kind::Object) else {
            return false;
        };
        let mark = self.text.len();
        let found = self.object(result, r.start).is_ok()
            && (0..self.members.len()).any(|i| {
                self.text[at(&self.members[i].0)].eq_ignore_ascii_case(b"content-type")
                    && self
                        .last_of(i)
                        .is_some_and(|v| kind(&result[v.start..]) == Kind::Null)
            });
        self.text.truncate(mark);
        found
    }
}

fn name_ok(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn value_ok(v: &[u8]) -> bool {
    v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// `statusCode`: absent or null → 200; an integer or a numeric string, 200–599 (a 1xx is not
/// a final answer).
fn status(
    text: &mut Vec<u8>,
    result: &[u8],
    v: Option<&Range<usize>>,
) -> Result<u16, &'static str> {
    let n = match v.map(|r| (kind(&result[r.start..]), r)) {
        None | Some((Kind::Null, _)) => return Ok(200),
        Some((Kind::Number, r)) => scan::number(&result[r.clone()])
            .ok()
            .and_then(|n| n.as_u64()),
        Some((Kind::String, r)) => {
            let mark = text.len();
            let n = match Scan::at(result, r.start).string(Some(text)) {
                Ok(()) => std::str::from_utf8(&text[mark..])
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok()),
                Err(_) => None,
            };
            text.truncate(mark);
            n
        }
        Some(_) => None,
    };
    n.filter(|n| (200..=599).contains(n))
        .map(|n| n as u16)
        .ok_or("statusCode is not a status code")
}

fn base64_flag(result: &[u8], v: Option<&Range<usize>>) -> Result<bool, &'static str> {
    match v.map(|r| kind(&result[r.start..])) {
        None | Some(Kind::Null) => Ok(false),
        Some(Kind::Bool(b)) => Ok(b),
        Some(_) => Err("isBase64Encoded is not a boolean"),
    }
}

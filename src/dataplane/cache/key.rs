//! Canonical cache keys: method + resource path + the configured `cacheKeyParameters`.

use std::cmp::Ordering;

/// Where a `cacheKeyParameters` entry comes from: the config's kind (header names compare and
/// are written ASCII-lowercased, as header names are case-insensitive).
pub use crate::config::ParamKind;

/// One key parameter of one request: its kind, name, and value (`None` when the request
/// does not carry it, which is a different key from an empty value).
#[derive(Clone, Copy, Debug)]
pub struct KeyParam<'a> {
    pub kind: ParamKind,
    pub name: &'a [u8],
    pub value: Option<&'a [u8]>,
}

/// Builds canonical keys into a buffer it keeps, so a lookup allocates nothing once the
/// buffers have grown to the largest key seen.
///
/// Layout: `method SP scheme SP host SP resource` (the scope: `http`/`https` and the request's
/// normalised host, so two hosts, or one host over both schemes, served by one stage never
/// share an entry: RELIABILITY C02) then, for each parameter in sorted order (kind, name, value;
/// so `?a=1&b=2` and `?b=2&a=1` are one key, and so are repeated values in any order),
/// `0x00 kind name-len(u32 LE) name value-len(u32 LE, u32::MAX when absent) value`. Lengths
/// make the encoding unambiguous: no value can forge a separator.
#[derive(Debug, Default)]
pub struct KeyBuilder {
    buf: Vec<u8>,
    order: Vec<u32>,
}

impl KeyBuilder {
    pub fn new() -> KeyBuilder {
        KeyBuilder::default()
    }

    /// The canonical key for this request with an empty scope; valid until the next `build`.
    pub fn build(&mut self, method: &[u8], resource: &[u8], params: &[KeyParam<'_>]) -> &[u8] {
        self.build_scoped(method, b"", b"", resource, params)
    }

    /// The canonical key for this request; valid until the next `build`. `scheme` and `host`
    /// must not contain a space (a normalised host cannot).
    pub fn build_scoped(
        &mut self,
        method: &[u8],
        scheme: &[u8],
        host: &[u8],
        resource: &[u8],
        params: &[KeyParam<'_>],
    ) -> &[u8] {
        self.buf.clear();
        self.buf.extend_from_slice(method);
        self.buf.push(b' ');
        self.buf.extend_from_slice(scheme);
        self.buf.push(b' ');
        self.buf.extend_from_slice(host);
        self.buf.push(b' ');
        self.buf.extend_from_slice(resource);
        self.order.clear();
        self.order.extend(0..params.len() as u32);
        self.order
            .sort_unstable_by(|&a, &b| compare(&params[a as usize], &params[b as usize]));
        for &i in &self.order {
            let p = &params[i as usize];
            self.buf.push(0);
            self.buf.push(p.kind as u8);
            self.buf
                .extend_from_slice(&(p.name.len() as u32).to_le_bytes());
            if p.kind == ParamKind::Header {
                self.buf.extend(p.name.iter().map(u8::to_ascii_lowercase));
            } else {
                self.buf.extend_from_slice(p.name);
            }
            match p.value {
                Some(v) => {
                    self.buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
                    self.buf.extend_from_slice(v);
                }
                None => self.buf.extend_from_slice(&u32::MAX.to_le_bytes()),
            }
        }
        &self.buf
    }
}

fn compare(a: &KeyParam<'_>, b: &KeyParam<'_>) -> Ordering {
    a.kind
        .cmp(&b.kind)
        .then_with(|| {
            if a.kind == ParamKind::Header {
                let la = a.name.iter().map(u8::to_ascii_lowercase);
                la.cmp(b.name.iter().map(u8::to_ascii_lowercase))
            } else {
                a.name.cmp(b.name)
            }
        })
        .then_with(|| a.value.cmp(&b.value))
}

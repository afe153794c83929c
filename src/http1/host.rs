//! Host / authority validation and normalization (RELIABILITY P18, P19).
//! CONTRACT: signatures fixed; bodies to be written.

/// A validated authority: host (reg-name, IPv4 or bracketed IPv6) and optional port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authority<'a> {
    pub host: &'a [u8],
    pub port: Option<u16>,
}

/// Validate `host[:port]` as sent in `Host` or an absolute-form target. No userinfo, no path,
/// reg-name characters only, port 1*DIGIT ≤ 65535, IPv6 only bracketed, no empty labels
/// except one trailing dot.
pub fn parse_authority(bytes: &[u8]) -> Result<Authority<'_>, ()> {
    let _ = bytes;
    todo!("http1::parse_authority")
}

/// Lower-case `host` and drop one trailing dot into `out`; returns the normalized bytes.
/// Hosts longer than `out` are an error (DNS names are at most 253 bytes).
pub fn normalize_host<'o>(host: &[u8], out: &'o mut [u8; 256]) -> Result<&'o [u8], ()> {
    let _ = (host, out);
    todo!("http1::normalize_host")
}

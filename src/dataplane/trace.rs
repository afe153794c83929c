//! Trace headers (issue 7, DESIGN §8: "Trace headers are propagated").
//!
//! `X-Amzn-Trace-Id` (X-Ray's format): every request gets one, kept in `Meta::trace` for the
//! access log and sent to HTTP_PROXY upstreams and function invocations. A client's header
//! with a well-formed `Root=1-{8 hex}-{24 hex}` keeps its trace (its Root and its `Sampled`
//! decision) and gets a new `Parent` (tollgate is the next hop), as API Gateway continues a
//! trace; otherwise a new Root is started: `1-{epoch seconds, 8 hex}-{96 random bits}`.
//! Other fields of the client's header (`Self=`, custom data) are not forwarded.
//!
//! W3C `traceparent` (Trace Context level 1): a well-formed one (exactly one header) is
//! forwarded unchanged with its `tracestate`; a malformed or repeated one is dropped, and its
//! `tracestate` with it (the spec: a `tracestate` without a valid `traceparent` must not be
//! used). Without a valid one tollgate starts its own, naming the same trace as
//! `X-Amzn-Trace-Id` (`TraceId::traceparent`): `00-{Root's hex digits}-{Parent}-{flags}`,
//! flags `01` when `Sampled=1`, else `00`.
//!
//! No allocation: ids come from the core's `IdGen`, the value is a fixed-size array.

use super::clock::IdGen;
use crate::http1::Span;

/// `Root=1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx;Parent=xxxxxxxxxxxxxxxx;Sampled=x`.
pub const TRACE_ID_LEN: usize = 74;

/// One request's `X-Amzn-Trace-Id` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceId([u8; TRACE_ID_LEN]);

const HEX: &[u8; 16] = b"0123456789abcdef";

impl TraceId {
    /// The value of the request's `X-Amzn-Trace-Id` (what the upstream and a function get).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The `Root=` part (`1-...`), e.g. for `$context.xrayTraceId`-like log fields.
    pub fn root(&self) -> &[u8] {
        &self.0[5..40]
    }

    /// The W3C `traceparent` naming the same trace: the Root's 8 + 24 hex digits as the
    /// 32-digit trace id, the `Parent` (tollgate's span) as the parent id, flags from
    /// `Sampled`.
    pub fn traceparent(&self) -> [u8; 55] {
        let mut out = [0u8; 55];
        out[..3].copy_from_slice(b"00-");
        out[3..11].copy_from_slice(&self.0[7..15]);
        out[11..35].copy_from_slice(&self.0[16..40]);
        out[35] = b'-';
        out[36..52].copy_from_slice(&self.0[48..64]);
        out[52..55].copy_from_slice(if self.0[73] == b'1' { b"-01" } else { b"-00" });
        out
    }

    /// The 16-byte W3C trace id (`traceparent`'s) as 32 lowercase hex digits.
    pub fn w3c_trace_id(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.traceparent()[3..35]);
        out
    }

    /// A new trace.
    pub fn fresh(ids: &IdGen, unix_secs: u64) -> TraceId {
        let mut root = [0u8; 35];
        root[..2].copy_from_slice(b"1-");
        hex_into(&mut root[2..10], unix_secs & 0xffff_ffff, 8);
        root[10] = b'-';
        hex_into(&mut root[11..19], ids.random_u64() & 0xffff_ffff, 8);
        hex_into(&mut root[19..35], ids.random_u64(), 16);
        TraceId::build(&root, ids.random_u64(), b'0')
    }

    /// The request's trace: the client's Root continued, or a new one (module docs).
    pub fn for_request(
        ids: &IdGen,
        unix_secs: u64,
        data: &[u8],
        headers: &[(Span, Span)],
    ) -> TraceId {
        let incoming = headers
            .iter()
            .find(|(n, _)| n.get(data).eq_ignore_ascii_case(b"x-amzn-trace-id"))
            .map(|(_, v)| v.get(data));
        match incoming.and_then(parse_amzn) {
            Some((root, sampled)) => TraceId::build(root, ids.random_u64(), sampled),
            None => TraceId::fresh(ids, unix_secs),
        }
    }

    fn build(root: &[u8], parent: u64, sampled: u8) -> TraceId {
        let mut out = [0u8; TRACE_ID_LEN];
        out[..5].copy_from_slice(b"Root=");
        out[5..40].copy_from_slice(&root[..35]);
        out[40..48].copy_from_slice(b";Parent=");
        hex_into(&mut out[48..64], parent, 16);
        out[64..73].copy_from_slice(b";Sampled=");
        out[73] = sampled;
        TraceId(out)
    }
}

fn hex_into(out: &mut [u8], mut v: u64, digits: usize) {
    for slot in out[..digits].iter_mut().rev() {
        *slot = HEX[(v & 15) as usize];
        v >>= 4;
    }
}

fn is_hex(s: &[u8]) -> bool {
    s.iter().all(u8::is_ascii_hexdigit)
}

/// A client's `X-Amzn-Trace-Id`: its Root (`1-{8 hex}-{24 hex}`) and `Sampled` (`1`, else
/// `0`); `None` without a well-formed Root.
fn parse_amzn(value: &[u8]) -> Option<(&[u8], u8)> {
    let mut root = None;
    let mut sampled = b'0';
    for field in value.split(|&b| b == b';') {
        let field = field.trim_ascii();
        let Some(eq) = field.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (key, val) = (&field[..eq], &field[eq + 1..]);
        if key.eq_ignore_ascii_case(b"root") {
            let ok = val.len() == 35
                && val.starts_with(b"1-")
                && val[10] == b'-'
                && is_hex(&val[2..10])
                && is_hex(&val[11..]);
            if !ok || root.is_some() {
                return None;
            }
            root = Some(val);
        } else if key.eq_ignore_ascii_case(b"sampled") && val == b"1" {
            sampled = b'1';
        }
    }
    root.map(|r| (r, sampled))
}

/// W3C `traceparent`: `{version}-{trace-id}-{parent-id}-{flags}`, lowercase hex, version not
/// `ff`, ids not all zero; version `00` is exactly 55 bytes, a later version may append
/// `-...` (Trace Context §3.2.4).
pub fn traceparent_valid(v: &[u8]) -> bool {
    let lower_hex = |s: &[u8]| s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if v.len() < 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return false;
    }
    let (version, trace, parent, flags) = (&v[..2], &v[3..35], &v[36..52], &v[53..55]);
    let fields_ok = lower_hex(version)
        && version != b"ff"
        && lower_hex(trace)
        && trace.iter().any(|&b| b != b'0')
        && lower_hex(parent)
        && parent.iter().any(|&b| b != b'0')
        && lower_hex(flags);
    let rest_ok = match version {
        b"00" => v.len() == 55,
        _ => v.len() == 55 || v[55] == b'-',
    };
    fields_ok && rest_ok
}

/// The client's `traceparent` may be forwarded: exactly one, well-formed.
pub fn forward_traceparent(data: &[u8], headers: &[(Span, Span)]) -> bool {
    let mut found = None;
    for (n, v) in headers {
        if n.get(data).eq_ignore_ascii_case(b"traceparent") {
            if found.is_some() {
                return false;
            }
            found = Some(v.get(data));
        }
    }
    found.is_some_and(traceparent_valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn well_formed(t: &TraceId) -> bool {
        let s = std::str::from_utf8(t.as_bytes()).unwrap();
        let parts: Vec<&str> = s.split(';').collect();
        parts.len() == 3
            && parse_amzn(s.as_bytes()).is_some()
            && parts[1].len() == 23
            && parts[1].starts_with("Parent=")
            && is_hex(&parts[1].as_bytes()[7..])
            && (parts[2] == "Sampled=0" || parts[2] == "Sampled=1")
    }

    #[test]
    fn a_fresh_trace_has_the_time_and_random_bits() {
        let ids = IdGen::new();
        let a = TraceId::fresh(&ids, 0x5759_e988);
        let b = TraceId::fresh(&ids, 0x5759_e988);
        assert!(well_formed(&a), "{:?}", std::str::from_utf8(a.as_bytes()));
        assert_eq!(&a.root()[..10], b"1-5759e988");
        assert_ne!(a.root(), b.root());
    }

    #[test]
    fn a_clients_root_and_sampling_are_kept_with_a_new_parent() {
        let ids = IdGen::new();
        let sent = b"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let (root, sampled) = parse_amzn(sent).unwrap();
        assert_eq!(
            (root, sampled),
            (&b"1-5759e988-bd862e3fe1be46a994272793"[..], b'1')
        );
        let t = TraceId::build(root, ids.random_u64(), sampled);
        assert!(well_formed(&t));
        assert_eq!(t.root(), root);
        assert_ne!(t.as_bytes(), &sent[..]);
        assert!(parse_amzn(b"Root=1-5759e988-bd862e3fe1be46a99427279").is_none());
        assert!(parse_amzn(b"Root=2-5759e988-bd862e3fe1be46a994272793").is_none());
        assert!(parse_amzn(b"Root=1-5759e98g-bd862e3fe1be46a994272793").is_none());
        assert!(parse_amzn(b"Self=1-5759e988-bd862e3fe1be46a994272793").is_none());
        assert_eq!(
            parse_amzn(b" Self=x ; root=1-5759e988-bd862e3fe1be46a994272793 ; Sampled=?"),
            Some((&b"1-5759e988-bd862e3fe1be46a994272793"[..], b'0'))
        );
    }

    #[test]
    fn a_started_traceparent_names_the_same_trace() {
        let ids = IdGen::new();
        let sent = b"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let (root, sampled) = parse_amzn(sent).unwrap();
        let t = TraceId::build(root, 0x1234_5678_9abc_def0, sampled);
        assert_eq!(
            &t.traceparent()[..],
            b"00-5759e988bd862e3fe1be46a994272793-123456789abcdef0-01"
        );
        assert!(traceparent_valid(&t.traceparent()));
        let fresh = TraceId::fresh(&ids, 1);
        assert!(traceparent_valid(&fresh.traceparent()));
        assert!(fresh.traceparent().ends_with(b"-00"));
    }

    #[test]
    fn traceparent_rules() {
        let ok = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(traceparent_valid(ok));
        assert!(traceparent_valid(
            b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"
        ));
        for bad in [
            &b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"[..],
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            b"garbage",
        ] {
            assert!(!traceparent_valid(bad), "{}", String::from_utf8_lossy(bad));
        }
    }
}

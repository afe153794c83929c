//! Builds the request head sent to an HTTP_PROXY integration: URI template substitution,
//! header filtering (hop-by-hop, client-nominated, spoofable forwarding headers),
//! `X-Forwarded-*`, `requestParameters`, and EDGE header-name capitalization / cookie order.
//! Pure and allocation-free: it appends to a reused buffer.

use std::io::Write as _;
use std::net::IpAddr;

use super::tls::ClientCertInfo;
use crate::config::{
    Api, ContextVar, EndpointType, HttpProxy, ParamSource, ParamTarget, Params, Route, Stage,
    Upstream, UriPiece,
};
use crate::http1::{self, Framing, RequestHead, Span};

/// Everything the builder reads.
pub struct Input<'a> {
    /// The client buffer the head's spans point into.
    pub data: &'a [u8],
    pub head: &'a RequestHead,
    pub resource_path: &'a [u8],
    pub path: &'a [u8],
    pub host: &'a [u8],
    pub params: &'a Params,
    pub api: &'a Api,
    pub route: &'a Route,
    pub stage: &'a Stage,
    pub proxy: &'a HttpProxy,
    pub upstream: &'a Upstream,
    pub peer: IpAddr,
    pub trusted_peer: bool,
    pub listener_port: u16,
    pub request_id: &'a [u8],
    pub account_id: &'a str,
    /// The connection's verified mutual-TLS client certificate.
    pub client_cert: Option<&'a ClientCertInfo>,
    /// The verified JWT claims (stringified), when the route has an authorizer.
    pub claims: Option<&'a crate::dataplane::auth::jwt::Claims>,
    /// The verified IAM caller (`AWS_IAM` routes): only its signed headers are forwarded.
    pub caller: Option<&'a super::iam::Caller<'a>>,
    /// The Lambda authorizer's grant, when the route has one.
    pub authorizer: Option<&'a crate::dataplane::lambda_auth::Grant>,
    /// The request's trace (`Meta::trace`): its `X-Amzn-Trace-Id` replaces the client's, and
    /// its `traceparent` is sent when the client's is not forwarded.
    pub trace: &'a super::trace::TraceId,
}

/// An `AWS_IAM` request: a header the signature does not cover is neither forwarded nor
/// mapped (it may have been added after signing, RELIABILITY A10d).
fn unsigned(input: &Input<'_>, name: &[u8]) -> bool {
    input
        .caller
        .is_some_and(|c| !c.signed_headers.contains(name))
}

/// At most this many `Connection` tokens are honoured when removing nominated fields.
const MAX_CONNECTION_TOKENS: usize = 16;
/// At most this many cookies are sorted for EDGE endpoints (more are forwarded as sent).
const MAX_SORTED_COOKIES: usize = 64;

/// `X-Forwarded-*` (any case, `-` or `_`, since some backends fold underscores into dashes).
fn is_forwarded_field(name: &[u8]) -> bool {
    name.len() > 12
        && (name[..11].eq_ignore_ascii_case(b"x-forwarded")
            || name[..11].eq_ignore_ascii_case(b"x_forwarded"))
        && matches!(name[11], b'-' | b'_')
}

/// Fields never forwarded as sent by the client: framing and hop-by-hop fields (RFC 9110
/// §7.6.1), fields the gateway sets itself, and `Expect` (the gateway answers it).
fn is_dropped(name: &[u8]) -> bool {
    const DROPPED: [&[u8]; 11] = [
        b"host",
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        b"expect",
        b"x-amzn-apigateway-api-id",
    ];
    DROPPED.iter().any(|d| d.eq_ignore_ascii_case(name))
}

pub fn build(out: &mut Vec<u8>, input: &Input<'_>) {
    let Input {
        data,
        head,
        proxy,
        upstream,
        ..
    } = *input;
    let client_method = head.method.get(data);
    out.extend_from_slice(proxy.method.as_deref().unwrap_or(client_method));
    out.push(b' ');
    let mut ip_buf = [0u8; 48];
    let ip = format_ip(input.peer, &mut ip_buf);
    for piece in &proxy.path {
        match piece {
            UriPiece::Literal(l) => out.extend_from_slice(l),
            UriPiece::Value(src) => emit(out, src, input, ip, true),
        }
    }
    if out.last() == Some(&b' ') {
        out.push(b'/');
    }
    let mut query_started = false;
    let mut sep = |out: &mut Vec<u8>| {
        out.push(if query_started { b'&' } else { b'?' });
        query_started = true;
    };
    if !proxy.query.is_empty() {
        sep(out);
        for piece in &proxy.query {
            match piece {
                UriPiece::Literal(l) => out.extend_from_slice(l),
                UriPiece::Value(src) => emit(out, src, input, ip, true),
            }
        }
    }
    if let Some(q) = head.query.map(|q| q.get(data)).filter(|q| !q.is_empty()) {
        if proxy
            .request_parameters
            .iter()
            .any(|m| drops_query_param(&m.target).is_some())
        {
            // HTTP API `overwrite:`/`remove:querystring.X`: the client's X parameters go.
            for pair in q.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
                let key = pair.split(|&b| b == b'=').next().unwrap_or(pair);
                let dropped = proxy
                    .request_parameters
                    .iter()
                    .any(|m| drops_query_param(&m.target).is_some_and(|n| n == key));
                if !dropped {
                    sep(out);
                    out.extend_from_slice(pair);
                }
            }
        } else {
            sep(out);
            out.extend_from_slice(q);
        }
    }
    for mapping in &proxy.request_parameters {
        if let ParamTarget::QueryString(name) | ParamTarget::OverwriteQueryString(name) =
            &mapping.target
            && present(&mapping.source, input, ip)
        {
            sep(out);
            push_encoded(out, name);
            out.push(b'=');
            emit(out, &mapping.source, input, ip, true);
        }
    }
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(&upstream.host_header);
    out.extend_from_slice(b"\r\n");

    let edge = input.api.endpoint_type == EndpointType::Edge;
    let mut nominated: [&[u8]; MAX_CONNECTION_TOKENS] = [b""; MAX_CONNECTION_TOKENS];
    let nominated_len = connection_tokens(data, &head.headers, &mut nominated);
    let nominated = &nominated[..nominated_len];
    let mut xff_from_client: [Span; 8] = [Span::default(); 8];
    let mut xff_len = 0;
    let mut proto_from_client = None;
    let mut port_from_client = None;
    let traceparent_ok = super::trace::forward_traceparent(data, &head.headers);
    for &(name_span, value_span) in &head.headers {
        let name = name_span.get(data);
        let value = value_span.get(data);
        if is_dropped(name) || nominated.iter().any(|t| t.eq_ignore_ascii_case(name)) {
            continue;
        }
        if name.eq_ignore_ascii_case(b"x-amzn-trace-id")
            || (!traceparent_ok
                && (name.eq_ignore_ascii_case(b"traceparent")
                    || name.eq_ignore_ascii_case(b"tracestate")))
        {
            continue;
        }
        if name.eq_ignore_ascii_case(b"x-forwarded-for") {
            if input.trusted_peer && xff_len < xff_from_client.len() {
                xff_from_client[xff_len] = value_span;
                xff_len += 1;
            }
            continue;
        }
        if name.eq_ignore_ascii_case(b"x-forwarded-proto") {
            proto_from_client = proto_from_client.or(Some(value_span));
            continue;
        }
        if name.eq_ignore_ascii_case(b"x-forwarded-port") {
            port_from_client = port_from_client.or(Some(value_span));
            continue;
        }
        // Any other `X-Forwarded-*` (`-Host`, `-Server`, `-Prefix`, ...) is believed only from
        // a trusted proxy: a client's own copy could poison what the backend builds from it,
        // and the stage cache would serve that to everyone (RELIABILITY C01).
        if !input.trusted_peer && is_forwarded_field(name) {
            continue;
        }
        if is_mapped_header(proxy, name) || unsigned(input, name) {
            continue;
        }
        if edge {
            push_capitalized(out, name);
        } else {
            out.extend_from_slice(name);
        }
        out.extend_from_slice(b": ");
        if edge && name.eq_ignore_ascii_case(b"cookie") {
            push_sorted_cookies(out, value);
        } else {
            out.extend_from_slice(value);
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"X-Forwarded-For: ");
    for span in &xff_from_client[..xff_len] {
        out.extend_from_slice(span.get(data));
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(ip);
    out.extend_from_slice(b"\r\nX-Forwarded-Proto: ");
    match proto_from_client.filter(|_| input.trusted_peer) {
        Some(p) => out.extend_from_slice(p.get(data)),
        None => out.extend_from_slice(b"http"),
    }
    out.extend_from_slice(b"\r\nX-Forwarded-Port: ");
    match port_from_client.filter(|_| input.trusted_peer) {
        Some(p) => out.extend_from_slice(p.get(data)),
        None => http1::write_decimal(out, input.listener_port as u64),
    }
    out.extend_from_slice(b"\r\nX-Amzn-Apigateway-Api-Id: ");
    out.extend_from_slice(input.api.id.as_bytes());
    out.extend_from_slice(b"\r\nX-Amzn-Trace-Id: ");
    out.extend_from_slice(input.trace.as_bytes());
    out.extend_from_slice(b"\r\n");
    if !traceparent_ok {
        out.extend_from_slice(b"traceparent: ");
        out.extend_from_slice(&input.trace.traceparent());
        out.extend_from_slice(b"\r\n");
    }
    for mapping in &proxy.request_parameters {
        if let ParamTarget::Header(name) | ParamTarget::AppendHeader(name) = &mapping.target
            && present(&mapping.source, input, ip)
        {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            emit(out, &mapping.source, input, ip, false);
            out.extend_from_slice(b"\r\n");
        }
    }
    match head.framing {
        Framing::None => {}
        Framing::Length(n) => {
            out.extend_from_slice(b"Content-Length: ");
            http1::write_decimal(out, n);
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// The client's header of this name is replaced or removed by a mapping. Names match
/// case-insensitively with `_` and `-` alike, so `X_Auth_User` cannot ride along beside the
/// `X-Auth-User` the gateway sets (RELIABILITY A07: backends often fold `_` into `-`).
fn is_mapped_header(proxy: &HttpProxy, name: &[u8]) -> bool {
    let same = |h: &[u8]| {
        h.len() == name.len()
            && h.iter().zip(name).all(|(&a, &b)| {
                let fold = |c: u8| {
                    if c == b'_' {
                        b'-'
                    } else {
                        c.to_ascii_lowercase()
                    }
                };
                fold(a) == fold(b)
            })
    };
    proxy.request_parameters.iter().any(
        |m| matches!(&m.target, ParamTarget::Header(h) | ParamTarget::RemoveHeader(h) if same(h)),
    )
}

/// The query parameter whose client values a mapping drops (HTTP `overwrite:`/`remove:`).
fn drops_query_param(target: &ParamTarget) -> Option<&[u8]> {
    match target {
        ParamTarget::OverwriteQueryString(n) | ParamTarget::RemoveQueryString(n) => Some(n),
        _ => None,
    }
}

/// Every request value `src` refers to is there (a mapping with a missing value is skipped).
fn present(src: &ParamSource, input: &Input<'_>, ip: &[u8]) -> bool {
    match src {
        ParamSource::Concat(pieces) => pieces.iter().all(|p| match p {
            UriPiece::Literal(_) => true,
            UriPiece::Value(v) => present(v, input, ip),
        }),
        simple => value(simple, input, ip).is_some(),
    }
}

/// Append the value of `src` (missing values are empty), percent-encoded for a target if
/// `encode`.
fn emit(out: &mut Vec<u8>, src: &ParamSource, input: &Input<'_>, ip: &[u8], encode: bool) {
    let push = |out: &mut Vec<u8>, bytes: &[u8]| {
        if encode {
            push_encoded(out, bytes);
        } else {
            out.extend_from_slice(bytes);
        }
    };
    match src {
        ParamSource::Concat(pieces) => {
            for p in pieces {
                match p {
                    UriPiece::Literal(l) => push(out, l),
                    UriPiece::Value(v) => emit(out, v, input, ip, encode),
                }
            }
        }
        simple => push(out, value(simple, input, ip).unwrap_or(b"")),
    }
}

/// Tokens of every `Connection` field, except `Host`/`Content-Length` which a client may not
/// remove (RELIABILITY P27).
fn connection_tokens<'d>(data: &'d [u8], headers: &[(Span, Span)], out: &mut [&'d [u8]]) -> usize {
    let mut n = 0;
    for &(name, value) in headers {
        if !name.get(data).eq_ignore_ascii_case(b"connection") {
            continue;
        }
        for token in value.get(data).split(|&b| b == b',') {
            let token = token.trim_ascii();
            if token.is_empty()
                || token.eq_ignore_ascii_case(b"host")
                || token.eq_ignore_ascii_case(b"content-length")
            {
                continue;
            }
            if n < out.len() {
                out[n] = token;
                n += 1;
            }
        }
    }
    n
}

/// The value a mapping source yields for this request, if any.
fn value<'a>(src: &'a ParamSource, input: &Input<'a>, ip: &'a [u8]) -> Option<&'a [u8]> {
    match src {
        ParamSource::Static(v) => Some(v),
        ParamSource::Path(i) => {
            let i = *i as usize;
            if i >= input.params.len {
                return None;
            }
            let (s, e) = input.params.spans[i];
            input.resource_path.get(s as usize..e as usize)
        }
        ParamSource::QueryString(name) => {
            let query = input.head.query?.get(input.data);
            query.split(|&b| b == b'&').find_map(|pair| {
                let (k, v) = match pair.iter().position(|&b| b == b'=') {
                    Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                    None => (pair, &pair[pair.len()..]),
                };
                (k == &name[..]).then_some(v)
            })
        }
        ParamSource::Header(name) => input
            .head
            .headers
            .iter()
            .find(|(n, _)| n.get(input.data).eq_ignore_ascii_case(name))
            .filter(|_| !unsigned(input, name))
            .map(|(_, v)| v.get(input.data)),
        ParamSource::RequestPath => Some(input.resource_path),
        ParamSource::Claim(name) => {
            let v = input.claims?.get(&**name)?.as_str()?.as_bytes();
            // A claim is the client's data: never a line break or NUL into a header.
            if v.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
                return None;
            }
            Some(v)
        }
        ParamSource::AuthorizerValue(name) => {
            let v = input.authorizer?.value(name)?.as_bytes();
            // The function's data: never a line break or NUL into a header.
            if v.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
                return None;
            }
            Some(v)
        }
        ParamSource::Concat(_) => None,
        ParamSource::Context(var) => Some(match var {
            ContextVar::ClientCertSubjectDn
            | ContextVar::ClientCertIssuerDn
            | ContextVar::ClientCertSerialNumber
            | ContextVar::ClientCertNotBefore
            | ContextVar::ClientCertNotAfter => {
                let c = input.client_cert?;
                let v = match var {
                    ContextVar::ClientCertSubjectDn => &c.subject_dn,
                    ContextVar::ClientCertIssuerDn => &c.issuer_dn,
                    ContextVar::ClientCertSerialNumber => &c.serial_number,
                    ContextVar::ClientCertNotBefore => &c.not_before,
                    _ => &c.not_after,
                };
                // Never a line break or NUL into a header (the DN escaping should prevent it).
                let v = v.as_bytes();
                if v.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
                    return None;
                }
                v
            }
            ContextVar::IdentityUserArn
            | ContextVar::IdentityAccessKey
            | ContextVar::IdentityCaller
            | ContextVar::IdentityAccountId => {
                let c = input.caller?;
                match var {
                    ContextVar::IdentityUserArn | ContextVar::IdentityCaller => {
                        c.user_arn.as_bytes()
                    }
                    ContextVar::IdentityAccessKey => c.access_key.as_bytes(),
                    _ => c.account.as_bytes(),
                }
            }
            ContextVar::RequestId => input.request_id,
            ContextVar::ApiId => input.api.id.as_bytes(),
            ContextVar::Stage => input.stage.name.as_bytes(),
            ContextVar::ResourcePath => input.route.path.as_bytes(),
            ContextVar::HttpMethod => input.head.method.get(input.data),
            ContextVar::SourceIp => ip,
            ContextVar::DomainName => input.host,
            ContextVar::AccountId => input.account_id.as_bytes(),
            ContextVar::Path => input.path,
            ContextVar::Protocol => b"HTTP/1.1",
        }),
    }
}

/// Append `value` to a request-target, percent-encoding what is not allowed there (an
/// existing valid `%XX` escape is kept).
fn push_encoded(out: &mut Vec<u8>, value: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for (i, &b) in value.iter().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=:@/".contains(&b)
            || (b == b'%'
                && value.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && value.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
        if keep {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
    }
}

/// `x-custom-thing` → `X-Custom-Thing`, as API Gateway's edge-optimized endpoints forward.
fn push_capitalized(out: &mut Vec<u8>, name: &[u8]) {
    let mut upper = true;
    for &b in name {
        out.push(if upper {
            b.to_ascii_uppercase()
        } else {
            b.to_ascii_lowercase()
        });
        upper = b == b'-';
    }
}

/// `b=2; a=1` → `a=1; b=2` (CloudFront sorts cookies by name). Stable, allocation-free.
fn push_sorted_cookies(out: &mut Vec<u8>, value: &[u8]) {
    let mut pairs: [&[u8]; MAX_SORTED_COOKIES] = [b""; MAX_SORTED_COOKIES];
    let mut n = 0;
    for pair in value.split(|&b| b == b';') {
        let pair = pair.trim_ascii();
        if pair.is_empty() {
            continue;
        }
        if n == pairs.len() {
            out.extend_from_slice(value);
            return;
        }
        pairs[n] = pair;
        n += 1;
    }
    let name = |p: &[u8]| -> usize { p.iter().position(|&b| b == b'=').unwrap_or(p.len()) };
    for i in 1..n {
        let mut j = i;
        while j > 0 && pairs[j - 1][..name(pairs[j - 1])] > pairs[j][..name(pairs[j])] {
            pairs.swap(j - 1, j);
            j -= 1;
        }
    }
    for (i, pair) in pairs[..n].iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"; ");
        }
        out.extend_from_slice(pair);
    }
}

/// Render an IP without allocating; IPv4-mapped IPv6 addresses render as IPv4.
pub fn format_ip(ip: IpAddr, buf: &mut [u8; 48]) -> &[u8] {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        // The common case, by hand: `core::fmt` costs several hundred instructions here.
        IpAddr::V4(v4) => {
            let mut n = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[n] = b'.';
                    n += 1;
                }
                if octet >= 100 {
                    buf[n] = b'0' + octet / 100;
                    n += 1;
                }
                if octet >= 10 {
                    buf[n] = b'0' + octet / 10 % 10;
                    n += 1;
                }
                buf[n] = b'0' + octet % 10;
                n += 1;
            }
            &buf[..n]
        }
        IpAddr::V6(_) => {
            let mut cursor = std::io::Cursor::new(&mut buf[..]);
            let _ = write!(cursor, "{ip}");
            let n = cursor.position() as usize;
            &buf[..n]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_render_as_std_does() {
        let mut buf = [0u8; 48];
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "100.9.99.255",
            "255.255.255.255",
            "1.10.100.200",
            "::1",
            "2001:db8::8a2e:370:7334",
        ] {
            let addr: IpAddr = ip.parse().unwrap();
            assert_eq!(format_ip(addr, &mut buf), ip.as_bytes());
        }
        let mapped: IpAddr = "::ffff:192.0.2.33".parse().unwrap();
        assert_eq!(format_ip(mapped, &mut buf), b"192.0.2.33");
    }

    #[test]
    fn cookies_sorted_by_name_stably() {
        let mut out = Vec::new();
        push_sorted_cookies(&mut out, b"b=2; a=1;c=3; a=0");
        assert_eq!(out, b"a=1; a=0; b=2; c=3");
    }

    #[test]
    fn header_names_capitalized() {
        let mut out = Vec::new();
        push_capitalized(&mut out, b"x-CUSTOM-thing");
        assert_eq!(out, b"X-Custom-Thing");
    }

    #[test]
    fn values_are_encoded_for_the_target() {
        let mut out = Vec::new();
        push_encoded(&mut out, b"a b%2Fc%zz\"");
        assert_eq!(out, b"a%20b%2Fc%25zz%22");
    }

    #[test]
    fn ips_render_without_mapping_prefix() {
        let mut buf = [0u8; 48];
        assert_eq!(
            format_ip("::ffff:127.0.0.1".parse().unwrap(), &mut buf),
            b"127.0.0.1"
        );
        assert_eq!(format_ip("::1".parse().unwrap(), &mut buf), b"::1");
    }
}

//! The JOSE header of a compact JWS (RFC 7515 §4), read with a hand-written serde visitor so
//! that nothing is collected but `alg` and `kid`, and so that presence (not value) decides
//! for the headers tollgate refuses.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::JwtError;
use super::jwks::Alg;

/// What verification needs from the header. `kid` borrows from the decoded header bytes
/// unless it contained JSON escapes.
#[derive(Debug)]
pub(crate) struct Header<'a> {
    pub(crate) alg: Alg,
    pub(crate) kid: Option<Cow<'a, str>>,
}

/// Parses a decoded header. Order of refusal: not a JSON object, duplicate member, or no
/// string `alg` → `Malformed`; `alg` not one tollgate verifies (`none`, `HS256`, ...) →
/// `UnsupportedAlg`; `jku`/`x5u`/`jwk`/`x5c`/`crit` present → `ForbiddenHeader`.
pub(crate) fn parse(bytes: &[u8]) -> Result<Header<'_>, JwtError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let raw = de
        .deserialize_map(RawVisitor)
        .and_then(|raw| de.end().map(|()| raw))
        .map_err(|_| JwtError::Malformed)?;
    let alg = raw.alg.ok_or(JwtError::Malformed)?;
    let alg = Alg::from_name(&alg).ok_or(JwtError::UnsupportedAlg)?;
    if raw.forbidden {
        return Err(JwtError::ForbiddenHeader);
    }
    let kid = match raw.kid {
        None => None,
        Some(Member::Str(kid)) => Some(kid),
        Some(Member::Other) => return Err(JwtError::Malformed),
    };
    Ok(Header { alg, kid })
}

struct Raw<'a> {
    alg: Option<Cow<'a, str>>,
    kid: Option<Member<'a>>,
    /// `jku`, `x5u`, `jwk`, `x5c` (keys and URLs tollgate never fetches or trusts: RFC 8725
    /// §3.10, RELIABILITY A05) or `crit` (RFC 7515 §4.1.11: tollgate understands no
    /// extension, and an empty `crit` list is itself invalid, so any `crit` is refused).
    forbidden: bool,
}

/// A member value: a string (borrowed when it had no escapes) or anything else.
enum Member<'a> {
    Str(Cow<'a, str>),
    Other,
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<'de>, A::Error> {
        let mut raw = Raw {
            alg: None,
            kid: None,
            forbidden: false,
        };
        let mut seen_alg = false;
        while let Some(key) = map.next_key_seed(MemberSeed)? {
            let Member::Str(name) = key else {
                return Err(de::Error::custom("header member name is not a string"));
            };
            // A duplicate `alg` or `kid` is a parser-differential trap (RFC 7515 §4: reject
            // or use the last; reject).
            match &*name {
                "alg" => {
                    if seen_alg {
                        return Err(de::Error::custom("duplicate alg"));
                    }
                    seen_alg = true;
                    if let Member::Str(alg) = map.next_value_seed(MemberSeed)? {
                        raw.alg = Some(alg);
                    }
                }
                "kid" => {
                    if raw.kid.is_some() {
                        return Err(de::Error::custom("duplicate kid"));
                    }
                    raw.kid = Some(map.next_value_seed(MemberSeed)?);
                }
                "jku" | "x5u" | "jwk" | "x5c" | "crit" => {
                    raw.forbidden = true;
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }
}

struct MemberSeed;

impl<'de> de::DeserializeSeed<'de> for MemberSeed {
    type Value = Member<'de>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Member<'de>, D::Error> {
        de.deserialize_any(MemberVisitor)
    }
}

struct MemberVisitor;

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = Member<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Member<'de>, E> {
        Ok(Member::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Member<'de>, E> {
        Ok(Member::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Member<'de>, E> {
        Ok(Member::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Member<'de>, E> {
        Ok(Member::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Member<'de>, E> {
        Ok(Member::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Member<'de>, E> {
        Ok(Member::Other)
    }

    fn visit_unit<E>(self) -> Result<Member<'de>, E> {
        Ok(Member::Other)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Member<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Member::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Member<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Member::Other)
    }
}

//! JWKS documents (RFC 7517) → a [`KeySet`] of ring verification keys, each bound to the one
//! algorithm (or, for an RSA key without `alg`, the one RSA family) it may verify.
//!
//! Parsing happens off the request path (at load or refresh); it allocates freely and turns
//! every unusable key into a [`JwksWarning`] instead of failing the whole set, so one odd key
//! in an identity provider's JWKS does not lock everyone out.

use std::fmt;

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

use super::b64;

/// Largest JWKS document accepted: API Gateway's limit on a JWKS response (SPEC-NOTES §1.4,
/// "JWKS response ≤150000 bytes"). Bounds the key count too.
pub const MAX_JWKS_BYTES: usize = 150_000;

/// A JWS algorithm tollgate verifies (RFC 7518 §3, RFC 8037). Everything else — `none`,
/// every `HS*`, `ES512`, unknown names — is refused before any key is looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    EdDsa,
}

/// The algorithms one key may verify: one algorithm, or the RSA family for an RSA JWK
/// without `alg` (see [`KeySet`]). Never an HMAC algorithm: HMAC is not supported at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    One(Alg),
    RsaFamily,
}

/// The verification keys of one JWKS, built once, read by every core.
///
/// # Algorithm binding (RFC 8725 §3.1, RELIABILITY A02)
///
/// A key verifies only tokens whose `alg` its [`Binding`] allows; the token's `alg` picks
/// nothing by itself. A key with `alg` is bound to exactly that algorithm (which must suit its
/// `kty`/`crv`, else the key is skipped). Without `alg`, EC P-256 → ES256, P-384 → ES384,
/// Ed25519 → EdDSA, and RSA → the RSA signature family (RS256/384/512, PS256/384/512): all
/// six are RSA signatures with the same public key, identity providers commonly omit `alg`
/// on RSA keys, and no choice among them lets the key act as anything but an RSA public key.
/// In particular an RSA key can never be an HMAC secret (LibJWT CVE-2026-44699), since no
/// HMAC algorithm exists here.
///
/// # Lookup
///
/// By `kid` (exact string; only a comparison, never a path or a query), then the binding must
/// allow the token's `alg`. A token without `kid` is verified only when exactly one key in
/// the set allows its `alg`.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

/// Why a JWKS document as a whole was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwksError {
    /// Longer than [`MAX_JWKS_BYTES`].
    TooLarge,
    /// Not JSON.
    NotJson,
    /// JSON, but not an object with a `keys` array.
    NotJwks,
}

/// One key of the document that was left out of the set, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwksWarning {
    /// Index in the document's `keys` array.
    pub index: usize,
    /// The key's `kid`, when it had a string one.
    pub kid: Option<String>,
    pub reason: SkipReason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    NotAnObject,
    /// `use` is present and not `sig`, or `key_ops` lacks `verify`.
    NotForSignatures,
    /// `kty` missing, not a string, or not RSA/EC/OKP (e.g. `oct`).
    UnsupportedKty,
    /// `crv` missing or not P-256/P-384 (EC) or Ed25519 (OKP).
    UnsupportedCurve,
    /// `alg` names an algorithm tollgate does not verify (`HS256`, `ES512`, `none`, ...).
    UnsupportedAlg,
    /// `alg` does not suit the key type or curve (e.g. `ES256` on an RSA key).
    IncompatibleAlg,
    /// A member is missing, not a string, not base64url, or the wrong length; or the RSA
    /// modulus is outside 2048–8192 bits or the exponent unusable.
    BadKeyMaterial,
    /// `kid` is present but not a string.
    BadKid,
}

#[derive(Debug)]
struct Key {
    kid: Option<Box<str>>,
    binding: Binding,
    material: Material,
}

enum Material {
    Rsa(RsaPublicKeyComponents<Box<[u8]>>),
    /// EC (`0x04 || x || y` with its fixed-signature ECDSA algorithm) or Ed25519 (`x`).
    Unparsed(UnparsedPublicKey<Box<[u8]>>),
}

impl Alg {
    /// The JOSE name, exact and case-sensitive (`"None"`, `"rs256"` are not names).
    pub fn from_name(name: &str) -> Option<Alg> {
        Some(match name {
            "RS256" => Alg::Rs256,
            "RS384" => Alg::Rs384,
            "RS512" => Alg::Rs512,
            "PS256" => Alg::Ps256,
            "PS384" => Alg::Ps384,
            "PS512" => Alg::Ps512,
            "ES256" => Alg::Es256,
            "ES384" => Alg::Es384,
            "EdDSA" => Alg::EdDsa,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::EdDsa => "EdDSA",
        }
    }

    fn rsa_params(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Alg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Alg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Alg::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            Alg::Es256 | Alg::Es384 | Alg::EdDsa => return None,
        })
    }
}

impl Binding {
    pub fn allows(self, alg: Alg) -> bool {
        match self {
            Binding::One(one) => one == alg,
            Binding::RsaFamily => alg.rsa_params().is_some(),
        }
    }
}

impl KeySet {
    /// Parses a JWKS document (at most [`MAX_JWKS_BYTES`]). Unusable keys are skipped and reported; only a document that
    /// is not a JWKS at all is an error. An empty set is valid (every token → `UnknownKey`).
    pub fn from_jwks(json: &[u8]) -> Result<(KeySet, Vec<JwksWarning>), JwksError> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        let doc: Value = serde_json::from_slice(json).map_err(|_| JwksError::NotJson)?;
        let Some(Value::Array(entries)) = doc.get("keys") else {
            return Err(JwksError::NotJwks);
        };
        let mut keys = Vec::with_capacity(entries.len());
        let mut warnings = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
            match parse_key(entry) {
                Ok(key) => keys.push(key),
                Err(reason) => warnings.push(JwksWarning { index, kid, reason }),
            }
        }
        Ok((KeySet { keys }, warnings))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key that may verify a token with this `kid` and `alg`.
    pub(crate) fn find(&self, kid: Option<&str>, alg: Alg) -> Result<KeyRef<'_>, Miss> {
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
                let first = named.next().ok_or(Miss::Unknown)?;
                if first.binding.allows(alg) {
                    return Ok(KeyRef(first));
                }
                named
                    .find(|k| k.binding.allows(alg))
                    .map(KeyRef)
                    .ok_or(Miss::AlgMismatch)
            }
            None => {
                let mut fits = self.keys.iter().filter(|k| k.binding.allows(alg));
                match (fits.next(), fits.next()) {
                    (Some(only), None) => Ok(KeyRef(only)),
                    _ => Err(Miss::Unknown),
                }
            }
        }
    }
}

/// Why [`KeySet::find`] found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Miss {
    /// No key with that `kid`, or (no `kid`) not exactly one key for the `alg`.
    Unknown,
    /// Keys with that `kid` exist, none bound to the token's `alg`.
    AlgMismatch,
}

/// A key found for a token; verifies a signature with the token's (already allowed) `alg`.
pub(crate) struct KeyRef<'a>(&'a Key);

impl KeyRef<'_> {
    pub(crate) fn verify(&self, alg: Alg, message: &[u8], sig: &[u8]) -> bool {
        debug_assert!(self.0.binding.allows(alg));
        match (&self.0.material, alg.rsa_params()) {
            (Material::Rsa(rsa), Some(params)) => rsa.verify(params, message, sig).is_ok(),
            // The binding fixed the curve's algorithm at parse time.
            (Material::Unparsed(key), None) => key.verify(message, sig).is_ok(),
            _ => false,
        }
    }
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Material::Rsa(rsa) => write!(f, "Rsa({} byte modulus)", rsa.n.len()),
            Material::Unparsed(key) => write!(f, "{key:?}"),
        }
    }
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JwksError::TooLarge => "the JWKS is larger than 150000 bytes",
            JwksError::NotJson => "the JWKS is not JSON",
            JwksError::NotJwks => "the JWKS is not an object with a \"keys\" array",
        })
    }
}

impl std::error::Error for JwksError {}

impl fmt::Display for JwksWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self.reason {
            SkipReason::NotAnObject => "is not an object",
            SkipReason::NotForSignatures => "is not a signature key (use/key_ops)",
            SkipReason::UnsupportedKty => "has an unsupported kty (RSA, EC, OKP only)",
            SkipReason::UnsupportedCurve => "has an unsupported crv (P-256, P-384, Ed25519 only)",
            SkipReason::UnsupportedAlg => "has an unsupported alg",
            SkipReason::IncompatibleAlg => "has an alg that does not suit its key type",
            SkipReason::BadKeyMaterial => "has missing or invalid key material",
            SkipReason::BadKid => "has a kid that is not a string",
        };
        write!(f, "JWKS key {}", self.index)?;
        if let Some(kid) = &self.kid {
            write!(f, " (kid {kid:?})")?;
        }
        write!(f, " skipped: it {reason}")
    }
}

fn parse_key(entry: &Value) -> Result<Key, SkipReason> {
    let Value::Object(jwk) = entry else {
        return Err(SkipReason::NotAnObject);
    };
    if !for_signatures(jwk) {
        return Err(SkipReason::NotForSignatures);
    }
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(Box::from(kid.as_str())),
        Some(_) => return Err(SkipReason::BadKid),
    };
    let alg = match jwk.get("alg") {
        None => None,
        Some(Value::String(name)) => Some(Alg::from_name(name).ok_or(SkipReason::UnsupportedAlg)?),
        Some(_) => return Err(SkipReason::UnsupportedAlg),
    };
    let (natural, material) = match jwk.get("kty").and_then(Value::as_str) {
        Some("RSA") => (Binding::RsaFamily, rsa_material(jwk)?),
        Some("EC") => ec_material(jwk)?,
        Some("OKP") => okp_material(jwk)?,
        _ => return Err(SkipReason::UnsupportedKty),
    };
    let binding = match alg {
        None => natural,
        Some(alg) if natural.allows(alg) => Binding::One(alg),
        Some(_) => return Err(SkipReason::IncompatibleAlg),
    };
    Ok(Key {
        kid,
        binding,
        material,
    })
}

/// `use` absent or `sig`; `key_ops` absent or containing `verify` (RFC 7517 §4.2–4.3).
fn for_signatures(jwk: &Map<String, Value>) -> bool {
    let use_ok = match jwk.get("use") {
        None => true,
        Some(v) => v.as_str() == Some("sig"),
    };
    let ops_ok = match jwk.get("key_ops") {
        None => true,
        Some(Value::Array(ops)) => ops.iter().any(|op| op.as_str() == Some("verify")),
        Some(_) => false,
    };
    use_ok && ops_ok
}

fn member(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, SkipReason> {
    jwk.get(name)
        .and_then(Value::as_str)
        .and_then(|s| b64::decode(s.as_bytes()))
        .ok_or(SkipReason::BadKeyMaterial)
}

fn rsa_material(jwk: &Map<String, Value>) -> Result<Material, SkipReason> {
    let n = member(jwk, "n")?;
    let e = member(jwk, "e")?;
    // RFC 7518 §6.3.1 forbids leading zero octets; some producers add one anyway, and ring
    // wants the minimal encoding.
    let n = strip_leading_zeros(&n);
    let e = strip_leading_zeros(&e);
    let n_bits = match n.first() {
        Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    };
    let e_ok = !e.is_empty() && e.len() <= 4 && e.last().is_some_and(|b| b & 1 == 1) && e != [1];
    if !(2048..=8192).contains(&n_bits) || !e_ok {
        return Err(SkipReason::BadKeyMaterial);
    }
    Ok(Material::Rsa(RsaPublicKeyComponents {
        n: n.into(),
        e: e.into(),
    }))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn ec_material(jwk: &Map<String, Value>) -> Result<(Binding, Material), SkipReason> {
    let (alg, algorithm, len): (_, &'static signature::EcdsaVerificationAlgorithm, _) =
        match jwk.get("crv").and_then(Value::as_str) {
            Some("P-256") => (Alg::Es256, &signature::ECDSA_P256_SHA256_FIXED, 32),
            Some("P-384") => (Alg::Es384, &signature::ECDSA_P384_SHA384_FIXED, 48),
            _ => return Err(SkipReason::UnsupportedCurve),
        };
    let x = member(jwk, "x")?;
    let y = member(jwk, "y")?;
    if x.len() != len || y.len() != len {
        return Err(SkipReason::BadKeyMaterial);
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    let key = UnparsedPublicKey::new(algorithm, point.into_boxed_slice());
    Ok((Binding::One(alg), Material::Unparsed(key)))
}

fn okp_material(jwk: &Map<String, Value>) -> Result<(Binding, Material), SkipReason> {
    if jwk.get("crv").and_then(Value::as_str) != Some("Ed25519") {
        return Err(SkipReason::UnsupportedCurve);
    }
    let x = member(jwk, "x")?;
    if x.len() != 32 {
        return Err(SkipReason::BadKeyMaterial);
    }
    let key = UnparsedPublicKey::new(&signature::ED25519, x.into_boxed_slice());
    Ok((Binding::One(Alg::EdDsa), Material::Unparsed(key)))
}

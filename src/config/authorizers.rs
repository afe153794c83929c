//! JWT authorizers across the gateway: the gateway file's top-level `authorizers` (tollgate's
//! own, since a self-hosted gateway may not reach the issuer: where an authorizer's keys come
//! from, and its clock leeway) validated against the APIs' security schemes, then compiled
//! into `Snapshot::authorizers` and each route's `RouteAuth`.
//!
//! ```json
//! "authorizers": [
//!   {"apiId": "pets", "name": "myJwt", "jwksFile": "keys/jwks.json", "leewaySeconds": 5},
//!   {"apiId": "shop", "name": "cognito", "jwksUri": "http://127.0.0.1:9000/jwks.json"}
//! ]
//! ```
//!
//! Without an entry (or with neither `jwksFile` nor `jwksUri`), keys are discovered as API
//! Gateway does: `{issuer}/.well-known/openid-configuration` (or the scheme's
//! `openIdConnectUrl`) → `jwks_uri`.

use std::path::Path;
use std::sync::Arc;

use super::cache::Fnv;
use super::gateway::{ApiEntry, Declared};
use super::reader::{Errors, Node};
use super::security::DISCOVERY_SUFFIX;
use super::{Authorizer, AuthorizerIdx, KeySource, Loader, RouteAuth};
use crate::dataplane::auth::jwt::KeySet;

/// One validated `authorizers[]` entry.
pub(crate) struct Override {
    pub api: usize,
    /// Index into the API's `ApiSpec::authorizers`.
    pub scheme: usize,
    pub keys: Option<KeySource>,
    pub leeway_secs: u64,
}

/// Longest accepted `leewaySeconds` (an hour: more would make `exp` meaningless).
const MAX_LEEWAY_SECS: u64 = 3600;

pub(crate) fn validate_overrides(
    node: &Node<'_>,
    declared: &Declared,
    base_dir: &Path,
    loader: &dyn Loader,
    errors: &mut Errors,
) -> Vec<Override> {
    let mut out: Vec<Override> = Vec::new();
    for item in node.arr(errors).unwrap_or_default() {
        let Some(mut obj) = item.obj(errors) else {
            continue;
        };
        let api_node = obj.req("apiId", errors);
        let name_node = obj.req("name", errors);
        let file = obj.opt_non_null("jwksFile");
        let uri = obj.opt_non_null("jwksUri");
        let leeway = obj
            .opt_non_null("leewaySeconds")
            .and_then(|n| n.u64_in(errors, 0, MAX_LEEWAY_SECS))
            .unwrap_or(0);
        obj.finish(errors);
        let api = api_node.as_ref().and_then(|n| {
            let id = n.str(errors)?;
            let found = declared.apis.iter().position(|(i, _, _)| i == id);
            if found.is_none() {
                n.err(errors, format!("no API with id `{id}` in `apis`"));
            }
            found
        });
        let scheme = match (api, name_node.as_ref()) {
            (Some(api), Some(n)) => n.str(errors).and_then(|name| {
                // An API whose definition failed to validate has its errors already.
                let entry = declared.apis[api].2.as_ref()?;
                let found = entry.def.authorizers.iter().position(|a| a.name == name);
                if found.is_none() {
                    let known: Vec<&str> =
                        entry.def.authorizers.iter().map(|a| a.name.as_str()).collect();
                    n.err(
                        errors,
                        format!(
                            "API `{}` has no JWT authorizer `{name}` (its security schemes define: {})",
                            entry.id,
                            if known.is_empty() { "none".to_string() } else { known.join(", ") }
                        ),
                    );
                }
                found
            }),
            _ => None,
        };
        let keys = match (file, uri) {
            (Some(f), Some(_)) => {
                f.err(errors, "give `jwksFile` or `jwksUri`, not both");
                None
            }
            (Some(f), None) => jwks_file(&f, base_dir, loader, errors),
            (None, Some(u)) => u.str(errors).and_then(|s| {
                if s.starts_with("http://") || s.starts_with("https://") {
                    Some(KeySource::Uri(s.to_string()))
                } else {
                    u.err(errors, format!("`jwksUri` `{s}` is not an http(s) URL"));
                    None
                }
            }),
            (None, None) => None,
        };
        if let (Some(api), Some(scheme)) = (api, scheme) {
            if out.iter().any(|o| o.api == api && o.scheme == scheme) {
                item.err(errors, "duplicate entry for this API and authorizer");
            }
            out.push(Override {
                api,
                scheme,
                keys,
                leeway_secs: leeway,
            });
        }
    }
    out
}

fn jwks_file(
    n: &Node<'_>,
    base_dir: &Path,
    loader: &dyn Loader,
    errors: &mut Errors,
) -> Option<KeySource> {
    let rel = n.str(errors)?;
    let path = base_dir.join(rel);
    let bytes = match loader.read(&path) {
        Ok(b) => b,
        Err(e) => {
            n.err(errors, format!("cannot read `{}`: {e}", path.display()));
            return None;
        }
    };
    match KeySet::from_jwks(&bytes) {
        Ok((keys, warnings)) => {
            if keys.is_empty() {
                let why: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
                n.err(
                    errors,
                    format!(
                        "`{}` has no usable key{}",
                        path.display(),
                        if why.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", why.join("; "))
                        }
                    ),
                );
                return None;
            }
            Some(KeySource::File {
                path,
                keys: Arc::new(keys),
            })
        }
        Err(e) => {
            n.err(errors, format!("`{}` is not a JWKS: {e}", path.display()));
            None
        }
    }
}

/// `Snapshot::authorizers` (every API's JWT schemes, in API order) and, per API, the index of
/// its first one.
pub(crate) fn compile_authorizers(
    apis: &[ApiEntry],
    overrides: &[Override],
) -> (Vec<Authorizer>, Vec<u32>) {
    let mut table = Vec::new();
    let mut first = Vec::with_capacity(apis.len());
    for (a, entry) in apis.iter().enumerate() {
        first.push(table.len() as u32);
        for (i, scheme) in entry.def.authorizers.iter().enumerate() {
            let o = overrides.iter().find(|o| o.api == a && o.scheme == i);
            let leeway_secs = o.map_or(0, |o| o.leeway_secs);
            let keys = o.and_then(|o| o.keys.clone()).unwrap_or_else(|| {
                KeySource::Discovery(scheme.discovery_url.clone().unwrap_or_else(|| {
                    format!("{}{DISCOVERY_SUFFIX}", scheme.issuer.trim_end_matches('/'))
                }))
            });
            let mut h = Fnv::new();
            h.str(&scheme.issuer);
            match &scheme.audiences {
                None => h.u64(0),
                Some(list) => {
                    h.u64(list.len() as u64 + 1);
                    for aud in list {
                        h.str(aud);
                    }
                }
            }
            h.u64(leeway_secs);
            table.push(Authorizer {
                identity: format!("jwt:{}/{}", entry.id, scheme.name).into(),
                fingerprint: h.finish(),
                issuer: scheme.issuer.clone(),
                audiences: scheme.audiences.clone(),
                leeway_secs,
                header: scheme.header.as_bytes().into(),
                keys,
            });
        }
    }
    (table, first)
}

/// A route's requirement, with the API's authorizers starting at `first`.
pub(crate) fn route_auth(first: u32, spec: &Option<(usize, Vec<String>)>) -> Option<RouteAuth> {
    spec.as_ref().map(|(i, scopes)| RouteAuth {
        authorizer: AuthorizerIdx(first + *i as u32),
        scopes: scopes.iter().map(|s| Box::from(s.as_str())).collect(),
    })
}

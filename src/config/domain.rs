//! `domainNames[]`: exact or wildcard custom domain names and their base path mappings.

use std::path::Path;

use super::gateway::{Declared, api_index, stage_index};
use super::reader::{Errors, Node};
use super::stage::StageEntry;
use super::tls::{DomainTlsSpec, domain_tls};

pub(crate) struct DomainEntry {
    /// Lower-case; `*.example.com` for a wildcard.
    pub name: String,
    pub mappings: Vec<MappingEntry>,
    /// Its certificate, security policy and mutual TLS (served by HTTPS listeners).
    pub tls: Option<DomainTlsSpec>,
}

pub(crate) struct MappingEntry {
    /// Segments joined by `/`; empty for the root.
    pub base_path: String,
    pub api: usize,
    pub stage: usize,
}

pub(crate) fn domain(
    item: &Node<'_>,
    declared: &Declared,
    stages: &[StageEntry],
    base_dir: &Path,
    errors: &mut Errors,
) -> Option<DomainEntry> {
    let mut obj = item.obj(errors)?;
    let name_node = obj.req("domainName", errors);
    let mappings_node = obj.opt("basePathMappings");
    let tls = domain_tls(&mut obj, base_dir, errors);
    obj.finish(errors);
    let name = name_node.as_ref().and_then(|n| {
        let s = n.str(errors)?.trim_end_matches('.').to_ascii_lowercase();
        let host = s.strip_prefix("*.").unwrap_or(&s);
        let ok = !host.is_empty()
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !ok {
            n.err(
                errors,
                format!("`{s}` is not a domain name or a wildcard like `*.example.com`"),
            );
            return None;
        }
        Some(s)
    });
    let mut mappings: Vec<MappingEntry> = Vec::new();
    for m in mappings_node
        .and_then(|n| n.arr(errors))
        .unwrap_or_default()
    {
        let Some(mut mo) = m.obj(errors) else {
            continue;
        };
        let base = mo.alias("basePath", "apiMappingKey", errors);
        let api_node = mo.alias("apiId", "restApiId", errors);
        let stage_node = mo.req("stage", errors);
        mo.finish(errors);
        if api_node.is_none() {
            m.err(errors, "missing required property `apiId` (or `restApiId`)");
        }
        let base_path = match base.filter(|b| !b.v.is_null()) {
            None => Some(String::new()),
            Some(b) => b.str(errors).and_then(|s| {
                let s = s.trim_matches('/');
                let s = if s == "(none)" { "" } else { s };
                let ok = s.is_empty()
                    || s.split('/').all(|seg| {
                        !seg.is_empty()
                            && seg
                                .bytes()
                                .all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c))
                    });
                if !ok {
                    b.err(
                        errors,
                        format!(
                            "base path `{s}` must be segments of `A-Za-z0-9-._~` separated by `/`"
                        ),
                    );
                }
                ok.then(|| s.to_string())
            }),
        };
        let (Some(api_node), Some(stage_node), Some(base_path)) = (api_node, stage_node, base_path)
        else {
            continue;
        };
        let Some(api) = api_node
            .str(errors)
            .and_then(|id| api_index(declared, id, &api_node.loc(), errors))
        else {
            continue;
        };
        let Some(stage) = stage_node
            .str(errors)
            .and_then(|s| stage_index(declared, stages, api, s, &stage_node.loc(), errors))
        else {
            continue;
        };
        if mappings.iter().any(|o| o.base_path == base_path) {
            let shown = if base_path.is_empty() {
                "(none)"
            } else {
                &base_path
            };
            m.err(errors, format!("duplicate base path `{shown}`"));
            continue;
        }
        mappings.push(MappingEntry {
            base_path,
            api,
            stage,
        });
    }
    Some(DomainEntry {
        name: name?,
        mappings,
        tls,
    })
}

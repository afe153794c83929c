//! Segment-trie route matching (built by compile, used through `Router::find`).
//!
//! One node per resource: literal children in a hash map, at most one `{param}` child and one
//! `{greedy+}` child, and a method table (+ ANY). Matching walks the request path segment by
//! segment (empty segments skipped), trying literal > `{param}` > `{greedy+}` and backtracking
//! on the path. REST stops at the first resource found and then picks explicit method > ANY;
//! HTTP APIs look for a full route+method match, then the deepest greedy route with a matching
//! method, then `$default` (SPEC-NOTES §4).
//!
//! Architecture Invariant: `find` does not allocate; params are spans into the given path.

use hashbrown::HashMap;

use super::route_path::{Segment, parse_route_key};
use super::{MAX_PATH_PARAMS, Params, Protocol, RouteIdx, RouteMatch, Router};

pub(crate) struct RouterInner {
    http: bool,
    nodes: Vec<TrieNode>,
    default_route: Option<RouteIdx>,
}

#[derive(Default)]
struct TrieNode {
    literals: HashMap<Box<[u8]>, u32>,
    param: Option<u32>,
    greedy: Option<u32>,
    methods: Vec<(Box<[u8]>, RouteIdx)>,
    any: Option<RouteIdx>,
    /// This node's path part as written, for messages (`{proxy+}`, `pets`).
    part: String,
}

impl TrieNode {
    #[inline]
    fn method(&self, method: &[u8]) -> Option<RouteIdx> {
        for (m, r) in &self.methods {
            if &**m == method {
                return Some(*r);
            }
        }
        self.any
    }
}

/// Builds a `Router`; reports API Gateway's resource-tree errors.
pub(crate) struct RouterBuilder {
    inner: RouterInner,
}

/// A new route's method collides with an existing route on the same resource.
#[derive(Debug)]
pub(crate) struct Duplicate(pub RouteIdx);

impl RouterBuilder {
    pub fn new(protocol: Protocol) -> RouterBuilder {
        let root = TrieNode {
            part: String::new(),
            ..TrieNode::default()
        };
        RouterBuilder {
            inner: RouterInner {
                http: protocol == Protocol::Http,
                nodes: vec![root],
                default_route: None,
            },
        }
    }

    /// The node for a resource path, created with its ancestors as needed.
    pub fn resource(&mut self, segments: &[Segment]) -> Result<u32, String> {
        let http = self.inner.http;
        let mut at = 0u32;
        for seg in segments {
            let nodes = &mut self.inner.nodes;
            let node = &nodes[at as usize];
            if node.part.ends_with("+}") {
                return Err(format!(
                    "Cannot create a child of a resource with a greedy path variable: {}",
                    node.part
                ));
            }
            let (existing, part) = match seg {
                Segment::Literal(l) => (node.literals.get(l.as_bytes()).copied(), l.clone()),
                Segment::Param(p) => (node.param, format!("{{{p}}}")),
                Segment::Greedy(g) => (node.greedy, format!("{{{g}+}}")),
            };
            if let Some(child) = existing
                && (http || nodes[child as usize].part == part)
            {
                at = child;
                continue;
            }
            // A variable child: REST allows one per node; HTTP APIs one `{param}` and one
            // `{greedy+}` (route params are positional, so their names may differ).
            if !matches!(seg, Segment::Literal(_)) {
                let sibling = if http {
                    existing
                } else {
                    node.param.or(node.greedy)
                };
                if let Some(s) = sibling {
                    let name = &nodes[s as usize].part;
                    return Err(format!(
                        "A sibling ({name}) of this resource already has a variable path part -- only one is allowed"
                    ));
                }
            }
            let child = nodes.len() as u32;
            nodes.push(TrieNode {
                part: part.clone(),
                ..TrieNode::default()
            });
            let node = &mut nodes[at as usize];
            match seg {
                Segment::Literal(l) => {
                    node.literals.insert(l.as_bytes().into(), child);
                }
                Segment::Param(_) => node.param = Some(child),
                Segment::Greedy(_) => node.greedy = Some(child),
            }
            at = child;
        }
        Ok(at)
    }

    /// Attach a route to a resource; `None` method is ANY.
    pub fn method(
        &mut self,
        node: u32,
        method: Option<&str>,
        route: RouteIdx,
    ) -> Result<(), Duplicate> {
        let node = &mut self.inner.nodes[node as usize];
        match method {
            None => match node.any {
                Some(r) => return Err(Duplicate(r)),
                None => node.any = Some(route),
            },
            Some(m) => match node.methods.iter().find(|(x, _)| &**x == m.as_bytes()) {
                Some((_, r)) => return Err(Duplicate(*r)),
                None => node.methods.push((m.as_bytes().into(), route)),
            },
        }
        Ok(())
    }

    pub fn default_route(&mut self, route: RouteIdx) -> Result<(), Duplicate> {
        match self.inner.default_route {
            Some(r) => Err(Duplicate(r)),
            None => {
                self.inner.default_route = Some(route);
                Ok(())
            }
        }
    }

    pub fn build(self) -> Router {
        Router { inner: self.inner }
    }
}

/// The next non-empty segment at or after `pos`: `(start, end)`.
#[inline]
fn next_segment(path: &[u8], mut pos: usize) -> Option<(usize, usize)> {
    while pos < path.len() && path[pos] == b'/' {
        pos += 1;
    }
    if pos >= path.len() {
        return None;
    }
    let end = path[pos..]
        .iter()
        .position(|&b| b == b'/')
        .map_or(path.len(), |i| pos + i);
    Some((pos, end))
}

#[inline]
fn push(params: &mut Params, start: usize, end: usize) -> bool {
    if params.len >= MAX_PATH_PARAMS {
        return false;
    }
    params.spans[params.len] = (start as u32, end as u32);
    params.len += 1;
    true
}

/// The best greedy candidate seen by the HTTP API walk: where its capture starts, the route,
/// and the params at that point.
struct Greedy {
    start: usize,
    route: RouteIdx,
    params: Params,
}

impl RouterInner {
    pub(crate) fn find(&self, method: &[u8], path: &[u8], params: &mut Params) -> RouteMatch {
        params.len = 0;
        if self.http {
            let mut best = None;
            if let Some(r) = self.walk_http(0, method, path, 0, params, &mut best) {
                return RouteMatch::Found(r);
            }
            if let Some(g) = best {
                *params = g.params;
                return RouteMatch::Found(g.route);
            }
            params.len = 0;
            return self
                .default_route
                .map_or(RouteMatch::NotFound, RouteMatch::Found);
        }
        match self
            .walk_rest(0, path, 0, params)
            .and_then(|n| self.nodes[n as usize].method(method))
        {
            Some(r) => RouteMatch::Found(r),
            None => {
                params.len = 0;
                RouteMatch::NotFound
            }
        }
    }

    fn walk_rest(&self, at: u32, path: &[u8], pos: usize, params: &mut Params) -> Option<u32> {
        let node = &self.nodes[at as usize];
        let Some((start, end)) = next_segment(path, pos) else {
            return Some(at);
        };
        if let Some(&child) = node.literals.get(&path[start..end])
            && let Some(found) = self.walk_rest(child, path, end, params)
        {
            return Some(found);
        }
        let saved = params.len;
        if let Some(child) = node.param
            && push(params, start, end)
        {
            if let Some(found) = self.walk_rest(child, path, end, params) {
                return Some(found);
            }
            params.len = saved;
        }
        if let Some(child) = node.greedy
            && push(params, start, path.len())
        {
            return Some(child);
        }
        None
    }

    fn walk_http(
        &self,
        at: u32,
        method: &[u8],
        path: &[u8],
        pos: usize,
        params: &mut Params,
        best: &mut Option<Greedy>,
    ) -> Option<RouteIdx> {
        let node = &self.nodes[at as usize];
        let Some((start, end)) = next_segment(path, pos) else {
            return node.method(method);
        };
        if let Some(&child) = node.literals.get(&path[start..end])
            && let Some(found) = self.walk_http(child, method, path, end, params, best)
        {
            return Some(found);
        }
        let saved = params.len;
        if let Some(child) = node.param
            && push(params, start, end)
        {
            if let Some(found) = self.walk_http(child, method, path, end, params, best) {
                return Some(found);
            }
            params.len = saved;
        }
        if let Some(child) = node.greedy
            && let Some(route) = self.nodes[child as usize].method(method)
            && best.as_ref().is_none_or(|b| start > b.start)
        {
            let mut captured = *params;
            if push(&mut captured, start, path.len()) {
                *best = Some(Greedy {
                    start,
                    route,
                    params: captured,
                });
            }
        }
        None
    }
}

impl Router {
    /// Build a router from route keys (`GET /pets/{id}`, `ANY /{proxy+}`, `$default`); route
    /// `i` is `RouteIdx(i)`. For tests and benchmarks.
    pub fn from_route_keys(protocol: Protocol, keys: &[&str]) -> Result<Router, String> {
        let mut b = RouterBuilder::new(protocol);
        for (i, key) in keys.iter().enumerate() {
            let route = RouteIdx(i as u32);
            let dup = |d: Duplicate| format!("route `{key}` duplicates route {}", d.0.0);
            match parse_route_key(key)? {
                (_, None) if protocol == Protocol::Rest => {
                    return Err("`$default` is an HTTP API route".into());
                }
                (_, None) => b.default_route(route).map_err(dup)?,
                (method, Some(segments)) => {
                    let node = b.resource(&segments)?;
                    b.method(node, method.as_deref(), route).map_err(dup)?;
                }
            }
        }
        Ok(b.build())
    }
}

#[cfg(test)]
mod tests;
